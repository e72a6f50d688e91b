//! Lowering a fused graph to a [`Program`]: kernel calls with every offset, stride and
//! size fixed, packed weights in one blob, and one planned arena.
//!
//! Activations are NHWC, one image at a time: a tensor `N x C x H x W` occupies
//! `H * W * C` arena elements with pixels `C` apart (`N x F` occupies `F`). A ghost
//! module's two halves are channel ranges of one buffer; a reshape that keeps the element
//! order is the same buffer; a residual whose last reader is the node adding it is
//! overwritten in place.
//!
//! Lowering runs in three stages: every node is classified ([`How`] it runs, or why it
//! cannot), the arena is planned ([`plan`]), and every node is emitted as kernel calls
//! ([`emit::Emit`], which also packs the weights). Each op family has its own module with
//! both its classification and its emission: [`conv`] (convolutions, the ghost module,
//! squeeze-excite), [`pool`] (pooling and means), [`linear`] (Gemm, MatMul), [`elementwise`]
//! (binary ops, activations) and [`data`] (concatenation, slicing, reshapes).

mod conv;
mod data;
mod elementwise;
mod emit;
mod linear;
mod plan;
mod pool;

use std::fmt;

use ghostnet_runtime as rt;
use rt::conv::Dense;
use rt::dwconv::Depthwise;
use rt::gemm::Gemm;
use rt::isa::{Act as RtAct, Arena, Isa, Part};
use rt::ops::{BinOp, Mat};
use rt::pool::{AvgPool, GlobalAvg};

use crate::ir::{numel, Act, Graph, Node, Op, ShapeDisplay, TensorId};

/// A kernel call of the compiled network.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Copy the NCHW input image into the arena as NHWC.
    InputToNhwc { dst: usize, ld: usize, channels: usize, hw: usize },
    Gemm(Gemm),
    Depthwise(Depthwise),
    /// A dense convolution; `from_input` reads the caller's NCHW image instead of the arena.
    Dense { conv: Dense, from_input: bool },
    GlobalAvg(GlobalAvg),
    AvgPool(AvgPool),
    Binary { op: BinOp, a: Mat, b: Mat, y: Mat, rows: usize, cols: usize, act: RtAct },
    Unary { x: Mat, y: Mat, rows: usize, cols: usize, act: RtAct },
}

/// One step and the layer (graph node) it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub layer: String,
    pub kind: Kind,
}

/// Where one image's output is in the arena: `hw` pixels of `channels` values, `ld` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLoc {
    pub off: usize,
    pub ld: usize,
    pub channels: usize,
    pub hw: usize,
}

/// A network ready to be written out (or run in process).
#[derive(Clone, Debug)]
pub struct Program {
    pub name: String,
    pub input_shape: Vec<usize>,
    pub output_shape: Vec<usize>,
    pub steps: Vec<Step>,
    pub output: OutputLoc,
    /// Length of the arena in `f32`s.
    pub arena_len: usize,
    /// The packed weights, every block aligned to 16 values.
    pub weights: Vec<f32>,
}

impl Program {
    pub fn batch(&self) -> usize {
        self.input_shape[0]
    }
    pub fn image_len(&self) -> usize {
        numel(&self.input_shape[1..])
    }
    pub fn out_len(&self) -> usize {
        numel(&self.output_shape[1..])
    }

    /// Runs the program in this process with the runtime crate's kernels, `threads` at a
    /// time: exactly what the generated code does.
    pub fn run(&self, isa: Isa, input: &[f32], threads: usize) -> Vec<f32> {
        assert_eq!(input.len(), self.batch() * self.image_len(), "input length");
        let mut arena = vec![0f32; self.arena_len];
        let mut out = vec![0f32; self.batch() * self.out_len()];
        let mut team = rt::team::Team::new(threads);
        let count = team.threads();
        for n in 0..self.batch() {
            let image = &input[n * self.image_len()..(n + 1) * self.image_len()];
            // SAFETY: every thread runs a disjoint part of each step and waits on the barrier
            // after each (Ctx's methods do both).
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
            let o = self.output;
            let dst = &mut out[n * self.out_len()..(n + 1) * self.out_len()];
            rt::ops::nhwc_to_nchw(Arena::new(&mut arena), o.off, o.ld, o.channels, o.hw, dst);
        }
        out
    }
}

impl Program {
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
        Kind::Gemm(g) => (g.m * g.k * g.n) as u64,
        Kind::Depthwise(d) => (d.oh * d.ow * d.c * d.kh * d.kw) as u64,
        Kind::Dense { conv: d, .. } => (d.oh * d.ow * d.cout * d.cin * d.kh * d.kw) as u64,
        _ => 0,
    }
}

/// A short description of a step: kernel and shape.
pub fn describe(kind: &Kind) -> String {
    match kind {
        Kind::InputToNhwc { channels, hw, .. } => format!("input NCHW->NHWC {channels}x{hw}"),
        Kind::Gemm(g) => format!("gemm m{} k{} n{}{}{}", g.m, g.k, g.n, if g.scale.is_some() { " +scale" } else { "" }, if g.residual.is_some() { " +res" } else { "" }),
        Kind::Depthwise(d) => format!("dw {}x{}/{} {}x{}x{}", d.kh, d.kw, d.sh, d.oh, d.ow, d.c),
        Kind::Dense { conv: d, .. } => format!("conv {}x{}/{} {}->{} {}x{}", d.kh, d.kw, d.sh, d.cin, d.cout, d.oh, d.ow),
        Kind::GlobalAvg(g) => format!("gap {}x{}", g.pixels, g.c),
        Kind::AvgPool(a) => format!("avgpool {}x{}/{} {}x{}x{}", a.kh, a.kw, a.sh, a.oh, a.ow, a.c),
        Kind::Binary { rows, cols, .. } => format!("binary {rows}x{cols}"),
        Kind::Unary { rows, cols, .. } => format!("unary {rows}x{cols}"),
    }
}

/// One step through the runtime's context, as the generated code does it.
pub fn execute(ctx: &rt::exec::Ctx<'_>, kind: &Kind) {
    match kind {
        Kind::InputToNhwc { dst, ld, channels, hw } => ctx.input_to_nhwc(*dst, *ld, *channels, *hw),
        Kind::Gemm(g) => ctx.gemm(g),
        Kind::Depthwise(d) => ctx.depthwise(d),
        Kind::Dense { conv, from_input: true } => ctx.dense_input(conv),
        Kind::Dense { conv, from_input: false } => ctx.dense(conv),
        Kind::GlobalAvg(g) => ctx.global_avg(g),
        Kind::AvgPool(a) => ctx.avg_pool(a),
        Kind::Binary { op, a, b, y, rows, cols, act } => ctx.binary(*op, *a, *b, *y, *rows, *cols, *act),
        Kind::Unary { x, y, rows, cols, act } => ctx.unary(*x, *y, *rows, *cols, *act),
    }
}


/// Per-image layout of an activation.
#[derive(Clone, Copy, Debug)]
struct Layout {
    channels: usize,
    hw: usize,
    h: usize,
    w: usize,
}

impl Layout {
    fn size(&self) -> usize {
        self.channels * self.hw
    }

    /// The layout of `t`: `N x C x H x W` as `H * W` pixels of `C`, `N x F` as one pixel of `F`.
    fn of(graph: &Graph, t: TensorId) -> Result<Layout, String> {
        let s = graph.shape(t);
        match s.len() {
            4 => Ok(Layout { channels: s[1], hw: s[2] * s[3], h: s[2], w: s[3] }),
            2 => Ok(Layout { channels: s[1], hw: 1, h: 1, w: 1 }),
            _ => Err(format!("tensor '{}' of shape {} is neither NCHW nor N x F", graph.tensor(t).name, ShapeDisplay(s))),
        }
    }
}

/// How a node is computed.
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
    Binary(BinOp),
    Unary(RtAct),
    Concat,
    Slice,
    /// No kernel: the output is the input's buffer.
    Alias,
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

/// Lowers `graph` (after the fusion passes). Every node the back end cannot run is
/// reported at once.
pub fn lower(graph: &Graph) -> Result<Program, Problems> {
    if graph.inputs.len() != 1 || graph.outputs.len() != 1 {
        return Err(Problems::graph(format!(
            "the network must have one input and one output, it has {} and {}",
            graph.inputs.len(),
            graph.outputs.len()
        )));
    }
    let input = graph.inputs[0];
    let in_shape = graph.shape(input).clone();
    if in_shape.len() != 4 {
        return Err(Problems::graph(format!("the input must be NCHW, it is {}", ShapeDisplay(&in_shape))));
    }
    let batch = in_shape[0];
    let layout = |t: TensorId| Layout::of(graph, t);
    let mut problems = Vec::new();
    let mut hows = Vec::with_capacity(graph.nodes.len());
    for n in &graph.nodes {
        let h = classify(graph, n).and_then(|h| {
            if graph.shape(n.output).first() != Some(&batch) {
                return Err("changes the batch dimension".to_string());
            }
            for &t in n.inputs.iter().chain([&n.output]) {
                if !graph.tensor(t).is_const() {
                    layout(t)?;
                }
            }
            Ok(h)
        });
        match h {
            Ok(h) => hows.push(h),
            Err(message) => problems.push(Problem { node: n.name.clone(), op: n.op.name(), message }),
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    let out = graph.outputs[0];
    if graph.tensor(out).is_const() || out == input {
        return Err(Problems::graph("the output must be computed by the network"));
    }
    let plan = plan::Planner::new(graph, &hows, &layout).plan();
    let mut cx = emit::Emit::new(graph, &plan);
    if plan.input_in_arena {
        let l = layout(input).unwrap();
        let dst = cx.at(input);
        cx.push("input", Kind::InputToNhwc { dst, ld: l.channels, channels: l.channels, hw: l.hw });
    }
    for (i, n) in graph.nodes.iter().enumerate() {
        let how = hows[i];
        match &n.op {
            Op::Conv(_) | Op::Ghost { .. } | Op::SqueezeExcite { .. } => conv::emit(&mut cx, i, n, how),
            Op::GlobalAveragePool | Op::AveragePool(_) | Op::ReduceMean { .. } => pool::emit(&mut cx, n, how),
            Op::Gemm { .. } | Op::MatMul => linear::emit(&mut cx, n, how),
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Activation(_) | Op::BatchNorm { .. } => elementwise::emit(&mut cx, n, how),
            Op::Concat { .. } | Op::Slice { .. } | Op::Reshape { .. } | Op::Identity | Op::Resize { .. } => data::emit(&mut cx, n, how),
        }
    }
    let ol = layout(out).unwrap();
    let output = OutputLoc { off: cx.at(out), ld: ol.channels, channels: ol.channels, hw: ol.hw };
    let (steps, weights) = cx.finish();
    Ok(Program {
        name: graph.name.clone(),
        input_shape: in_shape,
        output_shape: graph.shape(out).clone(),
        steps,
        output,
        arena_len: plan.arena_len,
        weights,
    })
}

/// How `n` runs, from its op family, or why it cannot.
fn classify(graph: &Graph, n: &Node) -> Result<How, String> {
    match &n.op {
        Op::Conv(_) | Op::Ghost { .. } | Op::SqueezeExcite { .. } => conv::classify(graph, n),
        Op::GlobalAveragePool | Op::AveragePool(_) | Op::ReduceMean { .. } => pool::classify(graph, n),
        Op::Gemm { .. } | Op::MatMul => linear::classify(graph, n),
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Activation(_) | Op::BatchNorm { .. } => elementwise::classify(graph, n),
        Op::Concat { .. } | Op::Slice { .. } | Op::Reshape { .. } | Op::Identity | Op::Resize { .. } => data::classify(graph, n),
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
