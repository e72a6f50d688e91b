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

/// Average pooling window (no padding support beyond what `pads` says).
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pads: [usize; 4],
    pub count_include_pad: bool,
}

/// One sliced axis: keeps indices `start..end`.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceAxis {
    pub axis: usize,
    pub start: usize,
    pub end: usize,
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
    /// Keeps a range of indices along some axes (step 1).
    Slice { axes: Vec<SliceAxis> },
    /// Mean over H and W: `N x C x H x W -> N x C x 1 x 1`.
    GlobalAveragePool,
    /// Mean over `axes`.
    ReduceMean { axes: Vec<usize>, keepdims: bool },
    /// Average pooling over H and W.
    AveragePool(Pool),
    /// Nearest-neighbour resize of H and W to `size` with asymmetric coordinates and floor
    /// rounding: `out[y][x] = in[floor(y * H / OH)][floor(x * W / OW)]`.
    Resize { size: [usize; 2] },
    /// Same data, new shape (Flatten, Squeeze and Unsqueeze become this).
    Reshape { shape: Shape },
    /// `alpha * A' B' + beta * C` where `'` transposes when asked. Inputs `a, b, [c]`.
    Gemm { alpha: f32, beta: f32, trans_a: bool, trans_b: bool },
    /// 2-D matrix product.
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
            Op::GlobalAveragePool => "GlobalAveragePool",
            Op::ReduceMean { .. } => "ReduceMean",
            Op::AveragePool(_) => "AveragePool",
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
                for a in axes {
                    if a.axis >= out.len() || a.start > a.end || a.end > inputs[0][a.axis] {
                        return Err(format!(
                            "range {}..{} on axis {} does not fit {}",
                            a.start,
                            a.end,
                            a.axis,
                            ShapeDisplay(inputs[0])
                        ));
                    }
                    out[a.axis] = a.end - a.start;
                }
                Ok(out)
            }
            Op::GlobalAveragePool => {
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
            Op::AveragePool(p) => {
                let x = inputs[0];
                if x.len() != 4 {
                    return Err(format!("input must be NCHW, got {}", ShapeDisplay(x)));
                }
                let conv = Conv::new2(p.kernel, p.stride, p.pads, 1);
                let [oh, ow] = conv.out_hw(x[2], x[3]).ok_or_else(|| {
                    format!("window {}x{} does not fit input {}", p.kernel[0], p.kernel[1], ShapeDisplay(x))
                })?;
                Ok(vec![x[0], x[1], oh, ow])
            }
            Op::Resize { size } => {
                let x = inputs[0];
                if x.len() != 4 || size.contains(&0) {
                    return Err(format!("cannot resize {} to {}x{}", ShapeDisplay(x), size[0], size[1]));
                }
                Ok(vec![x[0], x[1], size[0], size[1]])
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
            Op::MatMul => {
                let (a, b) = (inputs[0], inputs[1]);
                if a.len() != 2 || b.len() != 2 || a[1] != b[0] {
                    return Err(format!("cannot multiply {} by {}", ShapeDisplay(a), ShapeDisplay(b)));
                }
                Ok(vec![a[0], b[1]])
            }
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
            Op::MatMul => size(out).saturating_mul(inputs[0][1] as u64),
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
