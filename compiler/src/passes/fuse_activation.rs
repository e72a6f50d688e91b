//! Moves an activation into the epilogue of the convolution that produces its input,
//! when nothing else reads the convolution's output.

use super::rewrite;
use crate::ir::{Graph, Op};

pub fn run(g: &mut Graph) -> bool {
    rewrite::each_node(g, |rw, i| {
        let Op::Activation(act) = rw.node(i).op else { return false };
        let x = rw.node(i).inputs[0];
        let Some(p) = rw.exclusive_producer_if(x, |op| matches!(op, Op::Conv(c) if c.act.is_none() && !c.residual)) else {
            return false;
        };
        rw.update(p, |node| {
            if let Op::Conv(c) = &mut node.op {
                c.act = Some(act);
            }
            node.fused.push(act.onnx_name().into());
        });
        rw.bypass(i, 0);
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Act, Conv};
    use crate::passes::testing::{assert_preserves, konst};

    #[test]
    fn relu_and_hardsigmoid_join_their_convs() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 3, 6, 6]);
        let w = konst(&mut g, "w", vec![4, 3, 3, 3], 1);
        let y = g.push("conv", Op::Conv(Conv::new(3, 1, 1, 1)), vec![x, w]).unwrap();
        let y = g.push("relu", Op::Activation(Act::Relu), vec![y]).unwrap();
        let w2 = konst(&mut g, "w2", vec![4, 4, 1, 1], 2);
        let z = g.push("conv2", Op::Conv(Conv::new(1, 1, 0, 1)), vec![y, w2]).unwrap();
        let z = g.push("gate", Op::Activation(Act::HardSigmoid { alpha: 0.2, beta: 0.5 }), vec![z]).unwrap();
        g.outputs.push(z);
        assert!(assert_preserves(&mut g, run));
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.nodes[1].fused, ["HardSigmoid"]);
    }

    #[test]
    fn a_conv_output_read_twice_keeps_its_activation_separate() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 2, 4, 4]);
        let w = konst(&mut g, "w", vec![2, 2, 1, 1], 1);
        let y = g.push("conv", Op::Conv(Conv::new(1, 1, 0, 1)), vec![x, w]).unwrap();
        let r = g.push("relu", Op::Activation(Act::Relu), vec![y]).unwrap();
        let s = g.push("sum", Op::Add, vec![y, r]).unwrap();
        g.outputs.push(s);
        assert!(!assert_preserves(&mut g, run));
    }
}
