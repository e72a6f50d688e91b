//! Removes nodes whose outputs nothing reads, then drops unreferenced tensors.

use crate::ir::Graph;

pub fn run(g: &mut Graph) -> bool {
    let mut live = vec![false; g.tensors.len()];
    for &o in &g.outputs {
        live[o.index()] = true;
    }
    let mut keep = vec![false; g.nodes.len()];
    for (i, n) in g.nodes.iter().enumerate().rev() {
        if live[n.output.index()] {
            keep[i] = true;
            for &t in &n.inputs {
                live[t.index()] = true;
            }
        }
    }
    let before = (g.nodes.len(), g.tensors.len());
    let mut it = keep.iter();
    g.nodes.retain(|_| *it.next().unwrap());
    g.compact();
    before != (g.nodes.len(), g.tensors.len())
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
