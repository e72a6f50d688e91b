//! Evaluates every node whose inputs are all constants; its output becomes a constant.
//!
//! Folding runs the interpreter at compile time, so it is bounded: a node whose estimated
//! work ([`Graph::node_work`]) would take the pass over [`BUDGET`] stays in the graph (and
//! runs with the network), so that a hostile model cannot make compiling take hours.

use super::rewrite;
use crate::interp::{self, Arg};
use crate::ir::Graph;

/// Scalar operations one run of the pass may spend (a few tens of milliseconds).
pub const BUDGET: u64 = 1 << 25;

pub fn run(g: &mut Graph) -> bool {
    let mut spent = 0u64;
    rewrite::each_node(g, |rw, i| {
        let n = rw.node(i);
        let foldable = !n.inputs.is_empty() && n.inputs.iter().all(|&t| rw.is_const(t));
        let work = if foldable { rw.graph().node_work(n) } else { 0 };
        if !foldable || spent.saturating_add(work) > BUDGET {
            return false;
        }
        spent += work;
        let args: Vec<Arg<'_>> = n.inputs.iter().map(|&t| Arg { shape: rw.shape(t), data: rw.data(t).unwrap() }).collect();
        let value = interp::eval(&n.op, &args, rw.shape(n.output));
        let out = n.output;
        rw.remove(i);
        rw.set_data(out, value);
        true
    })
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
