//! Pooling and spatial means.

use ghostnet_runtime as rt;
use rt::gemm::View;
use rt::pool::{AvgPool, GlobalAvg};

use super::emit::Emit;
use super::{How, Kind, Layout};
use crate::ir::{Graph, Node, Op};

pub(super) fn classify(graph: &Graph, n: &Node) -> Result<How, String> {
    match &n.op {
        Op::GlobalAveragePool => Ok(How::GlobalAvg),
        Op::AveragePool(p) if p.pads == [0; 4] => Ok(How::AvgPool),
        Op::ReduceMean { axes, .. } if axes == &[2, 3] && graph.shape(n.inputs[0]).len() == 4 => Ok(How::GlobalAvg),
        op => Err(format!("{} is not supported by the Rust back end", op.name())),
    }
}

pub(super) fn emit(e: &mut Emit<'_>, n: &Node, how: How) {
    let g = e.graph;
    let lay = |t| Layout::of(g, t).expect("classified");
    let view = |e: &Emit<'_>, t| View { off: e.at(t), ld: lay(t).channels };
    let name = n.name.as_str();
    match (how, &n.op) {
        (How::AvgPool, Op::AveragePool(pool)) => {
            let (x, y) = (n.inputs[0], n.output);
            let (xl, yl) = (lay(x), lay(y));
            let a = AvgPool {
                h: xl.h,
                w: xl.w,
                c: xl.channels,
                oh: yl.h,
                ow: yl.w,
                kh: pool.kernel[0],
                kw: pool.kernel[1],
                sh: pool.stride[0],
                sw: pool.stride[1],
                x: view(e, x),
                y: view(e, y),
            };
            e.push(name, Kind::AvgPool(a));
        }
        (How::GlobalAvg, _) => {
            let x = n.inputs[0];
            let l = lay(x);
            let gap = GlobalAvg { pixels: l.hw, c: l.channels, x: view(e, x), y: e.at(n.output) };
            e.push(name, Kind::GlobalAvg(gap));
        }
        (how, op) => unreachable!("classified {how:?} for {}", op.name()),
    }
}
