//! Matrix products: the classifier (`Gemm` or 2-D `MatMul` with a constant weight matrix
//! and a per-column bias) on the GEMM kernel; every other `Gemm` (a transposed or
//! computed `A`, computed weights, any broadcast `C`) and `MatMul` (batched, broadcast,
//! vector operands) on the general kernel.

use ghostnet_runtime as rt;
use rt::gemm::{Gemm, View};
use rt::isa::Act as RtAct;

use super::emit::Emit;
use super::layout::broadcast;
use super::{How, Kind, Layout, Operand};
use crate::ir::{numel, Graph, Node, Op};

pub(super) fn classify(graph: &Graph, n: &Node) -> How {
    let is_const = |t| graph.tensor(t).is_const();
    let (a, b) = (graph.shape(n.inputs[0]), graph.shape(n.inputs[1]));
    let matrices = a.len() == 2 && b.len() == 2;
    let per_column = |c| {
        let cs = graph.shape(c);
        let nn = graph.shape(n.output)[1];
        is_const(c) && (cs.as_slice() == [nn] || cs.as_slice() == [1, nn] || numel(cs) == 1)
    };
    let fits = match &n.op {
        Op::Gemm { trans_a: false, .. } => n.inputs.get(2).is_none_or(|&c| per_column(c)),
        Op::MatMul => true,
        _ => false,
    };
    if fits && matrices && !is_const(n.inputs[0]) && is_const(n.inputs[1]) { How::Classifier } else { How::General }
}

pub(super) fn emit(e: &mut Emit<'_>, n: &Node, how: How) {
    let g = e.graph;
    let view = |e: &Emit<'_>, t| View { off: e.at(t), ld: Layout::of(g, t).channels };
    match (how, &n.op) {
        (How::Classifier, op) => {
            let (alpha, beta, trans_b) = match op {
                Op::Gemm { alpha, beta, trans_b, .. } => (*alpha, *beta, *trans_b),
                _ => (1.0, 1.0, false),
            };
            let bs = g.shape(n.inputs[1]);
            let (k, nn) = if trans_b { (bs[1], bs[0]) } else { (bs[0], bs[1]) };
            let cd: Vec<f32> = match n.inputs.get(2) {
                Some(&c) if numel(g.shape(c)) == 1 => vec![beta * e.data(c)[0]; nn],
                Some(&c) => e.data(c).iter().map(|v| beta * v).collect(),
                None => vec![0.0; nn],
            };
            let (b, bias) = e.matrix_weights(n.inputs[1], trans_b, alpha, &cd);
            let gm = Gemm {
                // One row per image: one when the steps run per image.
                m: e.layouts.images(n.inputs[0]),
                k,
                n: nn,
                a: view(e, n.inputs[0]),
                c: view(e, n.output),
                b,
                bias,
                act: RtAct::None,
                residual: None,
                raw: None,
                scale: None,
                gate: None,
            };
            e.push(&n.name, Kind::Gemm(gm));
        }
        (How::General, Op::Gemm { alpha, beta, trans_a, trans_b }) => {
            let (av, bv, yv) = (e.view(n.inputs[0]), e.view(n.inputs[1]), e.view(n.output));
            let yd = e.dims(n.output);
            let (m, nn) = (yd[0], yd[1]);
            let k = e.dims(n.inputs[0])[if *trans_a { 0 } else { 1 }];
            let swap = |s: &[isize], t: bool| if t { vec![s[1], s[0]] } else { s.to_vec() };
            let a = Operand { src: av.src, strides: swap(&av.strides, *trans_a) };
            let b = Operand { src: bv.src, strides: swap(&bv.strides, *trans_b) };
            let c = n.inputs.get(2).map(|&c| {
                let v = e.view(c);
                Operand { strides: broadcast(&e.dims(c), &v.strides, &yd), src: v.src }
            });
            let kind = Kind::MatMul { batch: vec![], m, k, n: nn, alpha: *alpha, beta: *beta, a, b, c, y: yv };
            e.push(&n.name, kind);
        }
        (How::General, Op::MatMul) => {
            let (ad, bd, yd) = (e.dims(n.inputs[0]), e.dims(n.inputs[1]), e.dims(n.output));
            let (av, bv, yv) = (e.view(n.inputs[0]), e.view(n.inputs[1]), e.view(n.output));
            // As matrices: a vector `a` is one row, a vector `b` one column (stride 0 on
            // the added axis of length 1).
            let (ad, a_str) = if ad.len() == 1 { (vec![1, ad[0]], vec![0, av.strides[0]]) } else { (ad, av.strides.clone()) };
            let (bd, b_str) = if bd.len() == 1 { (vec![bd[0], 1], vec![bv.strides[0], 0]) } else { (bd, bv.strides.clone()) };
            let (m, k, nn) = (ad[ad.len() - 2], ad[ad.len() - 1], bd[bd.len() - 1]);
            // The output's axes: the batch, then one per operand of rank 2 or more.
            let matrix_axes = (e.graph.shape(n.inputs[0]).len() > 1) as usize + (e.graph.shape(n.inputs[1]).len() > 1) as usize;
            let batch = yd[..yd.len() - matrix_axes].to_vec();
            let lead = |d: &[usize], s: &[isize]| {
                let mut st = broadcast(&d[..d.len() - 2], &s[..s.len() - 2], &batch);
                st.extend_from_slice(&s[s.len() - 2..]);
                st
            };
            let a = Operand { src: av.src, strides: lead(&ad, &a_str) };
            let b = Operand { src: bv.src, strides: lead(&bd, &b_str) };
            // The output lacks the axis of a vector operand: stride 0 there.
            let mut y_str = yv.strides[..batch.len()].to_vec();
            let mut rest = yv.strides[batch.len()..].iter();
            y_str.push(if e.graph.shape(n.inputs[0]).len() > 1 { *rest.next().expect("an m axis") } else { 0 });
            y_str.push(if e.graph.shape(n.inputs[1]).len() > 1 { *rest.next().expect("an n axis") } else { 0 });
            let y = Operand { src: yv.src, strides: y_str };
            e.push(&n.name, Kind::MatMul { batch, m, k, n: nn, alpha: 1.0, beta: 0.0, a, b, c: None, y });
        }
        (how, op) => unreachable!("classified {how:?} for {}", op.name()),
    }
}
