//! Numeric precision of a node's matrix products.

use std::fmt;

use super::{Graph, Node, Op};

/// The number format a node's matrix products use for their weights.
///
/// - `F32`: everything in `f32`, the reference.
/// - `Bf16`: the weights of the matrix products ([`product_weights`]) are rounded to
///   bfloat16 (8 bits of mantissa, ties to even) and stored as such; activations, sums,
///   biases and every other operation stay `f32`. The result is the `f32` computation over
///   the rounded weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    #[default]
    F32,
    Bf16,
}

impl Precision {
    pub const ALL: [Precision; 2] = [Precision::F32, Precision::Bf16];

    /// The name users write (`--precision bf16`).
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }

    pub fn from_name(name: &str) -> Option<Precision> {
        Precision::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Positions of `n`'s inputs that are the constant weights of a matrix product: the 1x1
/// convolution and the ghost module's primary convolution (input 1), the two layers of a
/// squeeze-excite gate (inputs 1 and 3), a `Gemm` or `MatMul` by a constant (input 1).
/// Depthwise and dense convolutions, and everything else, have none.
pub fn product_weights(g: &Graph, n: &Node) -> &'static [usize] {
    let konst = |i: usize| n.inputs.get(i).is_some_and(|&t| g.tensor(t).is_const());
    let positions: &'static [usize] = match &n.op {
        Op::Conv(c) if c.groups == 1 && c.kernel == [1, 1] && c.stride == [1, 1] && c.pads == [0; 4] => &[1],
        Op::Ghost { .. } | Op::Gemm { .. } | Op::MatMul => &[1],
        Op::SqueezeExcite { .. } => &[1, 3],
        _ => &[],
    };
    if positions.iter().all(|&i| konst(i)) { positions } else { &[] }
}
