//! Simplifications that put a graph in the form the fusions know, whichever exporter wrote
//! it:
//! - `x + 0`, `0 + x`, `x - 0`, `x * 1`, `1 * x`, `x / 1` (a constant of any shape that
//!   does not widen `x`, a scalar included) become `x`: PyTorch's TorchScript exporter
//!   writes timm's `y = 0; y += branch(x)` sums as an `Add` of a constant 0.
//! - A constant that varies at most along the channels, added to, subtracted from, or
//!   multiplied into (or divided from) a convolution's output, folds into the convolution's
//!   weights and bias (`W' = W * s`, `b' = b * s + t`).
//! - A Reshape of a Reshape reads the first one's input.

use super::fold_batchnorm::{foldable, scale_conv};
use super::rewrite::{self, Rewriter};
use crate::ir::{Graph, Op};

pub fn run(g: &mut Graph) -> bool {
    rewrite::each_node(g, |rw, i| neutral(rw, i) || into_conv(rw, i) || reshape_chain(rw, i))
}

/// `x op c` that is `x`.
fn neutral(rw: &mut Rewriter<'_>, i: usize) -> bool {
    let n = rw.node(i);
    let Some((k, c, x)) = rw.const_operand(i) else { return false };
    if rw.shape(x) != rw.shape(n.output) {
        return false;
    }
    let all = |v: f32| rw.data(c).is_some_and(|d| d.iter().all(|&e| e == v));
    let is_neutral = match n.op {
        Op::Add => all(0.0),
        Op::Sub => k == 1 && all(0.0),
        Op::Mul => all(1.0),
        Op::Div => k == 1 && all(1.0),
        _ => false,
    };
    if is_neutral {
        rw.bypass(i, 1 - k);
    }
    is_neutral
}

/// The per-channel values of constant `c` broadcast against an `N x M x H x W` output:
/// `M` values, or `None` if `c` varies along another axis (or along the batch).
fn per_channel(shape: &[usize], data: &[f32], m: usize) -> Option<Vec<f32>> {
    if shape.len() > 4 {
        return None;
    }
    // Right-aligned to N, M, H, W: only the M axis (1) may be longer than 1.
    let lead = 4 - shape.len();
    for (k, &d) in shape.iter().enumerate() {
        if d != 1 && (lead + k != 1 || d != m) {
            return None;
        }
    }
    Some(if data.len() == 1 { vec![data[0]; m] } else { data.to_vec() })
}

/// `conv(x) op c` with `c` per channel folded into the convolution.
fn into_conv(rw: &mut Rewriter<'_>, i: usize) -> bool {
    let n = rw.node(i);
    if !matches!(n.op, Op::Add | Op::Sub | Op::Mul | Op::Div) {
        return false;
    }
    let Some((k, c, y)) = rw.const_operand(i) else { return false };
    let Some(p) = rw.exclusive_producer_if(y, |op| matches!(op, Op::Conv(_))) else { return false };
    if !foldable(rw, p) || rw.shape(y) != rw.shape(n.output) || rw.shape(y).len() != 4 {
        return false;
    }
    let m = rw.shape(y)[1];
    let Some(v) = per_channel(rw.shape(c), rw.data(c).expect("constant"), m) else { return false };
    let v: Vec<f64> = v.iter().map(|&x| x as f64).collect();
    let ones = vec![1f64; m];
    let zeros = vec![0f64; m];
    let (scale, shift) = match (&n.op, k) {
        (Op::Add, _) => (ones, v),
        (Op::Sub, 1) => (ones, v.iter().map(|x| -x).collect()),
        (Op::Sub, _) => (vec![-1.0; m], v),
        (Op::Mul, _) => (v, zeros),
        (Op::Div, 1) if v.iter().all(|&x| x != 0.0) => (v.iter().map(|x| 1.0 / x).collect(), zeros),
        _ => return false,
    };
    let what = n.op.name().to_string();
    scale_conv(rw, p, &scale, &shift);
    rw.update(p, |conv| conv.fused.push(what));
    rw.bypass(i, 1 - k);
    true
}

/// A Reshape reading a Reshape reads that one's input instead.
fn reshape_chain(rw: &mut Rewriter<'_>, i: usize) -> bool {
    if !matches!(rw.node(i).op, Op::Reshape { .. }) {
        return false;
    }
    let Some(p) = rw.producer_if(rw.node(i).inputs[0], |op| matches!(op, Op::Reshape { .. })) else { return false };
    let x = rw.node(p).inputs[0];
    rw.update(i, |n| n.inputs[0] = x);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Conv, TensorId};
    use crate::passes::testing::{assert_preserves, konst};

    fn conv(g: &mut Graph, x: TensorId, m: usize, seed: u64) -> TensorId {
        let w = konst(g, "w", vec![m, g.shape(x)[1], 3, 3], seed);
        g.push("conv", Op::Conv(Conv::new(3, 1, 1, 1)), vec![x, w]).unwrap()
    }

    #[test]
    fn neutral_constants_go_whatever_their_shape_and_side() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 2, 3, 3]);
        let zero = g.add_const("zero", vec![], vec![0.0]);
        let ones = g.add_const("ones", vec![2, 1, 1], vec![1.0, 1.0]);
        let a = g.push("a", Op::Add, vec![zero, x]).unwrap();
        let b = g.push("b", Op::Mul, vec![a, ones]).unwrap();
        let c = g.push("c", Op::Sub, vec![b, zero]).unwrap();
        let d = g.push("d", Op::Div, vec![c, ones]).unwrap();
        // 0 - x and 1 / x are not x; a constant that widens x is not neutral.
        let e = g.push("e", Op::Sub, vec![zero, d]).unwrap();
        let wide = g.add_const("wide", vec![2, 2, 3, 3], vec![0.0; 36]);
        let f = g.push("f", Op::Add, vec![e, wide]).unwrap();
        g.add_output(f);
        assert!(assert_preserves(&mut g, run));
        let ops: Vec<_> = g.nodes.iter().map(|n| n.op.name()).collect();
        assert_eq!(ops, ["Sub", "Add"]);
        assert_eq!(g.nodes[0].inputs[1], x);
    }

    #[test]
    fn per_channel_constants_fold_into_the_convolution() {
        for (op, on_left) in [(Op::Add, false), (Op::Add, true), (Op::Sub, false), (Op::Sub, true), (Op::Mul, true), (Op::Div, false)] {
            for shape in [vec![], vec![4, 1, 1], vec![1, 4, 1, 1], vec![1]] {
                let mut g = Graph::new("t");
                let x = g.add_input("x", vec![1, 3, 5, 5]);
                let y = conv(&mut g, x, 4, 1);
                let c = konst(&mut g, "c", shape.clone(), 2);
                let inputs = if on_left { vec![c, y] } else { vec![y, c] };
                let z = g.push("op", op.clone(), inputs).unwrap();
                g.add_output(z);
                assert!(assert_preserves(&mut g, run), "{op:?} {shape:?}");
                assert_eq!(g.nodes.len(), 1, "{op:?} {shape:?}");
            }
        }
    }

    #[test]
    fn constants_varying_elsewhere_or_shared_convs_stay() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 3, 5, 5]);
        let y = conv(&mut g, x, 4, 1);
        let spatial = konst(&mut g, "c", vec![1, 1, 5, 5], 2);
        let z = g.push("spatial", Op::Add, vec![y, spatial]).unwrap();
        let y2 = conv(&mut g, x, 4, 3);
        let c = konst(&mut g, "c2", vec![4, 1, 1], 4);
        let shared = g.push("shared", Op::Mul, vec![y2, c]).unwrap();
        let s = g.push("sum", Op::Add, vec![shared, y2]).unwrap();
        let out = g.push("out", Op::Add, vec![z, s]).unwrap();
        g.add_output(out);
        assert!(!assert_preserves(&mut g, run));
    }

    #[test]
    fn a_reshape_of_a_reshape_reads_the_first_input() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 2, 3, 4]);
        let a = g.push("a", Op::Reshape { shape: vec![1, 24] }, vec![x]).unwrap();
        let b = g.push("b", Op::Reshape { shape: vec![2, 12] }, vec![a]).unwrap();
        g.add_output(b);
        assert!(assert_preserves(&mut g, run));
        assert_eq!(g.nodes[1].inputs[0], x);
    }
}
