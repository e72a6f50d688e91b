//! Removes nodes that pass their input through: Identity, a Reshape to the same shape, a
//! Slice that keeps everything, a Concat of one tensor.

use super::rewrite;
use crate::ir::{Graph, Op};

pub fn run(g: &mut Graph) -> bool {
    rewrite::each_node(g, |rw, i| {
        let n = rw.node(i);
        let x = n.inputs.first().copied();
        let noop = match &n.op {
            Op::Identity => true,
            Op::Reshape { shape } => x.is_some_and(|x| rw.shape(x) == shape),
            Op::Slice { axes } => x.is_some_and(|x| axes.iter().all(|a| a.start == 0 && a.end == rw.shape(x)[a.axis])),
            Op::Concat { .. } => n.inputs.len() == 1,
            _ => false,
        };
        if noop {
            rw.bypass(i, 0);
        }
        noop
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::SliceAxis;
    use crate::passes::testing::assert_preserves;

    #[test]
    fn drops_identity_full_slice_and_same_shape_reshape() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 4, 2, 2]);
        let a = g.push("id", Op::Identity, vec![x]).unwrap();
        let b = g.push("slice", Op::Slice { axes: vec![SliceAxis { axis: 1, start: 0, end: 4 }] }, vec![a]).unwrap();
        let c = g.push("reshape", Op::Reshape { shape: vec![1, 4, 2, 2] }, vec![b]).unwrap();
        let d = g.push("relu", Op::Activation(crate::ir::Act::Relu), vec![c]).unwrap();
        let e = g.push("cut", Op::Slice { axes: vec![SliceAxis { axis: 1, start: 0, end: 3 }] }, vec![d]).unwrap();
        g.outputs.push(e);
        assert!(assert_preserves(&mut g, run));
        let ops: Vec<_> = g.nodes.iter().map(|n| n.op.name()).collect();
        assert_eq!(ops, ["Relu", "Slice"]);
    }
}
