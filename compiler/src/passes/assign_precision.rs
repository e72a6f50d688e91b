//! Gives the matrix products by constant weights ([`product_weights`]) the requested
//! precision, when they are large enough for it to matter; every other node stays `f32`.
//! Nodes that quantization decided on (they carry a [`crate::ir::Quant`]) keep theirs.

use crate::ir::precision::product_weights;
use crate::ir::{Graph, Node, Precision};

/// Matrix products with fewer weights than this stay `f32` under bfloat16.
///
/// bfloat16 pays in bytes: the weights stream from memory once per image. The small
/// products are a few percent of the bytes (GhostNet 1.0x: the 24 products under this size
/// hold 2% of the matrix weights) but carry a large share of the rounding noise: in
/// GhostNetV3 0.5x the logits' SQNR against `f32` is 44 dB with every product in
/// bfloat16 and 49 dB with these kept in `f32`.
pub const MIN_BF16_WEIGHTS: usize = 16384;

pub fn run(g: &mut Graph, precision: Precision) -> bool {
    let mut changed = false;
    for i in 0..g.nodes.len() {
        if g.nodes[i].quant.is_some() {
            continue;
        }
        let want = if reduced(g, &g.nodes[i]) { precision } else { Precision::F32 };
        if g.nodes[i].precision != want {
            g.nodes[i].precision = want;
            changed = true;
        }
    }
    changed
}

/// Whether `n` takes a reduced precision: a matrix product of at least [`MIN_BF16_WEIGHTS`].
fn reduced(g: &Graph, n: &Node) -> bool {
    let weights: usize = product_weights(g, n).iter().map(|&i| g.tensor(n.inputs[i]).numel()).sum();
    weights >= MIN_BF16_WEIGHTS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Conv, Op};
    use crate::passes::testing::konst;

    #[test]
    fn only_large_matrix_products_change() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 128, 5, 5]);
        let w = konst(&mut g, "w", vec![128, 128, 1, 1], 1);
        let y = g.push("pw", Op::Conv(Conv::new(1, 1, 0, 1)), vec![x, w]).unwrap();
        let wd = konst(&mut g, "wd", vec![128, 1, 3, 3], 2);
        let z = g.push("dw", Op::Conv(Conv::new(3, 1, 1, 128)), vec![y, wd]).unwrap();
        let w3 = konst(&mut g, "w3", vec![16, 128, 3, 3], 3);
        let d = g.push("dense", Op::Conv(Conv::new(3, 1, 1, 1)), vec![z, w3]).unwrap();
        let w4 = konst(&mut g, "w4", vec![8, 16, 1, 1], 4);
        let o = g.push("small", Op::Conv(Conv::new(1, 1, 0, 1)), vec![d, w4]).unwrap();
        g.outputs.push(o);
        assert!(run(&mut g, Precision::Bf16));
        let p: Vec<Precision> = g.nodes.iter().map(|n| n.precision).collect();
        assert_eq!(p, [Precision::Bf16, Precision::F32, Precision::F32, Precision::F32]);
        assert!(!run(&mut g, Precision::Bf16));
        assert!(run(&mut g, Precision::F32));
        assert!(g.nodes.iter().all(|n| n.precision == Precision::F32));
    }
}
