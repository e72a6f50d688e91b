//! Lowering a fused graph to a [`Program`]: kernel calls with every offset, stride and
//! size fixed, packed weights in one blob, and one planned arena.
//!
//! Activations are NHWC, one image at a time: a tensor `N x C x H x W` occupies
//! `H * W * C` arena elements with pixels `C` apart (`N x F` occupies `F`; other ranks are
//! row-major). A ghost module's two halves are channel ranges of one buffer; a reshape that
//! keeps the element order is the same buffer; a residual whose last reader is the node
//! adding it is overwritten in place. When an op mixes the images of a batch, the steps
//! run once on the whole batch instead ([`layout::Mode`]).
//!
//! Lowering runs in three stages: every node is classified ([`How`] it runs), the arena is
//! planned ([`plan`]), and every node is emitted as kernel calls ([`emit::Emit`], which
//! also packs the weights). Each op family has its own module with both its classification
//! and its emission: [`conv`] (convolutions, the ghost module, squeeze-excite), [`pool`]
//! (pooling and reductions), [`linear`] (Gemm, MatMul), [`elementwise`] (arithmetic,
//! activations, BatchNorm) and [`data`] (reshapes, transposes, slices, concatenation,
//! padding, resizing). The fused forms GhostNet is made of run on the SIMD kernels; every
//! other form of an op runs on the general kernels of [`rt::nd`], which read any layout.

mod conv;
mod data;
mod elementwise;
mod emit;
mod layout;
mod linear;
mod plan;
mod pool;

use std::fmt;

use ghostnet_runtime as rt;
use rt::conv::Dense;
use rt::dwconv::Depthwise;
use rt::gemm::Gemm;
use rt::isa::{Act as RtAct, Arena, Isa, Part, Src};
use rt::nd::{self, Nd};
use rt::ops::BinOp;
use rt::pool::{AvgPool, GlobalAvg};
use rt::qgemm::{QGemm, Quantize};

use crate::ir::{numel, Act, Graph, Node, Op, ShapeDisplay, TensorId};
use layout::{Layouts, Mode};

/// An owned [`rt::nd::Nd`]: a strided view of the arena, the weights or the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operand {
    pub src: Src,
    pub strides: Vec<isize>,
}

impl Operand {
    pub fn nd(&self) -> Nd<'_> {
        Nd { src: self.src, strides: &self.strides }
    }
}

/// A kernel call of the compiled network.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Copy the NCHW input image into the arena as NHWC.
    InputToNhwc { dst: usize, ld: usize, channels: usize, hw: usize },
    Gemm(Gemm),
    /// A matrix product whose `B` is packed in bfloat16 (`rt::gemm::pack_bf16`).
    GemmBf16(Gemm),
    /// `f32` rows to bytes, the input of a [`Kind::QGemm`].
    Quantize(Quantize),
    /// A matrix product in 8-bit integers.
    QGemm(QGemm),
    Depthwise(Depthwise),
    /// A dense convolution; `from_input` reads the caller's NCHW image instead of the arena.
    Dense { conv: Dense, from_input: bool },
    GlobalAvg(GlobalAvg),
    AvgPool(AvgPool),
    /// The general kernels of [`rt::nd`], with their views owned.
    Map { dims: Vec<usize>, x: Operand, y: Operand, act: RtAct },
    Zip { op: BinOp, dims: Vec<usize>, a: Operand, b: Operand, y: Operand, act: RtAct },
    Pad { dims: Vec<usize>, x_dims: Vec<usize>, before: Vec<usize>, mode: nd::PadMode, x: Operand, y: Operand },
    Resize { dims: Vec<usize>, x_dims: Vec<usize>, scales: Vec<f32>, interp: nd::Interp, coord: nd::Coord, x: Operand, y: Operand },
    Pool { window: nd::Window, x: Operand, y: Operand },
    Reduce { max: bool, dims: Vec<usize>, inner: Vec<usize>, x: Operand, y: Operand },
    MatMul { batch: Vec<usize>, m: usize, k: usize, n: usize, alpha: f32, beta: f32, a: Operand, b: Operand, c: Option<Operand>, y: Operand },
    Conv { shape: nd::ConvShape, act: RtAct, x: Operand, w: Operand, bias: Option<Operand>, scale: Option<Operand>, residual: Option<Operand>, y: Operand },
}

/// One step and the layer (graph node) it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub layer: String,
    pub kind: Kind,
}

/// One block of an output copied out after the steps: `hw` pixels of `channels` values,
/// `ld` apart, at arena offset `off`, to `dst` in the output (NCHW order), relative to
/// where the output starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLoc {
    pub off: usize,
    pub ld: usize,
    pub channels: usize,
    pub hw: usize,
    pub dst: usize,
}

/// One output of the network: written flattened (row-major), after the outputs before it,
/// in `forward`'s one output array.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub name: String,
    pub shape: Vec<usize>,
    /// Where it starts in the output array.
    pub offset: usize,
    /// The blocks each run of the steps copies out (image `n` of a per-image run lands
    /// `n * image_len` further).
    pub copies: Vec<OutputLoc>,
}

impl Output {
    pub fn len(&self) -> usize {
        numel(&self.shape)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A network ready to be written out (or run in process).
#[derive(Clone, Debug)]
pub struct Program {
    pub name: String,
    pub input_shape: Vec<usize>,
    pub outputs: Vec<Output>,
    /// How many times the steps run per forward pass: once per image of the batch, or once
    /// for the whole batch (when some op mixes images).
    pub runs: usize,
    pub steps: Vec<Step>,
    /// Length of the arena in `f32`s.
    pub arena_len: usize,
    /// The packed weights, every block aligned to 16 values.
    pub weights: Vec<f32>,
}

impl Program {
    pub fn batch(&self) -> usize {
        self.input_shape.first().copied().unwrap_or(1)
    }

    /// Input values one run of the steps reads.
    pub fn image_len(&self) -> usize {
        numel(&self.input_shape) / self.runs
    }

    /// Values of all outputs together.
    pub fn output_len(&self) -> usize {
        self.outputs.iter().map(Output::len).sum()
    }

    /// The shape of the only output.
    ///
    /// # Panics
    /// If there are several.
    pub fn output_shape(&self) -> &[usize] {
        assert_eq!(self.outputs.len(), 1, "the network has several outputs");
        &self.outputs[0].shape
    }

    /// Copies every output of run `n` out of the arena into `out` (all outputs).
    fn copy_outputs(&self, arena: &mut [f32], n: usize, out: &mut [f32]) {
        for o in &self.outputs {
            let image = o.len() / self.runs;
            for c in &o.copies {
                let at = o.offset + n * image + c.dst;
                rt::ops::nhwc_to_nchw(Arena::new(arena), c.off, c.ld, c.channels, c.hw, &mut out[at..at + c.channels * c.hw]);
            }
        }
    }

    /// Runs the program in this process with the runtime crate's kernels, `threads` at a
    /// time: exactly what the generated code does (on WebAssembly without threads, one).
    /// Returns the outputs back to back.
    pub fn run(&self, isa: Isa, input: &[f32], threads: usize) -> Vec<f32> {
        assert_eq!(input.len(), numel(&self.input_shape), "input length");
        let mut arena = vec![0f32; self.arena_len];
        let mut out = vec![0f32; self.output_len()];
        #[cfg(not(all(target_family = "wasm", not(target_feature = "atomics"))))]
        let mut team = rt::team::Team::new(threads);
        #[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
        let _ = threads;
        for n in 0..self.runs {
            let image = &input[n * self.image_len()..(n + 1) * self.image_len()];
            #[cfg(not(all(target_family = "wasm", not(target_feature = "atomics"))))]
            {
                let count = team.threads();
                // SAFETY: every thread runs a disjoint part of each step and waits on the
                // barrier after each (Ctx's methods do both).
                let shared = unsafe { rt::isa::SharedArena::new(Arena::new(&mut arena)) };
                team.run(&|index, barrier| {
                    let ctx = rt::exec::Ctx {
                        isa,
                        arena: shared.get(),
                        weights: &self.weights,
                        input: image,
                        part: Part { index, count },
                        barrier: (count > 1).then_some(barrier),
                    };
                    for s in &self.steps {
                        execute(&ctx, &s.kind);
                    }
                });
            }
            #[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
            {
                let ctx = rt::exec::Ctx { isa, arena: Arena::new(&mut arena), weights: &self.weights, input: image, part: Part::ALL, barrier: None };
                for s in &self.steps {
                    execute(&ctx, &s.kind);
                }
            }
            self.copy_outputs(&mut arena, n, &mut out);
        }
        out
    }

    /// Median time of every step over `reps` runs of the first image on one thread, in
    /// seconds; for finding the next bottleneck.
    pub fn profile(&self, isa: Isa, input: &[f32], reps: usize) -> Vec<f64> {
        let mut arena = vec![0f32; self.arena_len];
        let mut times = vec![Vec::with_capacity(reps); self.steps.len()];
        let image = &input[..self.image_len()];
        for _ in 0..reps.max(1) {
            let ctx = rt::exec::Ctx {
                isa,
                arena: Arena::new(&mut arena),
                weights: &self.weights,
                input: image,
                part: Part::ALL,
                barrier: None,
            };
            for (i, s) in self.steps.iter().enumerate() {
                let t = std::time::Instant::now();
                execute(&ctx, &s.kind);
                times[i].push(t.elapsed().as_secs_f64());
            }
        }
        times
            .into_iter()
            .map(|mut t| {
                t.sort_by(f64::total_cmp);
                t[t.len() / 2]
            })
            .collect()
    }
}

/// Multiply-accumulates of one step (dense arithmetic only).
pub fn step_macs(kind: &Kind) -> u64 {
    match kind {
        Kind::Gemm(g) | Kind::GemmBf16(g) => (g.m * g.k * g.n) as u64,
        Kind::QGemm(g) => (g.m * g.k * g.n) as u64,
        Kind::Depthwise(d) => (d.oh * d.ow * d.c * d.kh * d.kw) as u64,
        Kind::Dense { conv: d, .. } => (d.oh * d.ow * d.cout * d.cin * d.kh * d.kw) as u64,
        Kind::MatMul { batch, m, k, n, .. } => (numel(batch) * m * k * n) as u64,
        Kind::Conv { shape: c, .. } => (c.n * c.m * c.oh * c.ow * (c.c / c.groups) * c.kh * c.kw) as u64,
        _ => 0,
    }
}

/// A short description of a step: kernel and shape.
pub fn describe(kind: &Kind) -> String {
    let dims = |d: &[usize]| ShapeDisplay(d).to_string();
    match kind {
        Kind::InputToNhwc { channels, hw, .. } => format!("input NCHW->NHWC {channels}x{hw}"),
        Kind::Gemm(g) | Kind::GemmBf16(g) => format!(
            "gemm{} m{} k{} n{}{}{}",
            if matches!(kind, Kind::GemmBf16(_)) { " bf16" } else { "" },
            g.m,
            g.k,
            g.n,
            if g.scale.is_some() { " +scale" } else { "" },
            if g.residual.is_some() { " +res" } else { "" }
        ),
        Kind::Quantize(q) => format!("quantize {}x{}{}", q.m, q.k, if q.scale.is_some() { " +scale" } else { "" }),
        Kind::QGemm(g) => format!("gemm int8 m{} k{} n{}{}", g.m, g.k, g.n, if g.residual.is_some() { " +res" } else { "" }),
        Kind::Depthwise(d) => format!("dw {}x{}/{} {}x{}x{}", d.kh, d.kw, d.sh, d.oh, d.ow, d.c),
        Kind::Dense { conv: d, .. } => format!("conv {}x{}/{} {}->{} {}x{}", d.kh, d.kw, d.sh, d.cin, d.cout, d.oh, d.ow),
        Kind::GlobalAvg(g) => format!("gap {}x{}", g.pixels, g.c),
        Kind::AvgPool(a) => format!("avgpool {}x{}/{} {}x{}x{}", a.kh, a.kw, a.sh, a.oh, a.ow, a.c),
        Kind::Map { dims: d, .. } => format!("map {}", dims(d)),
        Kind::Zip { op, dims: d, .. } => format!("{op:?} {}", dims(d)),
        Kind::Pad { dims: d, .. } => format!("pad to {}", dims(d)),
        Kind::Resize { dims: d, .. } => format!("resize to {}", dims(d)),
        Kind::Pool { window: w, .. } => format!("{}pool {}x{}/{} {}x{}", if w.max { "max" } else { "avg" }, w.kh, w.kw, w.sh, w.oh, w.ow),
        Kind::Reduce { max, dims: d, inner, .. } => format!("{} of {} over {}", if *max { "max" } else { "mean" }, dims(inner), dims(d)),
        Kind::MatMul { batch, m, k, n, .. } => format!("matmul {}x m{m} k{k} n{n}", numel(batch)),
        Kind::Conv { shape: c, .. } => format!("conv {}x{}/{} {}->{} groups {}", c.kh, c.kw, c.sh, c.c, c.m, c.groups),
    }
}

/// One step through the runtime's context, as the generated code does it.
pub fn execute(ctx: &rt::exec::Ctx<'_>, kind: &Kind) {
    match kind {
        Kind::InputToNhwc { dst, ld, channels, hw } => ctx.input_to_nhwc(*dst, *ld, *channels, *hw),
        Kind::Gemm(g) => ctx.gemm(g),
        Kind::GemmBf16(g) => ctx.gemm_bf16(g),
        Kind::Quantize(q) => ctx.quantize(q),
        Kind::QGemm(g) => ctx.qgemm(g),
        Kind::Depthwise(d) => ctx.depthwise(d),
        Kind::Dense { conv, from_input: true } => ctx.dense_input(conv),
        Kind::Dense { conv, from_input: false } => ctx.dense(conv),
        Kind::GlobalAvg(g) => ctx.global_avg(g),
        Kind::AvgPool(a) => ctx.avg_pool(a),
        Kind::Map { dims, x, y, act } => ctx.map(&nd::Map { dims, x: x.nd(), y: y.nd(), act: *act }),
        Kind::Zip { op, dims, a, b, y, act } => ctx.zip(&nd::Zip { op: *op, dims, a: a.nd(), b: b.nd(), y: y.nd(), act: *act }),
        Kind::Pad { dims, x_dims, before, mode, x, y } => ctx.pad(&nd::Pad { dims, x_dims, before, mode: *mode, x: x.nd(), y: y.nd() }),
        Kind::Resize { dims, x_dims, scales, interp, coord, x, y } => {
            ctx.resize(&nd::Resize { dims, x_dims, scales, interp: *interp, coord: *coord, x: x.nd(), y: y.nd() })
        }
        Kind::Pool { window, x, y } => ctx.pool(&nd::Pool { window: *window, x: x.nd(), y: y.nd() }),
        Kind::Reduce { max, dims, inner, x, y } => ctx.reduce(&nd::Reduce { max: *max, dims, inner, x: x.nd(), y: y.nd() }),
        Kind::MatMul { batch, m, k, n, alpha, beta, a, b, c, y } => ctx.matmul(&nd::MatMul {
            batch,
            m: *m,
            k: *k,
            n: *n,
            alpha: *alpha,
            beta: *beta,
            a: a.nd(),
            b: b.nd(),
            c: c.as_ref().map(Operand::nd),
            y: y.nd(),
        }),
        Kind::Conv { shape, act, x, w, bias, scale, residual, y } => ctx.conv(&nd::Conv {
            shape: *shape,
            act: *act,
            x: x.nd(),
            weights: w.nd(),
            bias: bias.as_ref().map(Operand::nd),
            scale: scale.as_ref().map(Operand::nd),
            residual: residual.as_ref().map(Operand::nd),
            y: y.nd(),
        }),
    }
}

/// One image of a rank-4 or rank-2 activation as the fused kernels see it: `hw` pixels of
/// `channels` values (`N x F` is one pixel of `F`).
#[derive(Clone, Copy, Debug)]
struct Layout {
    channels: usize,
    hw: usize,
    h: usize,
    w: usize,
}

impl Layout {
    fn of(graph: &Graph, t: TensorId) -> Layout {
        let s = graph.shape(t);
        match s.len() {
            4 => Layout { channels: s[1], hw: s[2] * s[3], h: s[2], w: s[3] },
            2 => Layout { channels: s[1], hw: 1, h: 1, w: 1 },
            _ => unreachable!("the fused kernels run rank-4 and rank-2 tensors only"),
        }
    }
}

/// How a node is computed: by a fused (SIMD) kernel, as a view of its input, or by the
/// general kernels.
#[derive(Clone, Copy, Debug, PartialEq)]
enum How {
    Pointwise,
    Depthwise,
    Dense,
    Ghost,
    SqueezeExcite,
    GlobalAvg,
    AvgPool,
    Classifier,
    /// No kernel: the output is the input's buffer.
    Alias,
    General,
}

impl How {
    /// Whether the node runs on a fused kernel, which reads its activations from the arena.
    fn fused(self) -> bool {
        !matches!(self, How::Alias | How::General)
    }
}

/// One reason a graph cannot be lowered: about a node (its name and op type) or about the
/// whole graph (`node` empty).
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub node: String,
    pub op: &'static str,
    pub message: String,
}

/// Every problem found, shown grouped: one line per op type and reason, with the number of
/// nodes and the first few names.
#[derive(Clone, Debug, PartialEq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    fn graph(message: impl Into<String>) -> Self {
        Problems(vec![Problem { node: String::new(), op: "", message: message.into() }])
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Node names shown per group.
        const NAMES: usize = 3;
        let nodes = self.0.iter().filter(|p| !p.node.is_empty()).count();
        let mut groups: Vec<(&str, &str, Vec<&str>)> = Vec::new();
        for p in &self.0 {
            match groups.iter_mut().find(|(op, m, _)| *op == p.op && *m == p.message) {
                Some((_, _, names)) => names.push(&p.node),
                None => groups.push((p.op, &p.message, vec![&p.node])),
            }
        }
        match nodes {
            0 => write!(f, "the Rust back end cannot compile this network:")?,
            n => write!(f, "the Rust back end cannot compile {n} node(s):")?,
        }
        for (op, message, names) in groups {
            if op.is_empty() {
                write!(f, "\n  - {message}")?;
                continue;
            }
            let shown: Vec<String> = names.iter().take(NAMES).map(|n| format!("'{n}'")).collect();
            let more = if names.len() > NAMES { format!(", ... ({} more)", names.len() - NAMES) } else { String::new() };
            let count = if names.len() == 1 { "1 node".to_string() } else { format!("{} nodes", names.len()) };
            write!(f, "\n  - {op}, {count} ({}{more}): {message}", shown.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Lowers `graph` (after the fusion passes).
pub fn lower(graph: &Graph) -> Result<Program, Problems> {
    if graph.inputs.len() != 1 {
        return Err(Problems::graph(format!("the network must have one input, it has {}", graph.inputs.len())));
    }
    if graph.outputs.is_empty() {
        return Err(Problems::graph("the network has no outputs"));
    }
    let input = graph.inputs[0];
    let layouts = Layouts::new(graph);
    let mut problems = Vec::new();
    let mut hows = Vec::with_capacity(graph.nodes.len());
    for n in &graph.nodes {
        match classify(graph, &layouts, n) {
            Ok(h) => hows.push(h),
            Err(message) => problems.push(Problem { node: n.name.clone(), op: n.op.name(), message }),
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    let plan = plan::Planner::new(graph, &hows, &layouts).plan();
    let mut cx = emit::Emit::new(graph, &layouts, &plan);
    if plan.input_in_arena {
        let dst = cx.at(input);
        match (layouts.mode, graph.shape(input).len()) {
            (Mode::PerImage, 4) => {
                let l = Layout::of(graph, input);
                cx.push("input", Kind::InputToNhwc { dst, ld: l.channels, channels: l.channels, hw: l.hw });
            }
            _ => {
                let x = cx.view(input);
                let y = Operand { src: Src::Arena(dst), strides: layouts.strides(input) };
                cx.copy("input", layouts.dims(input), x, y);
            }
        }
    }
    for (i, n) in graph.nodes.iter().enumerate() {
        let how = hows[i];
        // The fused kernels take one image; on a whole batch they run once per image.
        let runs = match how {
            How::General | How::Alias | How::Classifier => 1,
            _ => layouts.images(n.inputs[0]),
        };
        for image in 0..runs {
            cx.start(i, image);
            match &n.op {
                Op::Conv(_) | Op::Ghost { .. } | Op::SqueezeExcite { .. } => conv::emit(&mut cx, i, n, how),
                Op::GlobalAveragePool | Op::GlobalMaxPool | Op::AveragePool(_) | Op::MaxPool(_) | Op::ReduceMean { .. } => pool::emit(&mut cx, n, how),
                Op::Gemm { .. } | Op::MatMul => linear::emit(&mut cx, n, how),
                Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Activation(_) | Op::BatchNorm { .. } => elementwise::emit(&mut cx, n, how),
                Op::Concat { .. } | Op::Slice { .. } | Op::Reshape { .. } | Op::Identity | Op::Transpose { .. } | Op::Pad { .. } | Op::Resize(_) => {
                    data::emit(&mut cx, i, n, how)
                }
                Op::FakeQuant(_) => unreachable!("classified as unsupported"),
            }
        }
    }
    cx.start(usize::MAX, 0);
    // Outputs that no node computes (a constant, the input) are copied into the arena.
    for &(t, off) in &plan.staged {
        let x = cx.view(t);
        let y = Operand { src: Src::Arena(off), strides: layouts.strides(t) };
        cx.copy(&graph.tensor(t).name, layouts.dims(t), x, y);
    }
    let mut outputs = Vec::with_capacity(graph.outputs.len());
    let mut offset = 0;
    for (k, &o) in graph.outputs.iter().enumerate() {
        let dims = layouts.dims(o);
        let off = plan.output_offset(o);
        let copies = match dims {
            // NHWC images, each to NCHW.
            &[images, c, h, w] => (0..images).map(|i| OutputLoc { off: off + i * c * h * w, ld: c, channels: c, hw: h * w, dst: i * c * h * w }).collect(),
            _ => {
                let len = numel(dims);
                vec![OutputLoc { off, ld: len, channels: len, hw: 1, dst: 0 }]
            }
        };
        let shape = graph.shape(o).clone();
        let len = numel(&shape);
        outputs.push(Output { name: graph.output_name(k).to_string(), shape, offset, copies });
        offset += len;
    }
    let (steps, weights) = cx.finish();
    let runs = match layouts.mode {
        Mode::PerImage => graph.shape(input)[0],
        Mode::Whole => 1,
    };
    Ok(Program { name: graph.name.clone(), input_shape: graph.shape(input).clone(), outputs, runs, steps, arena_len: plan.arena_len, weights })
}

/// How `n` runs, from its op family.
fn classify(graph: &Graph, layouts: &Layouts, n: &Node) -> Result<How, String> {
    match &n.op {
        Op::Conv(_) | Op::Ghost { .. } | Op::SqueezeExcite { .. } => conv::classify(graph, n),
        Op::GlobalAveragePool | Op::GlobalMaxPool | Op::AveragePool(_) | Op::MaxPool(_) | Op::ReduceMean { .. } => Ok(pool::classify(graph, n)),
        Op::Gemm { .. } | Op::MatMul => Ok(linear::classify(graph, n)),
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Activation(_) | Op::BatchNorm { .. } => elementwise::classify(graph, n),
        Op::Concat { .. } | Op::Slice { .. } | Op::Reshape { .. } | Op::Identity | Op::Transpose { .. } | Op::Pad { .. } | Op::Resize(_) => {
            Ok(data::classify(graph, layouts, n))
        }
        Op::FakeQuant(_) => Err("fake quantization is compiled away before lowering (`ghostnet_compiler::optimize_for`)".into()),
    }
}

/// The runtime's form of an activation.
fn act(a: Option<Act>) -> RtAct {
    match a {
        None => RtAct::None,
        Some(Act::Relu) => RtAct::Relu,
        Some(Act::Sigmoid) => RtAct::Sigmoid,
        Some(Act::HardSigmoid { alpha, beta }) => RtAct::HardSigmoid { alpha, beta },
        Some(Act::Clip { min, max }) => RtAct::Clip { min, max },
    }
}
