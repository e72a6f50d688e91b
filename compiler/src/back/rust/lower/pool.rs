//! Pooling and reductions: global average pooling (and a spatial mean) and unpadded
//! average pooling on the fused kernels; max pooling, padded or dilated windows, ceil
//! mode, global max pooling and means over any axes on the general kernels.

use ghostnet_runtime as rt;
use rt::gemm::View;
use rt::nd::Window;
use rt::pool::{AvgPool, GlobalAvg};

use super::emit::Emit;
use super::{How, Kind, Layout, Operand};
use crate::ir::{Graph, Node, Op};

pub(super) fn classify(graph: &Graph, n: &Node) -> How {
    if graph.tensor(n.inputs[0]).is_const() {
        return How::General;
    }
    match &n.op {
        Op::GlobalAveragePool => How::GlobalAvg,
        Op::AveragePool(p) if p.pads == [0; 4] && p.dilation == [1, 1] && !p.ceil_mode => How::AvgPool,
        Op::ReduceMean { axes, .. } if axes == &[2, 3] && graph.shape(n.inputs[0]).len() == 4 => How::GlobalAvg,
        _ => How::General,
    }
}

pub(super) fn emit(e: &mut Emit<'_>, n: &Node, how: How) {
    let g = e.graph;
    let lay = |t| Layout::of(g, t);
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
        (How::General, Op::AveragePool(p) | Op::MaxPool(p)) => {
            let (x, y) = (n.inputs[0], n.output);
            let (xd, yd) = (e.dims(x), e.dims(y));
            let window = Window {
                max: matches!(n.op, Op::MaxPool(_)),
                n: xd[0],
                c: xd[1],
                h: xd[2],
                w: xd[3],
                oh: yd[2],
                ow: yd[3],
                kh: p.kernel[0],
                kw: p.kernel[1],
                sh: p.stride[0],
                sw: p.stride[1],
                dh: p.dilation[0],
                dw: p.dilation[1],
                pads: p.pads,
                count_include_pad: p.count_include_pad,
            };
            let (xv, yv) = (e.view(x), e.view(y));
            e.push(name, Kind::Pool { window, x: xv, y: yv });
        }
        (How::General, Op::GlobalAveragePool | Op::GlobalMaxPool) => reduce(e, n, &[2, 3], matches!(n.op, Op::GlobalMaxPool)),
        (How::General, Op::ReduceMean { axes, .. }) => reduce(e, n, axes, false),
        (how, op) => unreachable!("classified {how:?} for {}", op.name()),
    }
}

/// The mean (or max) over `axes` of the input, kept or not in the output's shape.
fn reduce(e: &mut Emit<'_>, n: &Node, axes: &[usize], max: bool) {
    let (x, y) = (n.inputs[0], n.output);
    let xd = e.dims(x);
    let (xv, yv) = (e.view(x), e.view(y));
    let kept: Vec<usize> = (0..xd.len()).filter(|d| !axes.contains(d)).collect();
    let dims: Vec<usize> = kept.iter().map(|&d| xd[d]).collect();
    let inner: Vec<usize> = axes.iter().map(|&d| xd[d]).collect();
    let mut x_strides: Vec<isize> = kept.iter().map(|&d| xv.strides[d]).collect();
    x_strides.extend(axes.iter().map(|&d| xv.strides[d]));
    // With keepdims the output has the reduced axes as 1s: its strides on the kept axes.
    let y_strides: Vec<isize> = if yv.strides.len() == xd.len() { kept.iter().map(|&d| yv.strides[d]).collect() } else { yv.strides.clone() };
    e.push(
        &n.name,
        Kind::Reduce { max, dims, inner, x: Operand { src: xv.src, strides: x_strides }, y: Operand { src: yv.src, strides: y_strides } },
    );
}
