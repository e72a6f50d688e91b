//! Removes nodes that pass their input through: Identity, a Reshape to the same shape, a
//! Slice that keeps everything, a Concat of one tensor, a Transpose that permutes nothing,
//! a Pad that adds nothing, a nearest Resize that reads every pixel where it is.

use super::rewrite;
use crate::ir::{Graph, Op};

pub fn run(g: &mut Graph) -> bool {
    rewrite::each_node(g, |rw, i| {
        let n = rw.node(i);
        let x = n.inputs.first().copied();
        let noop = match &n.op {
            Op::Identity => true,
            Op::Reshape { shape } => x.is_some_and(|x| rw.shape(x) == shape),
            Op::Slice { axes } => x.is_some_and(|x| axes.iter().all(|a| a.is_whole(rw.shape(x)[a.axis]))),
            Op::Concat { .. } => n.inputs.len() == 1,
            Op::Transpose { perm } => perm.iter().enumerate().all(|(i, &p)| i == p),
            Op::Pad { pads, .. } => pads.iter().all(|p| *p == [0, 0]),
            Op::Resize(r) => x.is_some_and(|x| rw.shape(x) == &r.sizes && r.scales.iter().all(|&s| s == 1.0) && matches!(r.mode, crate::ir::ResizeMode::Nearest(_)) && r.is_floor_exact(rw.shape(x))),
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
        let b = g.push("slice", Op::Slice { axes: vec![SliceAxis::range(1, 0, 4)] }, vec![a]).unwrap();
        let c = g.push("reshape", Op::Reshape { shape: vec![1, 4, 2, 2] }, vec![b]).unwrap();
        let d = g.push("relu", Op::Activation(crate::ir::Act::Relu), vec![c]).unwrap();
        let e = g.push("cut", Op::Slice { axes: vec![SliceAxis::range(1, 0, 3)] }, vec![d]).unwrap();
        g.outputs.push(e);
        assert!(assert_preserves(&mut g, run));
        let ops: Vec<_> = g.nodes.iter().map(|n| n.op.name()).collect();
        assert_eq!(ops, ["Relu", "Slice"]);
    }
}
