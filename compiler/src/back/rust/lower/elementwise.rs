//! Element-wise ops left standing by the fusion passes: arithmetic with broadcasting (a
//! constant or a computed operand on either side), activations, and BatchNorm that did
//! not fold into a convolution; all on the general kernels.

use ghostnet_runtime as rt;
use rt::isa::{Act as RtAct, Src};
use rt::ops::BinOp;

use super::emit::Emit;
use super::layout::{broadcast, coalesce};
use super::{act, How, Kind, Operand};
use crate::ir::{Graph, Node, Op};

pub(super) fn classify(graph: &Graph, n: &Node) -> Result<How, String> {
    if let Op::BatchNorm { .. } = n.op
        && n.inputs[1..].iter().any(|&t| !graph.tensor(t).is_const())
    {
        // The ONNX front end refuses these; a graph built otherwise may have them.
        return Err("BatchNormalization parameters computed at run time are not supported".into());
    }
    Ok(How::General)
}

pub(super) fn emit(e: &mut Emit<'_>, n: &Node, how: How) {
    assert_eq!(how, How::General, "element-wise ops run on the general kernels");
    let y = n.output;
    match &n.op {
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            let op = match n.op {
                Op::Add => BinOp::Add,
                Op::Sub => BinOp::Sub,
                Op::Mul => BinOp::Mul,
                _ => BinOp::Div,
            };
            let (a, b) = (e.view(n.inputs[0]), e.view(n.inputs[1]));
            let (ad, bd) = (e.dims(n.inputs[0]), e.dims(n.inputs[1]));
            let (yv, yd) = (e.view(y), e.dims(y));
            zip(e, &n.name, op, &yd, (a, &ad), (b, &bd), yv);
        }
        Op::Activation(a) => {
            let (xv, yv) = (e.view(n.inputs[0]), e.view(y));
            let dims = e.dims(y);
            e.map(&n.name, &dims, xv, yv, act(Some(*a)));
        }
        Op::BatchNorm { epsilon } => {
            // y = x * s + t per channel (axis 1), s and t computed here in f64.
            let p: Vec<&[f32]> = n.inputs[1..].iter().map(|&t| e.data(t)).collect();
            let c = p[0].len();
            let s: Vec<f64> = (0..c).map(|i| p[0][i] as f64 / (p[3][i] as f64 + *epsilon as f64).sqrt()).collect();
            let scale: Vec<f32> = s.iter().map(|&v| v as f32).collect();
            let shift: Vec<f32> = (0..c).map(|i| (p[1][i] as f64 - p[2][i] as f64 * s[i]) as f32).collect();
            let dims = e.dims(y);
            let strides: Vec<isize> = (0..dims.len()).map(|d| (d == 1) as isize).collect();
            let sv = Operand { src: Src::Weights(e.values(&scale)), strides: strides.clone() };
            let tv = Operand { src: Src::Weights(e.values(&shift)), strides };
            let (xv, yv) = (e.view(n.inputs[0]), e.view(y));
            zip(e, &n.name, BinOp::Mul, &dims, (xv, &dims), (sv, &dims), yv.clone());
            zip(e, &n.name, BinOp::Add, &dims, (yv.clone(), &dims), (tv, &dims), yv);
        }
        op => unreachable!("{} is not element-wise", op.name()),
    }
}

/// `y = a op b` over `dims`, each operand (with its own dims) broadcast to them.
fn zip(e: &mut Emit<'_>, layer: &str, op: BinOp, dims: &[usize], a: (Operand, &[usize]), b: (Operand, &[usize]), mut y: Operand) {
    let mut sa = broadcast(a.1, &a.0.strides, dims);
    let mut sb = broadcast(b.1, &b.0.strides, dims);
    let dims = coalesce(dims, &mut [&mut sa, &mut sb, &mut y.strides]);
    let (a, b) = (Operand { src: a.0.src, strides: sa }, Operand { src: b.0.src, strides: sb });
    e.push(layer, Kind::Zip { op, dims, a, b, y, act: RtAct::None });
}
