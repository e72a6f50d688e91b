//! The ghost module: `concat(p, c)` (then optionally a channel slice from 0) where `p` is a
//! 1x1 convolution and `c` a stride-1 depthwise convolution of `p` becomes one `Ghost` op.
//! The back end writes both halves straight into one buffer: no concat, no slice copy.

use crate::ir::{Conv, Graph, Node, Op, TensorId};

pub fn run(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        if let Some(m) = find(g, i) {
            apply(g, m);
            changed = true;
            i = 0;
        } else {
            i += 1;
        }
    }
    changed
}

struct Match {
    primary: usize,
    cheap: usize,
    concat: usize,
    slice: Option<usize>,
    channels: usize,
}

fn find(g: &Graph, concat: usize) -> Option<Match> {
    let n = &g.nodes[concat];
    if !matches!(n.op, Op::Concat { axis: 1 }) || n.inputs.len() != 2 || g.shape(n.output).len() != 4 {
        return None;
    }
    let producers = g.producers();
    let (p, c) = (*producers.get(&n.inputs[0])?, *producers.get(&n.inputs[1])?);
    let (pn, cn) = (&g.nodes[p], &g.nodes[c]);
    let (Op::Conv(pc), Op::Conv(cc)) = (&pn.op, &cn.op) else { return None };
    let pointwise = pc.kernel == [1, 1] && pc.stride == [1, 1] && pc.groups == 1 && pc.pads == [0; 4] && !pc.residual;
    let channels_p = g.shape(pn.output)[1];
    let depthwise = cc.groups == channels_p && g.shape(cn.output)[1] == channels_p && cc.stride == [1, 1] && !cc.residual && !cc.scale;
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
    let weights_const = weights.iter().all(|&t| g.tensor(t).is_const());
    if !weights_const {
        return None;
    }
    let total = g.shape(n.output)[1];
    let consumers = g.consumers();
    let slice = consumers.get(&n.output).filter(|v| v.len() == 1 && g.use_count(n.output) == 1).and_then(|v| {
        let s = v[0];
        match &g.nodes[s].op {
            Op::Slice { axes } if axes.len() == 1 && axes[0].axis == 1 && axes[0].start == 0 => Some((s, axes[0].end)),
            _ => None,
        }
    });
    let channels = slice.map_or(total, |(_, end)| end);
    if channels < channels_p {
        return None;
    }
    Some(Match { primary: p, cheap: c, concat, slice: slice.map(|(s, _)| s), channels })
}

fn with_bias(g: &mut Graph, node: usize) -> (Conv, TensorId, TensorId) {
    let n = &g.nodes[node];
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

fn apply(g: &mut Graph, m: Match) {
    // The input scale's position, before `with_bias` adds a bias the node's inputs lack.
    let scale_input = match &g.nodes[m.primary].op {
        Op::Conv(c) => c.scale_input().map(|i| g.nodes[m.primary].inputs[i]),
        _ => unreachable!(),
    };
    let (mut primary, w1, b1) = with_bias(g, m.primary);
    let (cheap, w2, b2) = with_bias(g, m.cheap);
    let pn = &g.nodes[m.primary];
    let x = pn.inputs[0];
    let scale = primary.scale;
    primary.scale = false;
    let last = m.slice.unwrap_or(m.concat);
    let output = g.nodes[last].output;
    let mut inputs = vec![x, w1, b1, w2, b2];
    inputs.extend(scale_input);
    // `blocks.3.0.ghost1.primary_conv.0` (or `.primary_rpr_conv` once re-parameterized)
    // names the module `blocks.3.0.ghost1`.
    let name = pn.name.find(".primary").map_or_else(|| format!("{}/ghost", pn.name), |at| pn.name[..at].to_string());
    let mut fused: Vec<String> = g.nodes[m.primary].fused.iter().map(|f| format!("primary {f}")).collect();
    fused.extend(g.nodes[m.cheap].fused.iter().map(|f| format!("cheap {f}")));
    fused.push("Concat".into());
    if m.slice.is_some() {
        fused.push("Slice".into());
    }
    let op = Op::Ghost { primary, cheap, channels: m.channels, residual: false, scale, gate: false };
    g.nodes[last] = Node { name, op, inputs, output, fused, precision: Default::default() };
    let mut dead = vec![m.primary, m.cheap];
    if m.slice.is_some() {
        dead.push(m.concat);
    }
    dead.sort_unstable();
    for d in dead.into_iter().rev() {
        g.nodes.remove(d);
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
            y = g.push("slice", Op::Slice { axes: vec![SliceAxis { axis: 1, start: 0, end }] }, vec![y]).unwrap();
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
