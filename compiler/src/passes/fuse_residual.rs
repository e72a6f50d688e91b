//! Moves a residual `Add` into the epilogue of a producer of one operand: preferably a 1x1
//! convolution (the conv shortcut, whose GEMM then accumulates onto the other operand),
//! else a ghost module, else any convolution. The fused node takes the Add's place.

use super::rewrite;
use crate::ir::{Graph, Node, Op};

pub fn run(g: &mut Graph) -> bool {
    rewrite::each_node(g, |rw, i| {
        if !matches!(rw.node(i).op, Op::Add) || rw.shape(rw.node(i).inputs[0]) != rw.shape(rw.node(i).inputs[1]) {
            return false;
        }
        let add = rw.node(i);
        let mut best: Option<(u8, usize, usize)> = None;
        for (k, &t) in add.inputs.iter().enumerate() {
            let other = add.inputs[1 - k];
            let Some(p) = rw.producer(t) else { continue };
            if !rw.exclusive(t) || other == t {
                continue;
            }
            let rank = match &rw.node(p).op {
                Op::Conv(c) if !c.residual && c.kernel == [1, 1] && c.groups == 1 => 0,
                Op::Ghost { residual: false, .. } => 1,
                Op::Conv(c) if !c.residual => 2,
                _ => continue,
            };
            if best.is_none_or(|(r, _, _)| rank < r) {
                best = Some((rank, p, 1 - k));
            }
        }
        let Some((_, p, other)) = best else { return false };
        let residual = add.inputs[other];
        let output = add.output;
        let mut node: Node = rw.node(p).clone();
        match &mut node.op {
            Op::Conv(c) => {
                let at = 2 + c.bias as usize;
                c.residual = true;
                node.inputs.insert(at, residual);
            }
            Op::Ghost { residual: r, .. } => {
                *r = true;
                node.inputs.insert(5, residual);
            }
            _ => unreachable!(),
        }
        node.output = output;
        node.fused.push("Add".into());
        rw.replace(i, node);
        rw.remove(p);
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Conv;
    use crate::passes::testing::{assert_preserves, konst};

    #[test]
    fn shortcut_conv_takes_the_add() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 4, 3, 3]);
        let w = konst(&mut g, "w", vec![4, 4, 3, 3], 1);
        let main = g.push("main", Op::Conv(Conv::new(3, 1, 1, 1)), vec![x, w]).unwrap();
        let ws = konst(&mut g, "ws", vec![4, 4, 1, 1], 2);
        let sc = g.push("shortcut", Op::Conv(Conv::new(1, 1, 0, 1)), vec![x, ws]).unwrap();
        let y = g.push("add", Op::Add, vec![main, sc]).unwrap();
        g.outputs.push(y);
        assert!(assert_preserves(&mut g, run));
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.nodes[1].name, "shortcut");
        assert!(matches!(&g.nodes[1].op, Op::Conv(c) if c.residual));
    }

    #[test]
    fn identity_shortcut_goes_into_the_conv() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![2, 4, 3, 3]);
        let w = konst(&mut g, "w", vec![4, 4, 3, 3], 1);
        let mut c = Conv::new(3, 1, 1, 1);
        c.act = Some(crate::ir::Act::Relu);
        let main = g.push("main", Op::Conv(c), vec![x, w]).unwrap();
        let y = g.push("add", Op::Add, vec![x, main]).unwrap();
        g.outputs.push(y);
        assert!(assert_preserves(&mut g, run));
        assert_eq!(g.nodes.len(), 1);
    }
}
