//! Numeric precision of a node's matrix products.

use std::fmt;

use super::{Graph, Node, Op, Shape};

/// The number format a node's matrix products compute in.
///
/// - `F32`: everything in `f32`, the reference.
/// - `Bf16`: the weights of the matrix products ([`product_weights`]) are rounded to
///   bfloat16 (8 bits of mantissa, ties to even) and stored as such; activations, sums,
///   biases and every other operation stay `f32`. The result is the `f32` computation over
///   the rounded weights.
/// - `Int8`: the product's input is quantized per tensor to unsigned bytes and its weights
///   per output channel to signed bytes ([`Quant`]); the sums are exact 32-bit integers,
///   scaled back to `f32` before the bias and the rest of the epilogue. The result is the
///   `f32` computation over the dequantized input and weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    #[default]
    F32,
    Bf16,
    Int8,
}

impl Precision {
    pub const ALL: [Precision; 3] = [Precision::F32, Precision::Bf16, Precision::Int8];

    /// The name users write (`--precision bf16`).
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
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

/// An affine quantization to unsigned bytes: `x ≈ scale * (q - zero)`, `q` in `0..=255`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QParams {
    pub scale: f32,
    pub zero: u8,
}

impl QParams {
    /// The parameters that cover `min..=max` (widened to include 0, so that 0 is exact).
    pub fn from_range(min: f32, max: f32) -> QParams {
        let (lo, hi) = (min.min(0.0), max.max(0.0));
        let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
        let zero = (-lo / scale).round_ties_even().clamp(0.0, 255.0) as u8;
        QParams { scale, zero }
    }

    /// `1 / scale`, the multiplier the kernels use.
    pub fn inv_scale(&self) -> f32 {
        1.0 / self.scale
    }

    /// The byte of `x` (after its squeeze-excite factor `s`), as every kernel tier computes it.
    pub fn quantize(&self, x: f32, s: f32) -> u8 {
        ghostnet_runtime::qgemm::quantize_value(x, s, self.inv_scale(), self.zero as f32)
    }

    /// The value byte `q` stands for.
    pub fn dequantize(&self, q: u8) -> f32 {
        self.scale * (q as f32 - self.zero as f32)
    }
}

/// How an int8 node computes its matrix product.
#[derive(Clone, Debug, PartialEq)]
pub struct Quant {
    /// The product's input (after the squeeze-excite scale, if any).
    pub input: QParams,
    /// Per output channel `j`, the weights' scale: `w ≈ scale[j] * q` with `q` in
    /// `-127..=127` ([`quantize_weight`]).
    pub weight_scales: Vec<f32>,
    /// Signal-to-quantization-noise ratio (dB) of the node's output in int8 against `f32`,
    /// measured on the calibration inputs; `None` when not measured.
    pub error_db: Option<f32>,
}

/// The signed byte of weight `w` at scale `s`: `clamp(round_ties_even(w / s), -127, 127)`.
pub fn quantize_weight(w: f32, s: f32) -> i8 {
    (w / s).round_ties_even().clamp(-127.0, 127.0) as i8
}

/// Symmetric per-channel scales of `w`: `max |w| / 127` over each output channel (1 for a
/// channel of zeros).
pub fn weight_scales(w: &[f32], layout: ChannelLayout) -> Vec<f32> {
    let mut max = vec![0f32; layout.channels];
    for (i, &v) in w.iter().enumerate() {
        let c = layout.channel(i);
        max[c] = max[c].max(v.abs());
    }
    max.into_iter().map(|m| if m > 0.0 { m / 127.0 } else { 1.0 }).collect()
}

/// Where the output channel is in a weight tensor: `w[i]` belongs to channel
/// `(i / inner) % channels`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelLayout {
    pub channels: usize,
    pub inner: usize,
}

impl ChannelLayout {
    /// Output channels along axis `axis` of `shape`.
    pub fn along(shape: &Shape, axis: usize) -> ChannelLayout {
        ChannelLayout { channels: shape[axis], inner: shape[axis + 1..].iter().product() }
    }

    pub fn channel(&self, i: usize) -> usize {
        (i / self.inner) % self.channels
    }
}

/// The output-channel layout of the product weights of `n` (input 1): axis 0 of a
/// convolution's `[M, C, kh, kw]` and of a transposed `Gemm` B `[N, K]`, axis 1 of `[K, N]`.
pub fn weight_layout(g: &Graph, n: &Node) -> ChannelLayout {
    let shape = g.shape(n.inputs[1]);
    match &n.op {
        Op::Gemm { trans_b: false, .. } | Op::MatMul => ChannelLayout::along(shape, 1),
        _ => ChannelLayout::along(shape, 0),
    }
}
