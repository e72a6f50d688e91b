//! Element-wise ops left standing by the fusion passes: binary arithmetic and activations.

use ghostnet_runtime as rt;
use rt::isa::Act as RtAct;
use rt::ops::{BinOp, Mat};

use super::emit::Emit;
use super::{act, How, Kind, Layout};
use crate::ir::{Graph, Node, Op};

pub(super) fn classify(graph: &Graph, n: &Node) -> Result<How, String> {
    match &n.op {
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            if n.inputs.iter().any(|&t| graph.tensor(t).is_const()) {
                return Err("a constant operand is not supported by the Rust back end".into());
            }
            let (a, b, o) = (graph.shape(n.inputs[0]), graph.shape(n.inputs[1]), graph.shape(n.output));
            let fits = |s: &Vec<usize>| s == o || (s.len() == 4 && o.len() == 4 && s[..2] == o[..2] && s[2] * s[3] == 1);
            if a != o || !fits(b) {
                return Err("only same-shape operands or a per-channel gate on the second operand are supported".into());
            }
            Ok(How::Binary(match n.op {
                Op::Add => BinOp::Add,
                Op::Sub => BinOp::Sub,
                Op::Mul => BinOp::Mul,
                _ => BinOp::Div,
            }))
        }
        Op::Activation(a) => Ok(How::Unary(act(Some(*a)))),
        op => Err(format!("{} is not supported by the Rust back end", op.name())),
    }
}

pub(super) fn emit(e: &mut Emit<'_>, n: &Node, how: How) {
    let g = e.graph;
    let lay = |t| Layout::of(g, t).expect("classified");
    let name = n.name.as_str();
    match how {
        How::Binary(op) => {
            let (a, b, y) = (n.inputs[0], n.inputs[1], n.output);
            let l = lay(y);
            let bl = lay(b);
            let mat = |e: &Emit<'_>, t, l: Layout| Mat { off: e.at(t), rs: if l.hw == 1 { 0 } else { l.channels }, cs: 1 };
            let (am, bm, ym) = (mat(e, a, l), mat(e, b, bl), mat(e, y, l));
            let ym = Mat { rs: l.channels, ..ym };
            let am = Mat { rs: l.channels, ..am };
            e.push(name, Kind::Binary { op, a: am, b: bm, y: ym, rows: l.hw, cols: l.channels, act: RtAct::None });
        }
        How::Unary(a) => {
            let (x, y) = (n.inputs[0], n.output);
            let l = lay(y);
            let m = |e: &Emit<'_>, t| Mat { off: e.at(t), rs: l.channels, cs: 1 };
            let (xm, ym) = (m(e, x), m(e, y));
            e.push(name, Kind::Unary { x: xm, y: ym, rows: l.hw, cols: l.channels, act: a });
        }
        how => unreachable!("classified {how:?} for {}", n.op.name()),
    }
}
