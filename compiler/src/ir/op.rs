//! Operations and their shape rules.

use super::{Shape, ShapeDisplay};

/// An element-wise activation, standalone or fused into a producer's epilogue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `clamp(alpha * x + beta, 0, 1)`.
    HardSigmoid { alpha: f32, beta: f32 },
    /// `clamp(x, min, max)`.
    Clip { min: f32, max: f32 },
}

impl Act {
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Act::Relu => x.max(0.0),
            Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Act::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Act::Clip { min, max } => x.max(min).min(max),
        }
    }

    /// The ONNX op type this activation comes from.
    pub fn onnx_name(self) -> &'static str {
        match self {
            Act::Relu => "Relu",
            Act::Sigmoid => "Sigmoid",
            Act::HardSigmoid { .. } => "HardSigmoid",
            Act::Clip { .. } => "Clip",
        }
    }
}

/// Optional activation, as used in fused epilogues.
pub fn apply_act(act: Option<Act>, x: f32) -> f32 {
    match act {
        Some(a) => a.apply(x),
        None => x,
    }
}

/// A 2-D convolution over NCHW, with the epilogue the passes fuse into it.
///
/// Inputs, in order: `x [N, C, H, W]`, `w [M, C/groups, kh, kw]`, then `b [M]` if `bias`,
/// `r [N, M, OH, OW]` if `residual`, and `s [N, C, 1, 1]` if `scale`. The result is
/// `act(conv(x * s, w) + b) + r`.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Top, left, bottom, right.
    pub pads: [usize; 4],
    pub dilation: [usize; 2],
    pub groups: usize,
    pub bias: bool,
    pub act: Option<Act>,
    pub residual: bool,
    pub scale: bool,
}

impl Conv {
    /// A plain convolution with square kernel `k`, `stride`, symmetric padding `pad`.
    pub fn new(k: usize, stride: usize, pad: usize, groups: usize) -> Self {
        Conv::new2([k, k], [stride, stride], [pad, pad, pad, pad], groups)
    }

    pub fn new2(kernel: [usize; 2], stride: [usize; 2], pads: [usize; 4], groups: usize) -> Self {
        Conv {
            kernel,
            stride,
            pads,
            dilation: [1, 1],
            groups,
            bias: false,
            act: None,
            residual: false,
            scale: false,
        }
    }

    /// Number of inputs the node takes.
    pub fn arity(&self) -> usize {
        2 + self.bias as usize + self.residual as usize + self.scale as usize
    }

    /// Position of the bias input.
    pub fn bias_input(&self) -> Option<usize> {
        self.bias.then_some(2)
    }

    /// Position of the residual input.
    pub fn residual_input(&self) -> Option<usize> {
        self.residual.then_some(2 + self.bias as usize)
    }

    /// Position of the input-scale input.
    pub fn scale_input(&self) -> Option<usize> {
        self.scale.then_some(2 + self.bias as usize + self.residual as usize)
    }

    /// Whether every output channel reads exactly one input channel.
    pub fn is_depthwise(&self, in_channels: usize, out_channels: usize) -> bool {
        self.groups == in_channels && self.groups == out_channels
    }

    /// Output spatial size for an input of `h x w`, or `None` if the window does not fit.
    pub fn out_hw(&self, h: usize, w: usize) -> Option<[usize; 2]> {
        let dim = |n: usize, lo: usize, hi: usize, k: usize, d: usize, s: usize| -> Option<usize> {
            let span = d.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
            let padded = n.checked_add(lo)?.checked_add(hi)?;
            if s == 0 || padded < span {
                return None;
            }
            Some((padded - span) / s + 1)
        };
        Some([
            dim(h, self.pads[0], self.pads[2], self.kernel[0], self.dilation[0], self.stride[0])?,
            dim(w, self.pads[1], self.pads[3], self.kernel[1], self.dilation[1], self.stride[1])?,
        ])
    }

    fn infer(&self, inputs: &[&Shape]) -> Result<Shape, String> {
        let (x, w) = (inputs[0], inputs[1]);
        if x.len() != 4 {
            return Err(format!("input must be NCHW (rank 4), got {}", ShapeDisplay(x)));
        }
        if w.len() != 4 {
            return Err(format!("weight must be rank 4, got {}", ShapeDisplay(w)));
        }
        let (n, c, h, wd) = (x[0], x[1], x[2], x[3]);
        let (m, cg, kh, kw) = (w[0], w[1], w[2], w[3]);
        if self.groups == 0 || c % self.groups != 0 || m % self.groups != 0 {
            return Err(format!("groups {} must divide input channels {c} and output channels {m}", self.groups));
        }
        if cg != c / self.groups {
            return Err(format!(
                "weight {} expects {cg} input channels per group, but the input {} has {c} channels in {} group(s)",
                ShapeDisplay(w),
                ShapeDisplay(x),
                self.groups
            ));
        }
        if [kh, kw] != self.kernel {
            return Err(format!("weight {} disagrees with kernel {}x{}", ShapeDisplay(w), self.kernel[0], self.kernel[1]));
        }
        if self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err("stride and dilation must be positive".into());
        }
        let span = |k: usize, d: usize| d.saturating_mul(k.saturating_sub(1)).saturating_add(1);
        let spans = [span(kh, self.dilation[0]), span(kw, self.dilation[1])];
        if self.pads.iter().enumerate().any(|(i, &p)| p > 0 && p >= spans[i % 2]) {
            return Err(format!("pads {:?} are not smaller than kernel {kh}x{kw}", self.pads));
        }
        let [oh, ow] = self
            .out_hw(h, wd)
            .ok_or_else(|| format!("kernel {kh}x{kw} does not fit input {} with pads {:?}", ShapeDisplay(x), self.pads))?;
        let out = vec![n, m, oh, ow];
        let mut next = 2;
        if self.bias {
            if *inputs[next] != [m] {
                return Err(format!("bias {} must be [{m}]", ShapeDisplay(inputs[next])));
            }
            next += 1;
        }
        if self.residual {
            if *inputs[next] != out {
                return Err(format!("residual {} must match output {}", ShapeDisplay(inputs[next]), ShapeDisplay(&out)));
            }
            next += 1;
        }
        if self.scale && *inputs[next] != [n, c, 1, 1] {
            return Err(format!("input scale {} must be {n}x{c}x1x1", ShapeDisplay(inputs[next])));
        }
        Ok(out)
    }
}

/// A pooling window over H and W (average or max pooling).
///
/// Window `(oy, ox)` covers input rows `oy * stride - pads[0] + ky * dilation` for
/// `ky < kernel` (columns alike); taps outside the input are skipped, and average pooling
/// divides by the number of taps inside the input, or inside the padded input when
/// `count_include_pad`.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Top, left, bottom, right.
    pub pads: [usize; 4],
    pub dilation: [usize; 2],
    /// Output sizes round up: a last window that starts inside the input (or its top or left
    /// padding) and ends past the bottom or right padding is kept.
    pub ceil_mode: bool,
    pub count_include_pad: bool,
}

impl Pool {
    /// An unpadded window `kernel` moving by `stride`.
    pub fn new(kernel: [usize; 2], stride: [usize; 2]) -> Self {
        Pool { kernel, stride, pads: [0; 4], dilation: [1, 1], ceil_mode: false, count_include_pad: false }
    }

    /// Output size for an input of `h x w`, or `None` if the window does not fit.
    pub fn out_hw(&self, h: usize, w: usize) -> Option<[usize; 2]> {
        let dim = |n: usize, lo: usize, hi: usize, k: usize, d: usize, s: usize| -> Option<usize> {
            let span = d.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
            let padded = n.checked_add(lo)?.checked_add(hi)?;
            if s == 0 || padded < span {
                return None;
            }
            if !self.ceil_mode {
                return Some((padded - span) / s + 1);
            }
            let out = (padded - span).div_ceil(s) + 1;
            // The last window must start inside the input or its leading padding.
            Some(if (out - 1) * s >= n + lo { out - 1 } else { out })
        };
        Some([
            dim(h, self.pads[0], self.pads[2], self.kernel[0], self.dilation[0], self.stride[0])?,
            dim(w, self.pads[1], self.pads[3], self.kernel[1], self.dilation[1], self.stride[1])?,
        ])
    }

    fn infer(&self, x: &Shape) -> Result<Shape, String> {
        if x.len() != 4 {
            return Err(format!("input must be NCHW, got {}", ShapeDisplay(x)));
        }
        if self.kernel.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err("kernel, strides and dilations must be positive".into());
        }
        let span = |k: usize, d: usize| d.saturating_mul(k - 1).saturating_add(1);
        let spans = [span(self.kernel[0], self.dilation[0]), span(self.kernel[1], self.dilation[1])];
        if self.pads.iter().enumerate().any(|(i, &p)| p > 0 && p >= spans[i % 2]) {
            return Err(format!("pads {:?} are not smaller than window {}x{}", self.pads, self.kernel[0], self.kernel[1]));
        }
        let [oh, ow] = self.out_hw(x[2], x[3]).ok_or_else(|| {
            format!("window {}x{} does not fit input {} with pads {:?}", self.kernel[0], self.kernel[1], ShapeDisplay(x), self.pads)
        })?;
        Ok(vec![x[0], x[1], oh, ow])
    }
}

/// One sliced axis: keeps the `len` indices `start, start + step, ...` (a negative step
/// walks backwards).
#[derive(Clone, Debug, PartialEq)]
pub struct SliceAxis {
    pub axis: usize,
    pub start: usize,
    pub len: usize,
    pub step: isize,
}

impl SliceAxis {
    /// Indices `start..end` (step 1).
    pub fn range(axis: usize, start: usize, end: usize) -> Self {
        SliceAxis { axis, start, len: end.saturating_sub(start), step: 1 }
    }

    /// Whether it keeps a whole axis of length `dim` as it is.
    pub fn is_whole(&self, dim: usize) -> bool {
        self.start == 0 && self.step == 1 && self.len == dim
    }

    /// Whether every index it takes is inside `0..dim`.
    fn fits(&self, dim: usize) -> bool {
        if self.len == 0 {
            return self.start <= dim;
        }
        let last = (self.start as i128) + (self.len as i128 - 1) * self.step as i128;
        self.step != 0 && self.start < dim && (0..dim as i128).contains(&last)
    }
}

/// How Resize maps an output coordinate to the input (ONNX `coordinate_transformation_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordMode {
    /// `(x + 0.5) / scale - 0.5`.
    HalfPixel,
    /// `half_pixel` about the centre of the input (ONNX opset 19).
    HalfPixelSymmetric,
    /// `half_pixel`, but 0 when the output has length 1.
    PytorchHalfPixel,
    /// `x * (in - 1) / (out - 1)` (0 when the output has length 1).
    AlignCorners,
    /// `x / scale`.
    Asymmetric,
    /// `(x + 0.5) / scale`.
    TfHalfPixelForNn,
}

/// How nearest-neighbour Resize rounds a source coordinate (ONNX `nearest_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NearestMode {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

/// Resize interpolation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeMode {
    Nearest(NearestMode),
    /// Linear along every resized axis (bilinear for H and W).
    Linear,
}

/// Resize to `sizes` (the whole output shape). Per axis, `scales` is the factor the
/// coordinate transformation divides by: the one the model gives, or `out / in` computed
/// in `f32`, as ONNX Runtime does (so that odd sizes round as it does).
#[derive(Clone, Debug, PartialEq)]
pub struct Resize {
    pub sizes: Shape,
    pub scales: Vec<f32>,
    pub mode: ResizeMode,
    pub coord: CoordMode,
}

impl Resize {
    /// Nearest-neighbour, asymmetric coordinates, floor rounding to `sizes`: PyTorch's
    /// `F.interpolate(mode="nearest")`.
    pub fn nearest(input: &[usize], sizes: Shape) -> Self {
        let scales = input.iter().zip(&sizes).map(|(&i, &o)| o as f32 / i as f32).collect();
        Resize { sizes, scales, mode: ResizeMode::Nearest(NearestMode::Floor), coord: CoordMode::Asymmetric }
    }

    /// The input coordinate output index `x` of axis `axis` comes from (`len` is the input
    /// length), in `f32` with ONNX Runtime's order of operations.
    pub fn source(&self, axis: usize, x: usize, len: usize) -> f32 {
        let (x, scale, out, len) = (x as f32, self.scales[axis], self.sizes[axis], len as f32);
        match self.coord {
            CoordMode::HalfPixel => (x + 0.5) / scale - 0.5,
            CoordMode::HalfPixelSymmetric => {
                let adjustment = out as f32 / (scale * len);
                let center = len / 2.0;
                let offset = center * (1.0 - adjustment);
                offset + (x + 0.5) / scale - 0.5
            }
            CoordMode::PytorchHalfPixel => {
                if out > 1 {
                    (x + 0.5) / scale - 0.5
                } else {
                    0.0
                }
            }
            CoordMode::AlignCorners => {
                if out == 1 {
                    0.0
                } else {
                    x * (len - 1.0) / (out as f32 - 1.0)
                }
            }
            CoordMode::Asymmetric => x / scale,
            CoordMode::TfHalfPixelForNn => (x + 0.5) / scale,
        }
    }

    /// The input index nearest-neighbour resizing reads for output index `x` of `axis`
    /// (ONNX Runtime reads an axis of scale 1 as it is, whatever the transformation).
    pub fn nearest_index(&self, axis: usize, x: usize, len: usize) -> usize {
        if self.scales[axis] == 1.0 {
            return x.min(len - 1);
        }
        let s = self.source(axis, x, len);
        let r = match self.mode {
            ResizeMode::Nearest(NearestMode::Floor) => s.floor(),
            ResizeMode::Nearest(NearestMode::Ceil) => s.ceil(),
            ResizeMode::Nearest(NearestMode::RoundPreferFloor) if s == s.floor() + 0.5 => s.floor(),
            ResizeMode::Nearest(NearestMode::RoundPreferCeil) if s == s.floor() + 0.5 => s.ceil(),
            _ => s.round(),
        };
        (r.max(0.0) as usize).min(len - 1)
    }

    /// Linear interpolation along `axis` for output index `x`: the two input indices and
    /// their weights, as ONNX Runtime computes them (the coordinate clamped to the input,
    /// equal weights when both indices are the same).
    pub fn linear_taps(&self, axis: usize, x: usize, len: usize) -> ([usize; 2], [f32; 2]) {
        let s = self.source(axis, x, len).max(0.0).min(len as f32 - 1.0);
        let i0 = (s as usize).min(len - 1);
        let i1 = (i0 + 1).min(len - 1);
        if i0 == i1 {
            return ([i0, i1], [0.5, 0.5]);
        }
        ([i0, i1], [(i1 as f32 - s).abs(), (s - i0 as f32).abs()])
    }

    /// Whether nearest resizing reads input index `floor(x * in / out)` for every output
    /// index of every axis: the upsampling the ghost module's gate does.
    pub fn is_floor_exact(&self, input: &[usize]) -> bool {
        matches!(self.mode, ResizeMode::Nearest(_))
            && (0..input.len()).all(|a| (0..self.sizes[a]).all(|x| self.nearest_index(a, x, input[a]) == (x * input[a] / self.sizes[a]).min(input[a] - 1)))
    }
}

/// How Pad fills the border.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode {
    Constant(f32),
    /// Mirrored without repeating the edge: `[a b c]` padded by 2 on the left is `[c b a b c]`.
    Reflect,
    /// The edge value repeated.
    Edge,
    /// Periodic: the other end of the axis.
    Wrap,
}

/// ONNX's `QuantizeLinear` then `DequantizeLinear` with the same parameters, per tensor:
/// `(clamp(round_ties_even(x / scale) + zero, lo, hi) - zero) * scale`, `lo..=hi` the integer
/// type's range (0..=255 or -128..=127).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FakeQuant {
    pub scale: f32,
    pub zero: i32,
    pub lo: i32,
    pub hi: i32,
}

impl FakeQuant {
    pub fn apply(&self, x: f32) -> f32 {
        let q = ((x / self.scale).round_ties_even() + self.zero as f32).clamp(self.lo as f32, self.hi as f32);
        (q - self.zero as f32) * self.scale
    }

    /// The range of the outputs: the clamp it applies, without the rounding.
    pub fn range(&self) -> (f32, f32) {
        ((self.lo - self.zero) as f32 * self.scale, (self.hi - self.zero) as f32 * self.scale)
    }
}

/// An operation of the IR.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// See [`Conv`].
    Conv(Conv),
    /// Inference batch normalization over axis 1. Inputs: `x, scale, bias, mean, var`, the
    /// last four of shape `[C]`: `(x - mean) / sqrt(var + epsilon) * scale + bias`.
    BatchNorm { epsilon: f32 },
    /// Element-wise activation.
    Activation(Act),
    /// `a + b` with NumPy broadcasting.
    Add,
    /// `a - b` with NumPy broadcasting.
    Sub,
    /// `a * b` with NumPy broadcasting.
    Mul,
    /// `a / b` with NumPy broadcasting.
    Div,
    /// Concatenation along `axis`.
    Concat { axis: usize },
    /// Keeps a strided range of indices along some axes.
    Slice { axes: Vec<SliceAxis> },
    /// Axes permuted: output axis `i` is input axis `perm[i]`.
    Transpose { perm: Vec<usize> },
    /// `pads[axis]` elements added before and after each axis.
    Pad { pads: Vec<[usize; 2]>, mode: PadMode },
    /// Mean over H and W: `N x C x H x W -> N x C x 1 x 1`.
    GlobalAveragePool,
    /// Mean over `axes`.
    ReduceMean { axes: Vec<usize>, keepdims: bool },
    /// Average pooling over H and W.
    AveragePool(Pool),
    /// Max pooling over H and W.
    MaxPool(Pool),
    /// Max over H and W: `N x C x H x W -> N x C x 1 x 1`.
    GlobalMaxPool,
    /// See [`Resize`].
    Resize(Resize),
    /// Same data, new shape (Flatten, Squeeze and Unsqueeze become this).
    Reshape { shape: Shape },
    /// `alpha * A' B' + beta * C` where `'` transposes when asked. Inputs `a, b, [c]`.
    Gemm { alpha: f32, beta: f32, trans_a: bool, trans_b: bool },
    /// NumPy's `matmul`: matrix products over the last two axes, the others broadcast; a
    /// 1-D operand is a row (`a`) or column (`b`) vector whose axis is dropped from the result.
    MatMul,
    /// Output equals input.
    Identity,
    /// See [`FakeQuant`]: activations quantized by the model (QDQ form).
    FakeQuant(FakeQuant),
    /// The ghost module: one primary convolution and one cheap convolution over its
    /// output, concatenated on channels and cut to `channels`.
    ///
    /// Inputs: `x, w1, b1, w2, b2`, then `r` if `residual`, then `s [N, C, 1, 1]` if `scale`,
    /// then `g [N, channels, h, w]` if `gate`. With `p = primary(x * s, w1) + b1` (then its
    /// act) and `c = cheap(p, w2) + b2` (then its act), the result is
    /// `concat(p, c)[:, :channels] * up(g) + r`, where `up` is nearest-neighbour upsampling
    /// to the output size with floor rounding (GhostNetV2's attention gate).
    Ghost { primary: Conv, cheap: Conv, channels: usize, residual: bool, scale: bool, gate: bool },
    /// The squeeze-excite gate: `gate(w2 · act(w1 · mean_hw(x) + b1) + b2)`, shape `N x C x 1 x 1`.
    /// Inputs: `x, w1 [R, C, 1, 1], b1 [R], w2 [C, R, 1, 1], b2 [C]`.
    SqueezeExcite { act: Act, gate: Act },
}

impl Op {
    /// The op name shown to users (the ONNX op type for ONNX ops).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Conv(_) => "Conv",
            Op::BatchNorm { .. } => "BatchNormalization",
            Op::Activation(a) => a.onnx_name(),
            Op::Add => "Add",
            Op::Sub => "Sub",
            Op::Mul => "Mul",
            Op::Div => "Div",
            Op::Concat { .. } => "Concat",
            Op::Slice { .. } => "Slice",
            Op::Transpose { .. } => "Transpose",
            Op::Pad { .. } => "Pad",
            Op::GlobalAveragePool => "GlobalAveragePool",
            Op::ReduceMean { .. } => "ReduceMean",
            Op::AveragePool(_) => "AveragePool",
            Op::MaxPool(_) => "MaxPool",
            Op::GlobalMaxPool => "GlobalMaxPool",
            Op::Resize { .. } => "Resize",
            Op::Reshape { .. } => "Reshape",
            Op::Gemm { .. } => "Gemm",
            Op::MatMul => "MatMul",
            Op::Identity => "Identity",
            Op::FakeQuant(_) => "QuantizeLinear+DequantizeLinear",
            Op::Ghost { .. } => "Ghost",
            Op::SqueezeExcite { .. } => "SqueezeExcite",
        }
    }

    /// Accepted numbers of inputs.
    pub fn arity(&self) -> std::ops::RangeInclusive<usize> {
        match self {
            Op::Conv(c) => c.arity()..=c.arity(),
            Op::BatchNorm { .. } | Op::SqueezeExcite { .. } => 5..=5,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::MatMul => 2..=2,
            Op::Concat { .. } => 1..=usize::MAX,
            Op::Gemm { .. } => 2..=3,
            Op::Ghost { residual, scale, gate, .. } => {
                let n = 5 + *residual as usize + *scale as usize + *gate as usize;
                n..=n
            }
            Op::Activation(_)
            | Op::Slice { .. }
            | Op::Transpose { .. }
            | Op::Pad { .. }
            | Op::MaxPool(_)
            | Op::GlobalMaxPool
            | Op::GlobalAveragePool
            | Op::ReduceMean { .. }
            | Op::AveragePool(_)
            | Op::Resize { .. }
            | Op::Reshape { .. }
            | Op::FakeQuant(_)
            | Op::Identity => 1..=1,
        }
    }

    /// The output shape for inputs of `inputs` shapes, or why they do not fit.
    pub fn infer_shape(&self, inputs: &[&Shape]) -> Result<Shape, String> {
        let arity = self.arity();
        if !arity.contains(&inputs.len()) {
            return Err(if arity.start() == arity.end() {
                format!("takes {} inputs, got {}", arity.start(), inputs.len())
            } else {
                format!("takes {} to {} inputs, got {}", arity.start(), arity.end(), inputs.len())
            });
        }
        match self {
            Op::Conv(c) => c.infer(inputs),
            Op::BatchNorm { .. } => {
                let x = inputs[0];
                if x.len() < 2 {
                    return Err(format!("input {} has no channel axis", ShapeDisplay(x)));
                }
                for (i, p) in inputs[1..].iter().enumerate() {
                    if **p != [x[1]] {
                        let what = ["scale", "bias", "mean", "var"][i];
                        return Err(format!("{what} {} must be [{}]", ShapeDisplay(p), x[1]));
                    }
                }
                Ok(x.clone())
            }
            Op::Activation(_) | Op::Identity => Ok(inputs[0].clone()),
            Op::FakeQuant(q) => {
                if !(q.scale.is_finite() && q.scale > 0.0) || q.lo > q.zero || q.zero > q.hi {
                    return Err(format!("quantization scale {} and zero point {} are not valid for the range {}..={}", q.scale, q.zero, q.lo, q.hi));
                }
                Ok(inputs[0].clone())
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div => broadcast(inputs[0], inputs[1]),
            Op::Concat { axis } => {
                let first = inputs[0];
                if *axis >= first.len() {
                    return Err(format!("axis {axis} out of range for {}", ShapeDisplay(first)));
                }
                let mut out = first.clone();
                out[*axis] = 0;
                for s in inputs {
                    let same_rest = s.len() == first.len()
                        && s.iter().zip(first.iter()).enumerate().all(|(i, (a, b))| i == *axis || a == b);
                    if !same_rest {
                        return Err(format!(
                            "inputs {} and {} differ outside axis {axis}",
                            ShapeDisplay(first),
                            ShapeDisplay(s)
                        ));
                    }
                    out[*axis] = out[*axis]
                        .checked_add(s[*axis])
                        .ok_or_else(|| format!("concatenated size along axis {axis} overflows"))?;
                }
                Ok(out)
            }
            Op::Slice { axes } => {
                let mut out = inputs[0].clone();
                for (i, a) in axes.iter().enumerate() {
                    if a.axis >= out.len() || axes[..i].iter().any(|b| b.axis == a.axis) || !a.fits(inputs[0][a.axis]) {
                        return Err(format!(
                            "{} indices from {} by step {} on axis {} do not fit {}",
                            a.len,
                            a.start,
                            a.step,
                            a.axis,
                            ShapeDisplay(inputs[0])
                        ));
                    }
                    out[a.axis] = a.len;
                }
                Ok(out)
            }
            Op::Transpose { perm } => {
                let x = inputs[0];
                let mut seen = vec![false; x.len()];
                if perm.len() != x.len() || perm.iter().any(|&p| p >= x.len() || std::mem::replace(&mut seen[p], true)) {
                    return Err(format!("perm {perm:?} is not a permutation of the axes of {}", ShapeDisplay(x)));
                }
                Ok(perm.iter().map(|&p| x[p]).collect())
            }
            Op::Pad { pads, mode } => {
                let x = inputs[0];
                if pads.len() != x.len() {
                    return Err(format!("{} pads for {}", pads.len(), ShapeDisplay(x)));
                }
                let mut out = Vec::with_capacity(x.len());
                for (a, (&d, p)) in x.iter().zip(pads).enumerate() {
                    let limit = match mode {
                        PadMode::Reflect => d.saturating_sub(1),
                        PadMode::Wrap => d,
                        PadMode::Constant(_) | PadMode::Edge => usize::MAX,
                    };
                    if p[0] > limit || p[1] > limit {
                        return Err(format!("pads {:?} on axis {a} of {} are too wide for {mode:?} padding", p, ShapeDisplay(x)));
                    }
                    out.push(d.checked_add(p[0]).and_then(|v| v.checked_add(p[1])).ok_or("padded size overflows")?);
                }
                Ok(out)
            }
            Op::GlobalAveragePool | Op::GlobalMaxPool => {
                let x = inputs[0];
                if x.len() != 4 {
                    return Err(format!("input must be NCHW, got {}", ShapeDisplay(x)));
                }
                Ok(vec![x[0], x[1], 1, 1])
            }
            Op::ReduceMean { axes, keepdims } => {
                let x = inputs[0];
                if axes.iter().any(|&a| a >= x.len()) {
                    return Err(format!("axes {axes:?} out of range for {}", ShapeDisplay(x)));
                }
                Ok(x.iter()
                    .enumerate()
                    .filter_map(|(i, &d)| match (axes.contains(&i), keepdims) {
                        (false, _) => Some(d),
                        (true, true) => Some(1),
                        (true, false) => None,
                    })
                    .collect())
            }
            Op::AveragePool(p) | Op::MaxPool(p) => p.infer(inputs[0]),
            Op::Resize(r) => {
                let x = inputs[0];
                if r.sizes.len() != x.len() || r.scales.len() != x.len() || r.sizes.contains(&0) {
                    return Err(format!("cannot resize {} to {}", ShapeDisplay(x), ShapeDisplay(&r.sizes)));
                }
                if r.scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                    return Err(format!("scales {:?} must be positive and finite", r.scales));
                }
                Ok(r.sizes.clone())
            }
            Op::Reshape { shape } => {
                if super::checked_numel(shape).is_none() || super::checked_numel(shape) != super::checked_numel(inputs[0]) {
                    return Err(format!("cannot reshape {} to {}", ShapeDisplay(inputs[0]), ShapeDisplay(shape)));
                }
                Ok(shape.clone())
            }
            Op::Gemm { trans_a, trans_b, .. } => {
                let (a, b) = (inputs[0], inputs[1]);
                if a.len() != 2 || b.len() != 2 {
                    return Err(format!("operands must be matrices, got {} and {}", ShapeDisplay(a), ShapeDisplay(b)));
                }
                let (m, k) = if *trans_a { (a[1], a[0]) } else { (a[0], a[1]) };
                let (kb, n) = if *trans_b { (b[1], b[0]) } else { (b[0], b[1]) };
                if k != kb {
                    return Err(format!(
                        "inner dimensions differ: A is {} and B is {}{}",
                        ShapeDisplay(a),
                        ShapeDisplay(b),
                        if *trans_b { " (transposed)" } else { "" }
                    ));
                }
                let out = vec![m, n];
                if let Some(c) = inputs.get(2)
                    && broadcast(c, &out).ok().as_ref() != Some(&out)
                {
                    return Err(format!("C {} does not broadcast to {}", ShapeDisplay(c), ShapeDisplay(&out)));
                }
                Ok(out)
            }
            Op::MatMul => matmul_shape(inputs[0], inputs[1]),
            Op::Ghost { primary, cheap, channels, residual, scale, gate } => {
                let mut pin = vec![inputs[0], inputs[1], inputs[2]];
                if *scale {
                    pin.push(inputs[5 + *residual as usize]);
                }
                let p = primary.infer(&pin).map_err(|e| format!("primary: {e}"))?;
                let c = cheap.infer(&[&p, inputs[3], inputs[4]]).map_err(|e| format!("cheap: {e}"))?;
                if c[2..] != p[2..] {
                    return Err(format!("cheap output {} differs in size from primary {}", ShapeDisplay(&c), ShapeDisplay(&p)));
                }
                if *channels == 0 || *channels > p[1] + c[1] {
                    return Err(format!("keeps {channels} of {} channels", p[1] + c[1]));
                }
                let out = vec![p[0], *channels, p[2], p[3]];
                if *residual && *inputs[5] != out {
                    return Err(format!("residual {} must match output {}", ShapeDisplay(inputs[5]), ShapeDisplay(&out)));
                }
                if *gate {
                    let g = inputs[5 + *residual as usize + *scale as usize];
                    if g.len() != 4 || g[..2] != out[..2] || g[2] == 0 || g[3] == 0 {
                        return Err(format!("gate {} must be {}x{}xHxW", ShapeDisplay(g), out[0], out[1]));
                    }
                }
                Ok(out)
            }
            Op::SqueezeExcite { .. } => {
                let x = inputs[0];
                if x.len() != 4 {
                    return Err(format!("input must be NCHW, got {}", ShapeDisplay(x)));
                }
                let (n, c) = (x[0], x[1]);
                let r = inputs[1].first().copied().unwrap_or(0);
                let want: [&[usize]; 4] = [&[r, c, 1, 1], &[r], &[c, r, 1, 1], &[c]];
                for (i, w) in want.iter().enumerate() {
                    if inputs[i + 1].as_slice() != *w {
                        return Err(format!("parameter {} is {}, expected {}", i + 1, ShapeDisplay(inputs[i + 1]), ShapeDisplay(w)));
                    }
                }
                Ok(vec![n, c, 1, 1])
            }
        }
    }

    /// Multiply-accumulates for inputs of `inputs` shapes producing `out` (saturating, so
    /// that absurd shapes give a huge count rather than an overflow).
    pub fn macs(&self, inputs: &[&Shape], out: &Shape) -> u64 {
        let size = |s: &[usize]| s.iter().fold(1u64, |acc, &d| acc.saturating_mul(d as u64));
        let conv_macs = |w: &Shape, out: &Shape| -> u64 {
            // Each output element reads C/groups * kh * kw inputs.
            size(out).saturating_mul(size(&w[1..]))
        };
        match self {
            Op::Conv(_) => conv_macs(inputs[1], out),
            Op::Gemm { trans_a, .. } => {
                let k = if *trans_a { inputs[0][0] } else { inputs[0][1] };
                size(out).saturating_mul(k as u64)
            }
            Op::MatMul => size(out).saturating_mul(inputs[0].last().copied().unwrap_or(1) as u64),
            Op::Ghost { primary, .. } => {
                let x = inputs[0];
                let (w1, w2) = (inputs[1], inputs[3]);
                let [oh, ow] = primary.out_hw(x[2], x[3]).unwrap_or([0, 0]);
                let p = vec![x[0], w1[0], oh, ow];
                let c = vec![x[0], w2[0], oh, ow];
                conv_macs(w1, &p).saturating_add(conv_macs(w2, &c))
            }
            Op::SqueezeExcite { .. } => {
                let (w1, w2) = (inputs[1], inputs[3]);
                size(&inputs[0][..1]).saturating_mul(size(&w1[..2]).saturating_add(size(&w2[..2])))
            }
            _ => 0,
        }
    }
}

/// The shape of NumPy's `matmul(a, b)`.
pub fn matmul_shape(a: &Shape, b: &Shape) -> Result<Shape, String> {
    let bad = || format!("cannot multiply {} by {}", ShapeDisplay(a), ShapeDisplay(b));
    if a.is_empty() || b.is_empty() {
        return Err(bad());
    }
    let (m, k) = if a.len() == 1 { (1, a[0]) } else { (a[a.len() - 2], a[a.len() - 1]) };
    let (kb, n) = if b.len() == 1 { (b[0], 1) } else { (b[b.len() - 2], b[b.len() - 1]) };
    if k != kb {
        return Err(bad());
    }
    let batch_a = a[..a.len().saturating_sub(2)].to_vec();
    let batch_b = b[..b.len().saturating_sub(2)].to_vec();
    let mut out = broadcast(&batch_a, &batch_b).map_err(|_| bad())?;
    if a.len() > 1 {
        out.push(m);
    }
    if b.len() > 1 {
        out.push(n);
    }
    Ok(out)
}

/// NumPy multidirectional broadcasting of two shapes.
pub fn broadcast(a: &Shape, b: &Shape) -> Result<Shape, String> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(format!("shapes {} and {} do not broadcast", ShapeDisplay(a), ShapeDisplay(b))),
        };
    }
    Ok(out)
}
