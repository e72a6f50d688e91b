//! Folds a per-channel gate multiply `x * s` (`s` of shape `N x C x 1 x 1`, such as the
//! squeeze-excite output) into the 1x1 convolutions that read the product: they scale
//! their weights' input rows by `s` instead, and the product is never stored.

use crate::ir::{Graph, Op};

pub fn run(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        if !matches!(g.nodes[i].op, Op::Mul) {
            i += 1;
            continue;
        }
        let n = &g.nodes[i];
        let (a, b, out) = (n.inputs[0], n.inputs[1], n.output);
        let (sa, sb) = (g.shape(a), g.shape(b));
        let gate_of = |x: &Vec<usize>, s: &Vec<usize>| x.len() == 4 && *s == vec![x[0], x[1], 1, 1] && x[2] * x[3] > 1;
        let (x, s) = if gate_of(sa, sb) {
            (a, b)
        } else if gate_of(sb, sa) {
            (b, a)
        } else {
            i += 1;
            continue;
        };
        let readers: Vec<usize> = (0..g.nodes.len()).filter(|&j| g.nodes[j].inputs.contains(&out)).collect();
        let ok = !g.outputs.contains(&out)
            && !readers.is_empty()
            && readers.iter().all(|&j| {
                let r = &g.nodes[j];
                matches!(&r.op, Op::Conv(c) if c.kernel == [1, 1] && c.groups == 1 && !c.scale)
                    && r.inputs[0] == out
                    && r.inputs[1..].iter().all(|&t| t != out)
            });
        if !ok {
            i += 1;
            continue;
        }
        for &j in &readers {
            let r = &mut g.nodes[j];
            let Op::Conv(c) = &mut r.op else { unreachable!() };
            c.scale = true;
            r.inputs[0] = x;
            r.inputs.push(s);
            r.fused.push("Mul".into());
        }
        g.nodes.remove(i);
        changed = true;
    }
    changed
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
