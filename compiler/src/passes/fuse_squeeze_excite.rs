//! Recognizes the squeeze-excite gate: a spatial mean, a 1x1 convolution with ReLU, a 1x1
//! convolution with a gate activation, and fuses it into one `SqueezeExcite` op producing
//! the `N x C x 1 x 1` gate (its multiply is left to `fuse_scale`).

use super::rewrite::{self, Rewriter};
use crate::ir::{Conv, Graph, Node, Op, TensorId};

pub fn run(g: &mut Graph) -> bool {
    rewrite::each_node(g, |rw, i| {
        let Some(m) = find(rw, i) else { return false };
        let expand = rw.node(m.expand);
        let name = expand.name.rsplit_once('.').map_or(expand.name.clone(), |(p, _)| p.to_string());
        let out = expand.output;
        let op = Op::SqueezeExcite { act: m.act, gate: m.gate };
        let fused = vec![rw.node(m.mean).op.name().into(), "Conv".into(), m.act.onnx_name().into(), "Conv".into(), m.gate.onnx_name().into()];
        rw.replace(m.expand, Node::new(name, op, m.inputs, out, fused));
        rw.remove(m.mean);
        rw.remove(m.reduce);
        true
    })
}

struct Match {
    mean: usize,
    reduce: usize,
    expand: usize,
    inputs: Vec<TensorId>,
    act: crate::ir::Act,
    gate: crate::ir::Act,
}

fn pointwise(c: &Conv) -> bool {
    c.kernel == [1, 1] && c.stride == [1, 1] && c.pads == [0; 4] && c.groups == 1 && c.bias && !c.residual && !c.scale
}

/// The pattern ending at node `expand`, if it is one.
fn find(g: &Rewriter<'_>, expand: usize) -> Option<Match> {
    let e = g.node(expand);
    let Op::Conv(ec) = &e.op else { return None };
    let gate = ec.act?;
    if !pointwise(ec) {
        return None;
    }
    let reduce = g.exclusive_producer_if(e.inputs[0], |op| matches!(op, Op::Conv(_)))?;
    let r = g.node(reduce);
    let Op::Conv(rc) = &r.op else { return None };
    let act = rc.act?;
    if !pointwise(rc) {
        return None;
    }
    let mean = g.exclusive_producer_if(r.inputs[0], |_| true)?;
    let m = g.node(mean);
    let spatial = match &m.op {
        Op::GlobalAveragePool => true,
        Op::ReduceMean { axes, keepdims } => *keepdims && axes == &[2, 3],
        _ => false,
    };
    if !spatial || g.shape(m.inputs[0]).len() != 4 || g.is_const(m.inputs[0]) {
        return None;
    }
    let all_const = [r.inputs[1], r.inputs[2], e.inputs[1], e.inputs[2]].iter().all(|&t| g.is_const(t));
    if !all_const {
        return None;
    }
    Some(Match {
        mean,
        reduce,
        expand,
        inputs: vec![m.inputs[0], r.inputs[1], r.inputs[2], e.inputs[1], e.inputs[2]],
        act,
        gate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Act;
    use crate::passes::testing::{assert_preserves, konst};

    #[test]
    fn mean_reduce_expand_becomes_one_gate() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![2, 8, 5, 5]);
        let m = g.push("mean", Op::ReduceMean { axes: vec![2, 3], keepdims: true }, vec![x]).unwrap();
        let mut conv = Conv::new(1, 1, 0, 1);
        conv.bias = true;
        conv.act = Some(Act::Relu);
        let (w1, b1) = (konst(&mut g, "w1", vec![4, 8, 1, 1], 1), konst(&mut g, "b1", vec![4], 2));
        let r = g.push("se.conv_reduce", Op::Conv(conv.clone()), vec![m, w1, b1]).unwrap();
        conv.act = Some(Act::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 });
        let (w2, b2) = (konst(&mut g, "w2", vec![8, 4, 1, 1], 3), konst(&mut g, "b2", vec![8], 4));
        let e = g.push("se.conv_expand", Op::Conv(conv), vec![r, w2, b2]).unwrap();
        let y = g.push("scale", Op::Mul, vec![x, e]).unwrap();
        g.outputs.push(y);
        assert!(assert_preserves(&mut g, run));
        assert_eq!(g.nodes.len(), 2);
        assert!(matches!(g.nodes[0].op, Op::SqueezeExcite { .. }));
        assert_eq!(g.nodes[0].name, "se");
    }
}
