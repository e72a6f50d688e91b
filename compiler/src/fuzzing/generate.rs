//! Random valid networks for differential testing of the back end.
//!
//! [`network`] builds a graph from a stream of choices ([`Choices`]: a seeded generator for
//! the property test, the fuzzer's bytes for the `differential` target): GhostNet-like
//! bottlenecks with random widths, kernels and strides, squeeze-excite, residuals, GhostNetV2
//! attention, GhostNetV3 re-parameterizable branches, the quirks exporters write (`0 + x`,
//! `x * 1`, constants after convolutions, identity reshapes and transposes, splits that are
//! concatenated back), and the ops of the general path (padding, resizing, pooling,
//! slicing with steps, concatenation with constants, broadcast arithmetic, matrix products,
//! a batch whose images mix), ending with a head or not and with one to three outputs.
//! [`check`] compiles a graph through every pass and the lowering and compares the result,
//! run in process on every kernel tier, with the reference interpreter.

use crate::back::rust::{self, lower};
use crate::front::dsl::weights::SplitMix64;
use crate::interp;
use crate::ir::{numel, Act, Conv, CoordMode, Graph, NearestMode, Op, PadMode, Pool, Resize, ResizeMode, SliceAxis, TensorId};
use ghostnet_runtime::isa::Isa;

/// Where the generator's decisions come from.
pub trait Choices {
    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize;
}

/// Decisions from a seed.
pub struct Seeded(pub SplitMix64);

impl Choices for Seeded {
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n as u64) as usize
    }
}

/// Decisions from bytes (a fuzzer's input), one byte each; zeros once they run out, so
/// every input makes a network.
pub struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, at: 0 }
    }
}

impl Choices for Bytes<'_> {
    fn below(&mut self, n: usize) -> usize {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b as usize % n
    }
}

/// Builds a random network.
pub fn network(c: &mut dyn Choices) -> Graph {
    let seed = (0..4).fold(0u64, |s, _| (s << 8) | c.below(256) as u64);
    let mut b = Builder { c, g: Graph::new("random"), w: SplitMix64::new(seed), names: 0 };
    b.build();
    b.g
}

struct Builder<'c> {
    c: &'c mut dyn Choices,
    g: Graph,
    /// Weights and constants: not worth the fuzzer's bytes.
    w: SplitMix64,
    names: usize,
}

impl Builder<'_> {
    fn pick(&mut self, n: usize) -> usize {
        self.c.below(n)
    }

    /// True with probability `num / den`.
    fn chance(&mut self, num: usize, den: usize) -> bool {
        self.pick(den) < num
    }

    fn name(&mut self, what: &str) -> String {
        self.names += 1;
        format!("n{}.{what}", self.names)
    }

    fn shape(&self, t: TensorId) -> Vec<usize> {
        self.g.shape(t).clone()
    }

    /// A constant of `shape`, uniform in `[-scale, scale)` (shifted by `offset`).
    fn konst(&mut self, shape: Vec<usize>, scale: f32, offset: f32) -> TensorId {
        let data = (0..numel(&shape)).map(|_| offset + self.w.uniform(-scale, scale)).collect();
        let name = self.name("const");
        self.g.add_const(name, shape, data)
    }

    /// Appends `op` on `inputs`, or `None` when the shapes do not fit it.
    fn op(&mut self, what: &str, op: Op, inputs: Vec<TensorId>) -> Option<TensorId> {
        let name = self.name(what);
        self.g.push(name, op, inputs).ok()
    }

    fn act(&mut self) -> Act {
        match self.pick(5) {
            0 | 1 => Act::Relu,
            2 => Act::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 },
            3 => Act::Sigmoid,
            _ => Act::Clip { min: 0.0, max: 6.0 },
        }
    }

    fn conv(&mut self, x: TensorId, out: usize, conv: Conv) -> Option<TensorId> {
        let cin = self.shape(x)[1];
        let fan_in = (cin / conv.groups * conv.kernel[0] * conv.kernel[1]).max(1) as f32;
        let w = self.konst(vec![out, cin / conv.groups, conv.kernel[0], conv.kernel[1]], (3.0 / fan_in).sqrt(), 0.0);
        let mut inputs = vec![x, w];
        if conv.bias {
            inputs.push(self.konst(vec![out], 0.1, 0.0));
        }
        self.op("conv", Op::Conv(conv), inputs)
    }

    fn bn(&mut self, x: TensorId) -> Option<TensorId> {
        let c = self.shape(x)[1];
        let gamma = self.konst(vec![c], 0.5, 1.0);
        let beta = self.konst(vec![c], 0.2, 0.0);
        let mean = self.konst(vec![c], 0.2, 0.0);
        let var = self.konst(vec![c], 0.4, 1.0);
        self.op("bn", Op::BatchNorm { epsilon: 1e-5 }, vec![x, gamma, beta, mean, var])
    }

    /// conv, BatchNorm (sometimes folded by the exporter: a bias instead), activation.
    fn conv_bn(&mut self, x: TensorId, out: usize, mut conv: Conv, act: Option<Act>) -> Option<TensorId> {
        let folded = self.chance(1, 3);
        conv.bias = folded;
        let mut y = self.conv(x, out, conv)?;
        if !folded {
            y = self.bn(y)?;
        }
        match act {
            Some(a) => self.op("act", Op::Activation(a), vec![y]),
            None => Some(y),
        }
    }

    /// timm's ghost module: a 1x1 primary conv, a cheap depthwise conv on it, both
    /// concatenated and cut to `out` channels.
    fn ghost(&mut self, x: TensorId, out: usize, relu: bool) -> Option<TensorId> {
        let init = out.div_ceil(2);
        let act = relu.then_some(Act::Relu);
        let p = self.conv_bn(x, init, Conv::new(1, 1, 0, 1), act)?;
        let k = [1, 3, 5][self.pick(3)];
        let c = self.conv_bn(p, init, Conv::new(k, 1, k / 2, init), act)?;
        let cat = self.op("concat", Op::Concat { axis: 1 }, vec![p, c])?;
        if 2 * init == out && self.chance(1, 2) {
            return Some(cat);
        }
        self.op("slice", Op::Slice { axes: vec![SliceAxis::range(1, 0, out)] }, vec![cat])
    }

    /// GhostNetV2's attention: pooled, three convolutions, a sigmoid, upsampled nearest,
    /// multiplying the ghost module's output.
    fn ghost_v2(&mut self, x: TensorId, out: usize) -> Option<TensorId> {
        let s = self.shape(x);
        if s[2] < 2 || s[3] < 2 {
            return self.ghost(x, out, true);
        }
        let pool = Pool { count_include_pad: true, ..Pool::new([2, 2], [2, 2]) };
        let p = self.op("pool", Op::AveragePool(pool), vec![x])?;
        let r = self.conv_bn(p, out, Conv::new(1, 1, 0, 1), None)?;
        let r = self.conv_bn(r, out, Conv::new2([1, 5], [1, 1], [0, 2, 0, 2], out), None)?;
        let r = self.conv_bn(r, out, Conv::new2([5, 1], [1, 1], [2, 0, 2, 0], out), None)?;
        let gate = self.op("gate", Op::Activation(Act::Sigmoid), vec![r])?;
        let y = self.ghost(x, out, true)?;
        let up = Resize::nearest(&self.shape(gate), self.shape(y));
        let up = self.op("upsample", Op::Resize(up), vec![gate])?;
        if self.chance(1, 2) { self.op("attn", Op::Mul, vec![y, up]) } else { self.op("attn", Op::Mul, vec![up, y]) }
    }

    /// GhostNetV3's training form: parallel conv+BN branches (and a BatchNorm-only identity)
    /// summed, the sum started at 0 as the TorchScript exporter writes it.
    fn reparameterizable(&mut self, x: TensorId, out: usize, stride: usize) -> Option<TensorId> {
        let cin = self.shape(x)[1];
        let groups = if out == cin && self.chance(1, 2) { cin } else { 1 };
        let mut sum = if self.chance(1, 2) {
            let zero = self.g.add_const("zero", vec![], vec![0.0]);
            let first = self.conv_bn(x, out, Conv::new(3, stride, 1, groups), None)?;
            self.op("add0", Op::Add, vec![first, zero])?
        } else {
            self.conv_bn(x, out, Conv::new(3, stride, 1, groups), None)?
        };
        for _ in 0..1 + self.pick(3) {
            let k = [1, 3][self.pick(2)];
            let branch = self.conv_bn(x, out, Conv::new(k, stride, k / 2, groups), None)?;
            sum = self.op("add", Op::Add, vec![sum, branch])?;
        }
        if stride == 1 && out == cin && self.chance(1, 2) {
            let skip = self.bn(x)?;
            sum = self.op("add", Op::Add, vec![sum, skip])?;
        }
        let act = self.act();
        self.op("act", Op::Activation(act), vec![sum])
    }

    /// Squeeze-excite: a spatial mean, reduce and expand 1x1 convs, the gate multiplied in.
    fn squeeze_excite(&mut self, x: TensorId) -> Option<TensorId> {
        let c = self.shape(x)[1];
        let mean = if self.chance(1, 2) {
            self.op("gap", Op::GlobalAveragePool, vec![x])?
        } else {
            self.op("mean", Op::ReduceMean { axes: vec![2, 3], keepdims: true }, vec![x])?
        };
        let rd = (c / 4).max(1);
        let mut conv = Conv::new(1, 1, 0, 1);
        conv.bias = true;
        let r = self.conv(mean, rd, conv.clone())?;
        let r = self.op("relu", Op::Activation(Act::Relu), vec![r])?;
        let e = self.conv(r, c, conv)?;
        let gate = self.op("gate", Op::Activation(Act::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 }), vec![e])?;
        if self.chance(1, 2) { self.op("scale", Op::Mul, vec![x, gate]) } else { self.op("scale", Op::Mul, vec![gate, x]) }
    }

    /// A GhostNet bottleneck: ghost (or V2 ghost, or V3 branches), a strided depthwise conv,
    /// squeeze-excite, a second ghost, and the shortcut.
    fn bottleneck(&mut self, x: TensorId) -> Option<TensorId> {
        let s = self.shape(x);
        let cin = s[1];
        let out = 4 * (1 + self.pick(6));
        let mid = 4 * (1 + self.pick(8));
        let stride = if s[2] >= 4 && s[3] >= 4 && self.chance(1, 3) { 2 } else { 1 };
        let mut y = match self.pick(4) {
            0 => self.ghost_v2(x, mid)?,
            1 => self.reparameterizable(x, mid, 1)?,
            _ => self.ghost(x, mid, true)?,
        };
        if stride == 2 {
            let k = [3, 5][self.pick(2)];
            y = self.conv_bn(y, mid, Conv::new(k, 2, k / 2, mid), None)?;
        }
        if self.chance(1, 3) {
            y = self.squeeze_excite(y)?;
        }
        y = self.ghost(y, out, false)?;
        let shortcut = if stride == 1 && cin == out {
            x
        } else {
            let k = [3, 5][self.pick(2)];
            let d = self.conv_bn(x, cin, Conv::new(k, stride, k / 2, cin), None)?;
            self.conv_bn(d, out, Conv::new(1, 1, 0, 1), None)?
        };
        if self.chance(1, 2) { self.op("residual", Op::Add, vec![y, shortcut]) } else { self.op("residual", Op::Add, vec![shortcut, y]) }
    }

    /// What exporters write around the layers: neutral constants, constants after a
    /// convolution, identities, reshape and transpose round trips, splits concatenated back.
    fn quirk(&mut self, x: TensorId) -> Option<TensorId> {
        let s = self.shape(x);
        let c = s[1];
        match self.pick(9) {
            0 => {
                let zero = self.g.add_const("zero", vec![1, c, 1, 1], vec![0.0; c]);
                self.op("add0", Op::Add, vec![zero, x])
            }
            1 => {
                let one = self.g.add_const("one", vec![], vec![1.0]);
                let op = if self.chance(1, 2) { Op::Mul } else { Op::Div };
                self.op("mul1", op, vec![x, one])
            }
            2 => {
                let y = self.conv(x, c, Conv::new(1, 1, 0, 1))?;
                let shape = [vec![c, 1, 1], vec![1, c, 1, 1], vec![], vec![1]][self.pick(4)].clone();
                let k = self.konst(shape, 0.5, 0.0);
                let op = [Op::Add, Op::Sub, Op::Mul][self.pick(3)].clone();
                if self.chance(1, 2) { self.op("post", op, vec![y, k]) } else { self.op("post", op, vec![k, y]) }
            }
            3 => self.op("identity", Op::Identity, vec![x]),
            4 => {
                let flat = self.op("flatten", Op::Reshape { shape: vec![s[0], c * s[2] * s[3]] }, vec![x])?;
                self.op("unflatten", Op::Reshape { shape: s.clone() }, vec![flat])
            }
            5 => {
                let t = self.op("nhwc", Op::Transpose { perm: vec![0, 2, 3, 1] }, vec![x])?;
                self.op("nchw", Op::Transpose { perm: vec![0, 3, 1, 2] }, vec![t])
            }
            6 => {
                let cut = 1 + self.pick(c.max(2) - 1).min(c - 1);
                if cut >= c {
                    return Some(x);
                }
                let a = self.op("split", Op::Slice { axes: vec![SliceAxis::range(1, 0, cut)] }, vec![x])?;
                let b = self.op("split", Op::Slice { axes: vec![SliceAxis::range(1, cut, c)] }, vec![x])?;
                self.op("concat", Op::Concat { axis: 1 }, vec![a, b])
            }
            7 => self.op("whole", Op::Slice { axes: vec![SliceAxis::range(2, 0, s[2])] }, vec![x]),
            _ => self.op("concat1", Op::Concat { axis: 1 }, vec![x]),
        }
    }

    /// An op of the general path, its output the new current tensor (rank 4, or back to it).
    fn general(&mut self, x: TensorId) -> Option<TensorId> {
        let s = self.shape(x);
        let (c, h, w) = (s[1], s[2], s[3]);
        match self.pick(12) {
            0 => {
                let pads = (0..4).map(|_| [0, 1, 2][self.pick(3)]).collect::<Vec<_>>();
                let mode = match self.pick(4) {
                    0 => PadMode::Constant(0.5),
                    1 if h > 2 && w > 2 => PadMode::Reflect,
                    2 => PadMode::Wrap,
                    _ => PadMode::Edge,
                };
                let pads = vec![[0, 0], [0, 0], [pads[0], pads[1]], [pads[2], pads[3]]];
                self.op("pad", Op::Pad { pads, mode }, vec![x])
            }
            1 => {
                let sizes = vec![s[0], c, 1 + self.pick(2 * h + 2), 1 + self.pick(2 * w + 2)];
                let mode = match self.pick(5) {
                    0 => ResizeMode::Linear,
                    1 => ResizeMode::Nearest(NearestMode::RoundPreferFloor),
                    2 => ResizeMode::Nearest(NearestMode::RoundPreferCeil),
                    3 => ResizeMode::Nearest(NearestMode::Ceil),
                    _ => ResizeMode::Nearest(NearestMode::Floor),
                };
                let coords = [CoordMode::HalfPixel, CoordMode::HalfPixelSymmetric, CoordMode::PytorchHalfPixel, CoordMode::AlignCorners, CoordMode::Asymmetric];
                let coord = coords[self.pick(coords.len())];
                let scales = s.iter().zip(&sizes).map(|(&i, &o)| o as f32 / i as f32).collect();
                self.op("resize", Op::Resize(Resize { sizes, scales, mode, coord }), vec![x])
            }
            2 | 3 => {
                let k = [1 + self.pick(3), 1 + self.pick(3)];
                let mut p = Pool::new(k, [1 + self.pick(2), 1 + self.pick(2)]);
                p.pads = [self.pick(k[0]), self.pick(k[1]), self.pick(k[0]), self.pick(k[1])];
                p.ceil_mode = self.chance(1, 3);
                p.count_include_pad = self.chance(1, 2);
                if self.chance(1, 4) {
                    p.dilation = [2, 1];
                }
                let op = if self.chance(1, 2) { Op::MaxPool(p) } else { Op::AveragePool(p) };
                self.op("pool", op, vec![x])
            }
            4 => {
                let axis = 1 + self.pick(3);
                let step: isize = [1, 2, -1, -2][self.pick(4)];
                let dim = s[axis];
                let len = 1 + self.pick(dim);
                let span = (len - 1) * step.unsigned_abs();
                if span >= dim {
                    return Some(x);
                }
                let start = if step > 0 { self.pick(dim - span) } else { span + self.pick(dim - span) };
                self.op("slice", Op::Slice { axes: vec![SliceAxis { axis, start, len, step }] }, vec![x])
            }
            5 => {
                let axis = 1 + self.pick(3);
                let mut shape = s.clone();
                shape[axis] = 1 + self.pick(3);
                let k = self.konst(shape, 1.0, 0.0);
                let inputs = if self.chance(1, 2) { vec![x, k] } else { vec![k, x] };
                self.op("concat", Op::Concat { axis }, inputs)
            }
            6 => {
                // Broadcast arithmetic with a constant on either side.
                let shape = [vec![w], vec![h, 1], vec![1, c, 1, w], vec![], vec![c, h, w]][self.pick(5)].clone();
                let op = [Op::Add, Op::Sub, Op::Mul, Op::Div][self.pick(4)].clone();
                let offset = if op == Op::Div { 1.5 } else { 0.0 };
                let k = self.konst(shape, 0.5, offset);
                if op == Op::Div || self.chance(1, 2) { self.op("binary", op, vec![x, k]) } else { self.op("binary", op, vec![k, x]) }
            }
            7 => {
                let a = self.act();
                self.op("act", Op::Activation(a), vec![x])
            }
            8 => {
                // A BatchNorm on a rank-3 view.
                let flat = self.op("rank3", Op::Reshape { shape: vec![s[0], c, h * w] }, vec![x])?;
                let y = self.bn(flat)?;
                self.op("rank4", Op::Reshape { shape: s.clone() }, vec![y])
            }
            9 => {
                // A matrix product over the last axis.
                let n = 1 + self.pick(6);
                let m = self.konst(vec![w, n], 0.5, 0.0);
                self.op("matmul", Op::MatMul, vec![x, m])
            }
            10 => {
                // Grouped or dilated convolution.
                let groups = if c % 2 == 0 && self.chance(1, 2) { 2 } else { 1 };
                let out = groups * (1 + self.pick(4));
                let mut conv = Conv::new(3, 1, 1 + self.pick(1), groups);
                if self.chance(1, 2) && h > 4 && w > 4 {
                    conv.dilation = [2, 2];
                    conv.pads = [2, 2, 2, 2];
                }
                self.conv_bn(x, out, conv, Some(Act::Relu))
            }
            _ => {
                // A transpose that stays: height and width swapped.
                self.op("swap", Op::Transpose { perm: vec![0, 1, 3, 2] }, vec![x])
            }
        }
    }

    /// An op that mixes the images of a batch of two (the steps then run once on it).
    fn mix_batch(&mut self, x: TensorId) -> Option<TensorId> {
        let s = self.shape(x);
        match self.pick(3) {
            0 => {
                let t = self.op("batch_first", Op::Transpose { perm: vec![1, 0, 2, 3] }, vec![x])?;
                let y = self.conv_bn(t, s[0], Conv::new(1, 1, 0, 1), Some(Act::Relu))?;
                self.op("batch_back", Op::Transpose { perm: vec![1, 0, 2, 3] }, vec![y])
            }
            1 => {
                let k = self.konst(vec![s[0], 1, 1, 1], 0.5, 0.0);
                self.op("per_image", Op::Sub, vec![x, k])
            }
            _ => {
                let mean = self.op("batch_mean", Op::ReduceMean { axes: vec![0], keepdims: true }, vec![x])?;
                self.op("centered", Op::Sub, vec![x, mean])
            }
        }
    }

    /// A classifier head: pooled, a 1x1 conv, flattened, a linear layer.
    fn head(&mut self, x: TensorId) -> Option<TensorId> {
        let n = self.shape(x)[0];
        let pooled = self.op("global_pool", Op::GlobalAveragePool, vec![x])?;
        let f = 8 * (1 + self.pick(4));
        let mut conv = Conv::new(1, 1, 0, 1);
        conv.bias = true;
        let y = self.conv(pooled, f, conv)?;
        let y = self.op("act2", Op::Activation(Act::Relu), vec![y])?;
        let flat = self.op("flatten", Op::Reshape { shape: vec![n, f] }, vec![y])?;
        let classes = 2 + self.pick(10);
        if self.chance(1, 2) {
            let w = self.konst(vec![classes, f], (3.0 / f as f32).sqrt(), 0.0);
            let b = self.konst(vec![classes], 0.1, 0.0);
            self.op("classifier", Op::Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: true }, vec![flat, w, b])
        } else {
            let w = self.konst(vec![f, classes], (3.0 / f as f32).sqrt(), 0.0);
            self.op("classifier", Op::MatMul, vec![flat, w])
        }
    }

    fn build(&mut self) {
        let n = [1, 1, 1, 2][self.pick(4)];
        let c = 1 + self.pick(4);
        let (h, w) = (4 + self.pick(13), 4 + self.pick(13));
        let input = self.g.add_input("input", vec![n, c, h, w]);
        let stem = 4 * (1 + self.pick(4));
        let stride = 1 + self.pick(2);
        let mut x = self.conv_bn(input, stem, Conv::new(3, stride, 1, 1), Some(Act::Relu)).unwrap_or(input);
        let mut seen = vec![x];
        for _ in 0..1 + self.pick(6) {
            let next = match self.pick(10) {
                0..=3 => self.bottleneck(x),
                4 | 5 => self.quirk(x),
                6 if n > 1 => self.mix_batch(x),
                _ => self.general(x),
            };
            // Rank 4 keeps the next step simple; anything else ends up as an output.
            if let Some(y) = next {
                if self.g.shape(y).len() == 4 {
                    x = y;
                    seen.push(y);
                } else {
                    self.g.add_output(y);
                }
            }
        }
        let last = if self.chance(2, 3) { self.head(x).unwrap_or(x) } else { x };
        self.g.add_output(last);
        for _ in 0..self.pick(3) {
            let t = seen[self.pick(seen.len())];
            self.g.add_output(t);
        }
        if self.chance(1, 20) {
            self.g.add_output(input);
        }
    }
}

/// How far apart two results may be: `1e-4` of the reference's largest magnitude (at least
/// `1e-2`, so that outputs near zero do not demand more than the arithmetic gives).
fn tolerance(reference: &[f32]) -> f32 {
    1e-4 * reference.iter().fold(1e-2f32, |m, v| m.max(v.abs()))
}

/// Compiles `g` through every pass, the lowering and the Rust writer, runs the program on
/// every kernel tier this CPU has with one and two threads, and compares each output with
/// the interpreter on `g` as built. Returns `Err` with what went wrong; `Ok(false)` when the
/// reference itself is not finite (nothing to compare).
pub fn check(g: &Graph) -> Result<bool, String> {
    g.validate().map_err(|e| format!("the generator made an invalid graph: {e}"))?;
    let input: Vec<f32> = {
        let mut r = SplitMix64::new(7);
        (0..numel(g.shape(g.inputs[0]))).map(|_| r.uniform(-1.0, 1.0)).collect()
    };
    let want = interp::run(g, &[&input]).map_err(|e| format!("the interpreter refused the graph: {e}"))?;
    if want.iter().flatten().any(|v| !v.is_finite()) {
        return Ok(false);
    }
    let compare = |what: &str, got: &[Vec<f32>]| -> Result<(), String> {
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            let tol = tolerance(w);
            let diff = g.iter().zip(w).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            if g.len() != w.len() || diff.is_nan() || diff > tol {
                return Err(format!("{what}: output {k} differs from the interpreter by {diff:e} (tolerance {tol:e})"));
            }
        }
        Ok(())
    };
    let fused = crate::optimize(g.clone()).map_err(|e| format!("the passes failed: {e}"))?;
    compare("the interpreter after the passes", &interp::run(&fused, &[&input]).map_err(|e| e.to_string())?)?;
    let program = lower::lower(&fused).map_err(|e| format!("the back end refused a graph the interpreter runs: {e}"))?;
    let options = rust::Options { no_std: false, source: "a random network".into(), weights: rust::WeightsSource::Inline(Vec::new()), ..Default::default() };
    crate::back::rust::writer::write_string(&program, &options).map_err(|e| format!("the writer failed: {e}"))?;
    for isa in Isa::ALL.into_iter().filter(|i| i.supported()) {
        for threads in [1, 2] {
            let flat = program.run(isa, &input, threads);
            let mut got = Vec::with_capacity(want.len());
            let mut at = 0;
            for w in &want {
                got.push(flat[at..at + w.len()].to_vec());
                at += w.len();
            }
            compare(&format!("the program on {} with {threads} thread(s)", isa.name()), &got)?;
        }
    }
    Ok(true)
}
