//! Folds a per-channel gate multiply `x * s` (`s` of shape `N x C x 1 x 1`, such as the
//! squeeze-excite output) into the 1x1 convolutions that read the product: they scale
//! their weights' input rows by `s` instead, and the product is never stored.

use super::rewrite;
use crate::ir::{Graph, Op};

pub fn run(g: &mut Graph) -> bool {
    rewrite::each_node(g, |rw, i| {
        if !matches!(rw.node(i).op, Op::Mul) {
            return false;
        }
        let n = rw.node(i);
        let (a, b, out) = (n.inputs[0], n.inputs[1], n.output);
        let (sa, sb) = (rw.shape(a), rw.shape(b));
        let gate_of = |x: &Vec<usize>, s: &Vec<usize>| x.len() == 4 && *s == vec![x[0], x[1], 1, 1] && x[2] * x[3] > 1;
        let (x, s) = if gate_of(sa, sb) {
            (a, b)
        } else if gate_of(sb, sa) {
            (b, a)
        } else {
            return false;
        };
        // The scale is read at run time; a constant one is folded into weights instead.
        if rw.is_const(s) || rw.is_const(x) {
            return false;
        }
        let readers = rw.readers(out).to_vec();
        let ok = !rw.is_output(out)
            && !readers.is_empty()
            && readers.iter().all(|&j| {
                let r = rw.node(j);
                matches!(&r.op, Op::Conv(c) if c.kernel == [1, 1] && c.groups == 1 && !c.scale)
                    && r.inputs[0] == out
                    && r.inputs[1..].iter().all(|&t| t != out)
            });
        if !ok {
            return false;
        }
        for j in readers {
            rw.update(j, |r| {
                let Op::Conv(c) = &mut r.op else { unreachable!() };
                c.scale = true;
                r.inputs[0] = x;
                r.inputs.push(s);
                r.fused.push("Mul".into());
            });
        }
        rw.remove(i);
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Conv;
    use crate::passes::testing::{assert_preserves, konst};

    #[test]
    fn gate_multiply_moves_into_the_pointwise_conv() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![2, 6, 3, 3]);
        let s = g.push("gate", Op::GlobalAveragePool, vec![x]).unwrap();
        let y = g.push("scale", Op::Mul, vec![x, s]).unwrap();
        let w = konst(&mut g, "w", vec![4, 6, 1, 1], 1);
        let mut conv = Conv::new(1, 1, 0, 1);
        conv.bias = true;
        let b = konst(&mut g, "b", vec![4], 2);
        let z = g.push("pw", Op::Conv(conv), vec![y, w, b]).unwrap();
        g.outputs.push(z);
        assert!(assert_preserves(&mut g, run));
        assert!(matches!(&g.nodes[1].op, Op::Conv(c) if c.scale));
        assert_eq!(g.nodes.len(), 2);
    }

    #[test]
    fn a_product_read_by_a_3x3_conv_stays() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 2, 4, 4]);
        let s = g.push("gate", Op::GlobalAveragePool, vec![x]).unwrap();
        let y = g.push("scale", Op::Mul, vec![x, s]).unwrap();
        let w = konst(&mut g, "w", vec![2, 2, 3, 3], 1);
        let z = g.push("conv", Op::Conv(Conv::new(3, 1, 1, 1)), vec![y, w]).unwrap();
        g.outputs.push(z);
        assert!(!assert_preserves(&mut g, run));
    }
}
