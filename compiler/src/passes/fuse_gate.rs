//! GhostNetV2's attention: `ghost(x) * resize_nearest(g)` becomes a ghost module with a
//! gate input; the back end multiplies by the upsampled gate as it writes the output, so
//! the full-resolution gate is never materialized.

use super::rewrite::{self, Rewriter};
use crate::ir::{Graph, Op};

pub fn run(g: &mut Graph) -> bool {
    rewrite::each_node(g, |rw, i| {
        let Some((ghost, resize, gate)) = find(rw, i) else { return false };
        let mut node = rw.node(ghost).clone();
        if let Op::Ghost { gate: has_gate, .. } = &mut node.op {
            *has_gate = true;
        }
        node.inputs.push(gate);
        node.output = rw.node(i).output;
        node.fused.extend(["Resize".to_string(), "Mul".to_string()]);
        rw.replace(i, node);
        rw.remove(ghost);
        rw.remove(resize);
        true
    })
}

/// For a `Mul` at `i`: the ghost node, the resize node and the low-resolution gate.
fn find(g: &Rewriter<'_>, i: usize) -> Option<(usize, usize, crate::ir::TensorId)> {
    let n = g.node(i);
    if !matches!(n.op, Op::Mul) {
        return None;
    }
    for k in 0..2 {
        let (y, u) = (n.inputs[k], n.inputs[1 - k]);
        let (Some(ghost), Some(resize)) = (g.producer(y), g.producer(u)) else { continue };
        let ok_ghost = matches!(g.node(ghost).op, Op::Ghost { gate: false, residual: false, .. });
        // The ghost module upsamples its gate by `floor(y * h / H)`: only a Resize that
        // reads the same pixels can join it.
        let gate_shape = g.shape(g.node(resize).inputs[0]);
        let ok_resize = matches!(&g.node(resize).op, Op::Resize(r) if r.is_floor_exact(gate_shape)) && !g.is_const(g.node(resize).inputs[0]);
        if !ok_ghost || !ok_resize || !g.exclusive(y) || !g.exclusive(u) || y == u {
            continue;
        }
        let gate = g.node(resize).inputs[0];
        let (gs, ys) = (g.shape(gate), g.shape(y));
        if g.shape(u) == ys && gs.len() == 4 && gs[..2] == ys[..2] {
            return Some((ghost, resize, gate));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Act, Conv};
    use crate::passes::testing::{assert_preserves, konst};

    #[test]
    fn upsampled_gate_multiply_joins_the_ghost_module() {
        for (h, w) in [(7, 7), (8, 6)] {
            let mut g = Graph::new("t");
            let x = g.add_input("x", vec![1, 6, h, w]);
            let (w1, b1) = (konst(&mut g, "w1", vec![4, 6, 1, 1], 1), konst(&mut g, "b1", vec![4], 2));
            let (w2, b2) = (konst(&mut g, "w2", vec![4, 1, 3, 3], 3), konst(&mut g, "b2", vec![4], 4));
            let mut primary = Conv::new(1, 1, 0, 1);
            primary.bias = true;
            primary.act = Some(Act::Relu);
            let mut cheap = Conv::new(3, 1, 1, 4);
            cheap.bias = true;
            let op = Op::Ghost { primary, cheap, channels: 8, residual: false, scale: false, gate: false };
            let y = g.push("ghost", op, vec![x, w1, b1, w2, b2]).unwrap();
            let (gh, gw) = (h / 2, w / 2);
            let gate = konst(&mut g, "gate_src", vec![1, 8, gh, gw], 5);
            let gate = g.push("sig", Op::Activation(Act::Sigmoid), vec![gate]).unwrap();
            let up = g.push("up", Op::Resize(crate::ir::Resize::nearest(&[1, 8, gh, gw], vec![1, 8, h, w])), vec![gate]).unwrap();
            let z = g.push("mul", Op::Mul, vec![y, up]).unwrap();
            g.outputs.push(z);
            assert!(assert_preserves(&mut g, run));
            assert!(matches!(&g.nodes.last().unwrap().op, Op::Ghost { gate: true, .. }));
            assert!(!g.nodes.iter().any(|n| matches!(n.op, Op::Resize { .. } | Op::Mul)));
        }
    }
}
