//! Removes nodes whose outputs nothing reads, then drops unreferenced tensors.

use super::rewrite;
use crate::ir::Graph;

pub fn run(g: &mut Graph) -> bool {
    // From the last node back, so a node's readers are gone before it is looked at.
    let removed = rewrite::each_node_rev(g, |rw, i| {
        let unread = rw.use_count(rw.node(i).output) == 0;
        if unread {
            rw.remove(i);
        }
        unread
    });
    let tensors = g.tensors.len();
    g.compact();
    removed || tensors != g.tensors.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Act, Op};

    #[test]
    fn removes_unread_branches_and_their_weights() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 2, 2, 2]);
        let w = g.add_const("w", vec![2], vec![1.0, 2.0]);
        let _unused = g.push("dead", Op::Mul, vec![x, w]).unwrap();
        let y = g.push("relu", Op::Activation(Act::Relu), vec![x]).unwrap();
        g.outputs.push(y);
        assert!(run(&mut g));
        g.validate().unwrap();
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(g.tensors.len(), 2);
        assert!(!run(&mut g));
    }
}
