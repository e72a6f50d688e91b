//! Folds inference BatchNorm into the convolution before it:
//! with `s = gamma / sqrt(var + eps)`, `W' = W * s` (per output channel) and
//! `b' = (b - mean) * s + beta`. A BatchNorm that follows no foldable convolution becomes a
//! 1x1 depthwise convolution with those weights, so later passes see only convolutions.

use super::rewrite::{self, Rewriter};
use crate::ir::{Conv, Graph, Op};

pub fn run(g: &mut Graph) -> bool {
    rewrite::each_node(g, |rw, i| {
        let Op::BatchNorm { epsilon } = rw.node(i).op else { return false };
        let n = rw.node(i);
        let params: Option<Vec<&[f32]>> = n.inputs[1..].iter().map(|&t| rw.data(t)).collect();
        let Some(params) = params else { return false };
        let c = params[0].len();
        let mut scale = vec![0f64; c];
        let mut shift = vec![0f64; c];
        for ch in 0..c {
            let s = params[0][ch] as f64 / (params[3][ch] as f64 + epsilon as f64).sqrt();
            scale[ch] = s;
            shift[ch] = params[1][ch] as f64 - params[2][ch] as f64 * s;
        }
        let (x, name) = (n.inputs[0], n.name.clone());
        if let Some(p) = rw.exclusive_producer_if(x, |_| true).filter(|&p| foldable(rw, p)) {
            scale_conv(rw, p, &scale, &shift);
            rw.update(p, |conv| conv.fused.push("BatchNormalization".into()));
            rw.bypass(i, 0);
        } else if rw.shape(x).len() == 4 {
            let w = rw.add_const(format!("{name}.folded_weight"), vec![c, 1, 1, 1], scale.iter().map(|&v| v as f32).collect());
            let b = rw.add_const(format!("{name}.folded_bias"), vec![c], shift.iter().map(|&v| v as f32).collect());
            let mut conv = Conv::new(1, 1, 0, c);
            conv.bias = true;
            rw.update(i, |node| {
                node.op = Op::Conv(conv);
                node.inputs = vec![x, w, b];
                node.fused.push("BatchNormalization".into());
            });
        } else {
            return false;
        }
        true
    })
}

/// A plain convolution (no epilogue yet) with constant weights and bias.
pub(super) fn foldable(rw: &Rewriter<'_>, p: usize) -> bool {
    let n = rw.node(p);
    match &n.op {
        Op::Conv(c) => c.act.is_none() && !c.residual && !c.scale && n.inputs[1..].iter().all(|&t| rw.is_const(t)),
        _ => false,
    }
}

/// Makes the convolution at `p` compute `conv(x) * scale + shift` per output channel:
/// `W' = W * scale`, `b' = b * scale + shift`, in `f64`.
pub(super) fn scale_conv(rw: &mut Rewriter<'_>, p: usize, scale: &[f64], shift: &[f64]) {
    let (w, bias) = {
        let n = rw.node(p);
        let Op::Conv(c) = &n.op else { unreachable!() };
        (n.inputs[1], c.bias.then(|| n.inputs[2]))
    };
    let m = scale.len();
    let wdata = rw.data(w).unwrap();
    let per = wdata.len() / m;
    let new_w: Vec<f32> = wdata.iter().enumerate().map(|(i, &v)| (v as f64 * scale[i / per]) as f32).collect();
    let old_b: Vec<f32> = bias.and_then(|b| rw.data(b)).map_or(vec![0.0; m], <[f32]>::to_vec);
    let new_b: Vec<f32> = (0..m).map(|o| (old_b[o] as f64 * scale[o] + shift[o]) as f32).collect();
    let wname = format!("{}.folded", rw.graph().tensor(w).name);
    let wshape = rw.shape(w).clone();
    let nw = rw.add_const(wname, wshape, new_w);
    let bname = format!("{}.bias_folded", rw.node(p).name);
    let nb = rw.add_const(bname, vec![m], new_b);
    rw.update(p, |n| {
        let Op::Conv(c) = &mut n.op else { unreachable!() };
        n.inputs[1] = nw;
        if c.bias {
            n.inputs[2] = nb;
        } else {
            c.bias = true;
            n.inputs.insert(2, nb);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::testing::{assert_preserves, konst};

    fn bn(g: &mut Graph, x: crate::ir::TensorId, c: usize, seed: u64) -> crate::ir::TensorId {
        let gamma = konst(g, "gamma", vec![c], seed);
        let beta = konst(g, "beta", vec![c], seed + 1);
        let mean = konst(g, "mean", vec![c], seed + 2);
        let var = g.add_const("var", vec![c], (0..c).map(|i| 0.5 + i as f32 * 0.1).collect());
        g.push("bn", Op::BatchNorm { epsilon: 1e-5 }, vec![x, gamma, beta, mean, var]).unwrap()
    }

    #[test]
    fn folds_into_conv_with_and_without_bias() {
        for bias in [false, true] {
            let mut g = Graph::new("t");
            let x = g.add_input("x", vec![1, 3, 5, 5]);
            let w = konst(&mut g, "w", vec![4, 3, 3, 3], 1);
            let mut conv = Conv::new(3, 2, 1, 1);
            let mut inputs = vec![x, w];
            if bias {
                conv.bias = true;
                inputs.push(konst(&mut g, "b", vec![4], 2));
            }
            let y = g.push("conv", Op::Conv(conv), inputs).unwrap();
            let z = bn(&mut g, y, 4, 10);
            g.outputs.push(z);
            assert!(assert_preserves(&mut g, run));
            assert_eq!(g.nodes.len(), 1);
            assert_eq!(g.nodes[0].fused, ["BatchNormalization"]);
        }
    }

    #[test]
    fn folds_every_conv_of_a_chain() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 2, 4, 4]);
        let mut y = x;
        for i in 0..3 {
            let w = konst(&mut g, "w", vec![2, 2, 1, 1], i);
            y = g.push(format!("conv{i}"), Op::Conv(Conv::new(1, 1, 0, 1)), vec![y, w]).unwrap();
            y = bn(&mut g, y, 2, 10 + i);
        }
        g.outputs.push(y);
        assert!(assert_preserves(&mut g, run));
        assert_eq!(g.nodes.len(), 3);
        assert!(g.nodes.iter().all(|n| n.fused == ["BatchNormalization"]));
    }

    #[test]
    fn standalone_batchnorm_becomes_a_depthwise_conv() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![2, 4, 3, 3]);
        let z = bn(&mut g, x, 4, 5);
        g.outputs.push(z);
        assert!(assert_preserves(&mut g, run));
        assert!(matches!(&g.nodes[0].op, Op::Conv(c) if c.groups == 4));
    }

    #[test]
    fn conv_read_elsewhere_is_not_folded() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 2, 3, 3]);
        let w = konst(&mut g, "w", vec![2, 2, 1, 1], 1);
        let y = g.push("conv", Op::Conv(Conv::new(1, 1, 0, 1)), vec![x, w]).unwrap();
        let z = bn(&mut g, y, 2, 3);
        let s = g.push("sum", Op::Add, vec![y, z]).unwrap();
        g.outputs.push(s);
        assert!(assert_preserves(&mut g, run));
        assert_eq!(g.nodes.iter().filter(|n| matches!(n.op, Op::Conv(_))).count(), 2);
    }
}
