//! Evaluates every node whose inputs are all constants; its output becomes a constant.

use crate::interp::{self, Arg};
use crate::ir::Graph;

pub fn run(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        let n = &g.nodes[i];
        if !n.inputs.is_empty() && n.inputs.iter().all(|&t| g.tensor(t).is_const()) {
            let args: Vec<Arg<'_>> = n.inputs.iter().map(|&t| Arg { shape: g.shape(t), data: g.data(t).unwrap() }).collect();
            let value = interp::eval(&n.op, &args, g.shape(n.output));
            let out = n.output;
            g.tensor_mut(out).data = Some(value);
            g.nodes.remove(i);
            changed = true;
        } else {
            i += 1;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Act, Op};
    use crate::passes::testing::{assert_preserves, konst};

    #[test]
    fn folds_chains_of_constant_ops() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 3, 2, 2]);
        let w = konst(&mut g, "w", vec![1, 3, 1, 1], 1);
        let w2 = g.push("relu_w", Op::Activation(Act::Relu), vec![w]).unwrap();
        let w3 = g.push("double_w", Op::Add, vec![w2, w2]).unwrap();
        let y = g.push("scale", Op::Mul, vec![x, w3]).unwrap();
        g.outputs.push(y);
        assert!(assert_preserves(&mut g, run));
        assert_eq!(g.nodes.len(), 1);
        assert!(g.tensor(w3).is_const());
    }
}
