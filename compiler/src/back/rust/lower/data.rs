//! Ops that move data without arithmetic: concatenation, slicing, reshapes.

use ghostnet_runtime as rt;
use rt::isa::Act as RtAct;
use rt::ops::Mat;

use super::emit::Emit;
use super::{How, Kind, Layout};
use crate::ir::{Graph, Node, Op};

pub(super) fn classify(graph: &Graph, n: &Node) -> Result<How, String> {
    match &n.op {
        Op::Concat { axis: 1 } => Ok(How::Concat),
        Op::Slice { axes } if axes.iter().all(|a| a.axis == 1) => Ok(How::Slice),
        Op::Identity => Ok(How::Alias),
        Op::Reshape { .. } => {
            let (i, o) = (graph.shape(n.inputs[0]), graph.shape(n.output));
            let flat = |s: &Vec<usize>| s.len() == 2 || (s.len() == 4 && (s[2] * s[3] == 1 || s[1] == 1));
            if i[0] == o[0] && flat(i) && flat(o) {
                Ok(How::Alias)
            } else {
                Err("only reshapes that keep the element order in NHWC (e.g. flattening 1x1 maps) are supported".into())
            }
        }
        op => Err(format!("{} is not supported by the Rust back end", op.name())),
    }
}

pub(super) fn emit(e: &mut Emit<'_>, n: &Node, how: How) {
    let g = e.graph;
    let lay = |t| Layout::of(g, t).expect("classified");
    let name = n.name.as_str();
    match (how, &n.op) {
        (How::Alias, _) => {}
        (How::Concat, _) => {
            let y = n.output;
            let yl = lay(y);
            let mut at = 0;
            for &t in &n.inputs {
                let tl = lay(t);
                let x = Mat { off: e.at(t), rs: tl.channels, cs: 1 };
                let ym = Mat { off: e.at(y) + at, rs: yl.channels, cs: 1 };
                e.push(name, Kind::Unary { x, y: ym, rows: yl.hw, cols: tl.channels, act: RtAct::None });
                at += tl.channels;
            }
        }
        (How::Slice, Op::Slice { axes }) => {
            let (x, y) = (n.inputs[0], n.output);
            let (xl, yl) = (lay(x), lay(y));
            let start = axes.first().map_or(0, |a| a.start);
            let xm = Mat { off: e.at(x) + start, rs: xl.channels, cs: 1 };
            let ym = Mat { off: e.at(y), rs: yl.channels, cs: 1 };
            e.push(name, Kind::Unary { x: xm, y: ym, rows: yl.hw, cols: yl.channels, act: RtAct::None });
        }
        (how, op) => unreachable!("classified {how:?} for {}", op.name()),
    }
}
