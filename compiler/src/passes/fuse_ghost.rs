//! The ghost module: `concat(p, c)` (then optionally a channel slice from 0) where `p` is a
//! 1x1 convolution and `c` a stride-1 depthwise convolution of `p` becomes one `Ghost` op.
//! The back end writes both halves straight into one buffer: no concat, no slice copy.

use super::rewrite::{self, Rewriter};
use crate::ir::{Conv, Graph, Node, Op, TensorId};

pub fn run(g: &mut Graph) -> bool {
    rewrite::each_node(g, |rw, i| match find(rw, i) {
        Some(m) => {
            apply(rw, m);
            true
        }
        None => false,
    })
}

struct Match {
    primary: usize,
    cheap: usize,
    concat: usize,
    slice: Option<usize>,
    channels: usize,
}

fn find(g: &Rewriter<'_>, concat: usize) -> Option<Match> {
    let n = g.node(concat);
    if !matches!(n.op, Op::Concat { axis: 1 }) || n.inputs.len() != 2 || g.shape(n.output).len() != 4 {
        return None;
    }
    let (p, c) = (g.producer(n.inputs[0])?, g.producer(n.inputs[1])?);
    let (pn, cn) = (g.node(p), g.node(c));
    let (Op::Conv(pc), Op::Conv(cc)) = (&pn.op, &cn.op) else { return None };
    let pointwise = pc.kernel == [1, 1] && pc.stride == [1, 1] && pc.groups == 1 && pc.pads == [0; 4] && !pc.residual;
    let channels_p = g.shape(pn.output)[1];
    let depthwise = cc.groups == channels_p
        && g.shape(cn.output)[1] == channels_p
        && cc.stride == [1, 1]
        && cc.dilation == [1, 1]
        && !cc.residual
        && !cc.scale;
    let same_size = g.shape(cn.output)[2..] == g.shape(pn.output)[2..];
    if !(pointwise && depthwise && same_size && cn.inputs[0] == pn.output) {
        return None;
    }
    if g.use_count(pn.output) != 2 || g.use_count(cn.output) != 1 {
        return None;
    }
    let mut weights = vec![pn.inputs[1]];
    weights.extend(pc.bias_input().map(|b| pn.inputs[b]));
    weights.extend(&cn.inputs[1..]);
    // Constant weights over a computed input (and scale): what the fused kernels take.
    let weights_const = weights.iter().all(|&t| g.is_const(t));
    let computed = !g.is_const(pn.inputs[0]) && pc.scale_input().is_none_or(|i| !g.is_const(pn.inputs[i]));
    if !weights_const || !computed {
        return None;
    }
    let total = g.shape(n.output)[1];
    let slice = g.readers(n.output).first().copied().filter(|_| g.exclusive(n.output)).and_then(|s| match &g.node(s).op {
        Op::Slice { axes } if axes.len() == 1 && axes[0].axis == 1 && axes[0].start == 0 && axes[0].step == 1 => Some((s, axes[0].len)),
        _ => None,
    });
    let channels = slice.map_or(total, |(_, end)| end);
    if channels < channels_p {
        return None;
    }
    Some(Match { primary: p, cheap: c, concat, slice: slice.map(|(s, _)| s), channels })
}

fn with_bias(g: &mut Rewriter<'_>, node: usize) -> (Conv, TensorId, TensorId) {
    let n = g.node(node);
    let Op::Conv(c) = &n.op else { unreachable!() };
    let mut c = c.clone();
    let w = n.inputs[1];
    let b = if c.bias {
        n.inputs[2]
    } else {
        let m = g.shape(w)[0];
        let name = format!("{}.zero_bias", n.name);
        c.bias = true;
        g.add_const(name, vec![m], vec![0.0; m])
    };
    (c, w, b)
}

fn apply(g: &mut Rewriter<'_>, m: Match) {
    // The input scale's position, before `with_bias` adds a bias the node's inputs lack.
    let scale_input = match &g.node(m.primary).op {
        Op::Conv(c) => c.scale_input().map(|i| g.node(m.primary).inputs[i]),
        _ => unreachable!(),
    };
    let (mut primary, w1, b1) = with_bias(g, m.primary);
    let (cheap, w2, b2) = with_bias(g, m.cheap);
    let pn = g.node(m.primary);
    let x = pn.inputs[0];
    let scale = primary.scale;
    primary.scale = false;
    let last = m.slice.unwrap_or(m.concat);
    let output = g.node(last).output;
    let mut inputs = vec![x, w1, b1, w2, b2];
    inputs.extend(scale_input);
    // `blocks.3.0.ghost1.primary_conv.0` (or `.primary_rpr_conv` once re-parameterized)
    // names the module `blocks.3.0.ghost1`.
    let name = pn.name.find(".primary").map_or_else(|| format!("{}/ghost", pn.name), |at| pn.name[..at].to_string());
    let mut fused: Vec<String> = g.node(m.primary).fused.iter().map(|f| format!("primary {f}")).collect();
    fused.extend(g.node(m.cheap).fused.iter().map(|f| format!("cheap {f}")));
    fused.push("Concat".into());
    if m.slice.is_some() {
        fused.push("Slice".into());
    }
    let op = Op::Ghost { primary, cheap, channels: m.channels, residual: false, scale, gate: false };
    // The module's matrix product is the primary convolution's: its precision goes along.
    let (precision, quant) = (g.node(m.primary).precision, g.node(m.primary).quant.clone());
    g.replace(last, Node { precision, quant, ..Node::new(name, op, inputs, output, fused) });
    g.remove(m.primary);
    g.remove(m.cheap);
    if m.slice.is_some() {
        g.remove(m.concat);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Act, SliceAxis};
    use crate::passes::testing::{assert_preserves, konst};

    fn ghost_graph(slice_to: Option<usize>) -> Graph {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 6, 5, 5]);
        let w1 = konst(&mut g, "w1", vec![4, 6, 1, 1], 1);
        let mut pc = Conv::new(1, 1, 0, 1);
        pc.act = Some(Act::Relu);
        let p = g.push("g.primary_conv.0", Op::Conv(pc), vec![x, w1]).unwrap();
        let w2 = konst(&mut g, "w2", vec![4, 1, 3, 3], 2);
        let b2 = konst(&mut g, "b2", vec![4], 3);
        let mut cc = Conv::new(3, 1, 1, 4);
        cc.bias = true;
        let c = g.push("g.cheap_operation.0", Op::Conv(cc), vec![p, w2, b2]).unwrap();
        let mut y = g.push("cat", Op::Concat { axis: 1 }, vec![p, c]).unwrap();
        if let Some(end) = slice_to {
            y = g.push("slice", Op::Slice { axes: vec![SliceAxis::range(1, 0, end)] }, vec![y]).unwrap();
        }
        g.outputs.push(y);
        g
    }

    #[test]
    fn primary_cheap_concat_becomes_one_ghost() {
        let mut g = ghost_graph(None);
        assert!(assert_preserves(&mut g, run));
        assert_eq!(g.nodes.len(), 1);
        assert!(matches!(&g.nodes[0].op, Op::Ghost { channels: 8, .. }));
        assert_eq!(g.nodes[0].name, "g");
    }

    #[test]
    fn a_slice_that_drops_channels_stays_exact() {
        let mut g = ghost_graph(Some(7));
        assert!(assert_preserves(&mut g, run));
        assert_eq!(g.nodes.len(), 1);
        assert!(matches!(&g.nodes[0].op, Op::Ghost { channels: 7, .. }));
    }
}
