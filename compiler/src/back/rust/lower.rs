//! Lowering a fused graph to a [`Program`]: kernel calls with every offset, stride and
//! size fixed, packed weights in one blob, and one planned arena.
//!
//! Activations are NHWC, one image at a time: a tensor `N x C x H x W` occupies
//! `H * W * C` arena elements with pixels `C` apart (`N x F` occupies `F`). A ghost
//! module's two halves are channel ranges of one buffer; a reshape that keeps the element
//! order is the same buffer; a residual whose last reader is the node adding it is
//! overwritten in place.

use std::collections::HashMap;

use ghostnet_runtime as rt;
use rt::conv::{Dense, Strided};
use rt::dwconv::Depthwise;
use rt::gemm::{Gate, Gemm, View};
use rt::isa::{Act as RtAct, Arena, Isa, Part};
use rt::ops::{BinOp, Mat};
use rt::pool::{AvgPool, GlobalAvg};

use super::memory::{self, Lifetime};
use crate::ir::{numel, Act, Conv, Graph, Node, Op, Precision, TensorId};

/// A kernel call of the compiled network.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Copy the NCHW input image into the arena as NHWC.
    InputToNhwc { dst: usize, ld: usize, channels: usize, hw: usize },
    Gemm(Gemm),
    /// A matrix product whose `B` is packed in bfloat16 (`rt::gemm::pack_bf16`).
    GemmBf16(Gemm),
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
        Kind::Gemm(g) | Kind::GemmBf16(g) => (g.m * g.k * g.n) as u64,
        Kind::Depthwise(d) => (d.oh * d.ow * d.c * d.kh * d.kw) as u64,
        Kind::Dense { conv: d, .. } => (d.oh * d.ow * d.cout * d.cin * d.kh * d.kw) as u64,
        _ => 0,
    }
}

/// A short description of a step: kernel and shape.
pub fn describe(kind: &Kind) -> String {
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
        Kind::GemmBf16(g) => ctx.gemm_bf16(g),
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
    Alias,
}

/// Lowers `graph` (after the fusion passes). Every node the back end cannot run is
/// reported at once.
pub fn lower(graph: &Graph) -> Result<Program, Vec<String>> {
    let mut problems = Vec::new();
    if graph.inputs.len() != 1 || graph.outputs.len() != 1 {
        problems.push(format!(
            "the network must have one input and one output, it has {} and {}",
            graph.inputs.len(),
            graph.outputs.len()
        ));
        return Err(problems);
    }
    let input = graph.inputs[0];
    let in_shape = graph.shape(input).clone();
    if in_shape.len() != 4 {
        return Err(vec![format!("the input must be NCHW, it is {}", crate::ir::ShapeDisplay(&in_shape))]);
    }
    let batch = in_shape[0];
    let layout = |t: TensorId| -> Result<Layout, String> {
        let s = graph.shape(t);
        match s.len() {
            4 => Ok(Layout { channels: s[1], hw: s[2] * s[3], h: s[2], w: s[3] }),
            2 => Ok(Layout { channels: s[1], hw: 1, h: 1, w: 1 }),
            _ => Err(format!("tensor '{}' of shape {} is neither NCHW nor N x F", graph.tensor(t).name, crate::ir::ShapeDisplay(s))),
        }
    };
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
            Err(e) => problems.push(format!("node '{}' ({}): {e}", n.name, n.op.name())),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let plan = Planner::new(graph, &hows, &layout).plan();
    let mut cx = Emit { graph, plan: &plan, weights: Vec::new(), steps: Vec::new(), precision: Precision::F32 };
    if plan.input_in_arena {
        let l = layout(input).unwrap();
        let dst = cx.at(input);
        cx.push("input", Kind::InputToNhwc { dst, ld: l.channels, channels: l.channels, hw: l.hw });
    }
    for (i, n) in graph.nodes.iter().enumerate() {
        cx.precision = n.precision;
        cx.node(i, n, hows[i], &layout);
    }
    let out = graph.outputs[0];
    let ol = layout(out).unwrap();
    if graph.tensor(out).is_const() || out == input {
        return Err(vec!["the output must be computed by the network".into()]);
    }
    let output = OutputLoc { off: cx.at(out), ld: ol.channels, channels: ol.channels, hw: ol.hw };
    Ok(Program {
        name: graph.name.clone(),
        input_shape: in_shape,
        output_shape: graph.shape(out).clone(),
        steps: cx.steps,
        output,
        arena_len: plan.arena_len,
        weights: cx.weights,
    })
}

fn act(a: Option<Act>) -> RtAct {
    match a {
        None => RtAct::None,
        Some(Act::Relu) => RtAct::Relu,
        Some(Act::Sigmoid) => RtAct::Sigmoid,
        Some(Act::HardSigmoid { alpha, beta }) => RtAct::HardSigmoid { alpha, beta },
        Some(Act::Clip { min, max }) => RtAct::Clip { min, max },
    }
}

fn conv_how(graph: &Graph, n: &Node, c: &Conv) -> Result<How, String> {
    let x = graph.shape(n.inputs[0]);
    let w = graph.shape(n.inputs[1]);
    let mut weights = vec![n.inputs[1]];
    weights.extend(c.bias_input().map(|b| n.inputs[b]));
    if weights.iter().any(|&t| !graph.tensor(t).is_const()) {
        return Err("weights computed at run time are not supported".into());
    }
    if c.dilation != [1, 1] {
        return Err("dilated convolutions are not supported".into());
    }
    if c.is_depthwise(x[1], w[0]) {
        if c.scale {
            return Err("an input scale on a depthwise convolution is not supported".into());
        }
        return Ok(How::Depthwise);
    }
    if c.groups != 1 {
        return Err(format!("grouped convolutions ({} groups, not depthwise) are not supported", c.groups));
    }
    if c.kernel == [1, 1] && c.stride == [1, 1] && c.pads == [0; 4] {
        return Ok(How::Pointwise);
    }
    if c.scale {
        return Err("an input scale on a dense convolution is not supported".into());
    }
    Ok(How::Dense)
}

fn classify(graph: &Graph, n: &Node) -> Result<How, String> {
    let consts = |idx: &[usize]| idx.iter().all(|&i| graph.tensor(n.inputs[i]).is_const());
    match &n.op {
        Op::Conv(c) => conv_how(graph, n, c),
        Op::Ghost { primary, cheap, .. } => {
            if !consts(&[1, 2, 3, 4]) {
                return Err("weights computed at run time are not supported".into());
            }
            let p = graph.shape(n.inputs[1]);
            if primary.kernel != [1, 1] || primary.stride != [1, 1] || primary.pads != [0; 4] || primary.groups != 1 {
                return Err("the primary convolution must be 1x1".into());
            }
            if !cheap.is_depthwise(p[0], graph.shape(n.inputs[3])[0]) || cheap.stride != [1, 1] || cheap.dilation != [1, 1] {
                return Err("the cheap operation must be a stride-1 depthwise convolution".into());
            }
            Ok(How::Ghost)
        }
        Op::SqueezeExcite { .. } => {
            if !consts(&[1, 2, 3, 4]) {
                return Err("weights computed at run time are not supported".into());
            }
            Ok(How::SqueezeExcite)
        }
        Op::GlobalAveragePool => Ok(How::GlobalAvg),
        Op::AveragePool(p) if p.pads == [0; 4] => Ok(How::AvgPool),
        Op::ReduceMean { axes, .. } if axes == &[2, 3] && graph.shape(n.inputs[0]).len() == 4 => Ok(How::GlobalAvg),
        Op::Gemm { trans_a: false, .. } | Op::MatMul => {
            if !graph.tensor(n.inputs[1]).is_const() || n.inputs.get(2).is_some_and(|&c| !graph.tensor(c).is_const()) {
                return Err("the weight matrix and bias must be constants".into());
            }
            if let Some(&c) = n.inputs.get(2) {
                let cs = graph.shape(c);
                let nn = graph.shape(n.output)[1];
                if !(cs.as_slice() == [nn] || cs.as_slice() == [1, nn] || numel(cs) == 1) {
                    return Err("only a per-column bias C is supported".into());
                }
            }
            Ok(How::Classifier)
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            if n.inputs.iter().any(|&t| graph.tensor(t).is_const()) {
                return Err("a constant operand is not supported by the Rust back end".into());
            }
            let (a, b, o) = (graph.shape(n.inputs[0]), graph.shape(n.inputs[1]), graph.shape(n.output));
            let fits = |s: &Vec<usize>| s == o || (s.len() == 4 && o.len() == 4 && s[..2] == o[..2] && s[2] * s[3] == 1);
            if a != o || !fits(b) {
                return Err("only same-shape operands or a per-channel gate on the second operand are supported".into());
            }
            Ok(How::Binary(match n.op {
                Op::Add => BinOp::Add,
                Op::Sub => BinOp::Sub,
                Op::Mul => BinOp::Mul,
                _ => BinOp::Div,
            }))
        }
        Op::Activation(a) => Ok(How::Unary(act(Some(*a)))),
        Op::Concat { axis: 1 } => Ok(How::Concat),
        Op::Slice { axes } if axes.iter().all(|a| a.axis == 1) => Ok(How::Slice),
        Op::Identity => Ok(How::Alias),
        Op::Reshape { .. } => {
            let (i, o) = (graph.shape(n.inputs[0]), graph.shape(n.output));
            let flat = |s: &Vec<usize>| s.len() == 2 || (s.len() == 4 && (s[2] * s[3] == 1 || s[1] == 1));
            if i[0] == o[0] && flat(i) && flat(o) {
                Ok(How::Alias)
            } else {
                Err("only reshapes that keep the element order in NHWC (e.g. flattening 1x1 maps) are supported".into())
            }
        }
        op => Err(format!("{} is not supported by the Rust back end", op.name())),
    }
}

/// Buffers, their offsets, and which buffer each tensor lives in.
struct Plan {
    /// Offset of each tensor's buffer (activations only).
    offsets: HashMap<TensorId, usize>,
    /// Scratch offsets of node `i`.
    scratch: HashMap<usize, Vec<usize>>,
    input_in_arena: bool,
    arena_len: usize,
}

struct Planner<'g, L> {
    graph: &'g Graph,
    hows: &'g [How],
    layout: &'g L,
}

impl<'g, L: Fn(TensorId) -> Result<Layout, String>> Planner<'g, L> {
    fn new(graph: &'g Graph, hows: &'g [How], layout: &'g L) -> Self {
        Planner { graph, hows, layout }
    }

    /// Scratch buffers node `i` needs, in elements.
    fn scratch(&self, i: usize) -> Vec<usize> {
        let n = &self.graph.nodes[i];
        match (&self.hows[i], &n.op) {
            (How::Ghost, Op::Ghost { residual, gate, .. }) if *residual || *gate => {
                let l = (self.layout)(n.output).unwrap();
                vec![l.hw * self.graph.shape(n.inputs[1])[0]]
            }
            (How::SqueezeExcite, _) => vec![self.graph.shape(n.inputs[0])[1], self.graph.shape(n.inputs[1])[0]],
            _ => vec![],
        }
    }

    /// The activation inputs node `i` reads from the arena.
    fn reads(&self, i: usize, input_direct: bool) -> Vec<TensorId> {
        let n = &self.graph.nodes[i];
        n.inputs
            .iter()
            .copied()
            .filter(|&t| !self.graph.tensor(t).is_const())
            .filter(|&t| !(input_direct && self.hows[i] == How::Dense && t == self.graph.inputs[0] && n.inputs[0] == t))
            .collect()
    }

    fn residual(&self, i: usize) -> Option<TensorId> {
        let n = &self.graph.nodes[i];
        match &n.op {
            Op::Conv(c) => c.residual_input().map(|r| n.inputs[r]),
            Op::Ghost { residual: true, .. } => Some(n.inputs[5]),
            _ => None,
        }
    }

    fn plan(&self) -> Plan {
        let g = self.graph;
        let input = g.inputs[0];
        let input_direct = true;
        let input_in_arena = (0..g.nodes.len()).any(|i| self.reads(i, input_direct).contains(&input));
        // Buffers: one per tensor to start with; aliases share their source's.
        let mut root: HashMap<TensorId, usize> = HashMap::new();
        let mut sizes: Vec<usize> = Vec::new();
        let new_buf = |sizes: &mut Vec<usize>, s: usize| {
            sizes.push(s);
            sizes.len() - 1
        };
        if input_in_arena {
            let b = new_buf(&mut sizes, (self.layout)(input).unwrap().size());
            root.insert(input, b);
        }
        for (i, n) in g.nodes.iter().enumerate() {
            if self.hows[i] == How::Alias {
                let r = root[&n.inputs[0]];
                root.insert(n.output, r);
            } else {
                let b = new_buf(&mut sizes, (self.layout)(n.output).unwrap().size());
                root.insert(n.output, b);
            }
        }
        // Last reader of each buffer, before any in-place merging.
        let mut last_read = vec![0usize; sizes.len()];
        for i in 0..g.nodes.len() {
            for t in self.reads(i, input_direct) {
                last_read[root[&t]] = i;
            }
        }
        let out_buf = root[&g.outputs[0]];
        // In place: an output takes its residual's buffer when that residual dies here.
        for i in 0..g.nodes.len() {
            let Some(r) = self.residual(i) else { continue };
            let n = &g.nodes[i];
            let (rb, ob) = (root[&r], root[&n.output]);
            let x_buf = root.get(&n.inputs[0]).copied();
            let same = (self.layout)(r).unwrap().size() == (self.layout)(n.output).unwrap().size();
            if last_read[rb] == i && Some(rb) != x_buf && rb != out_buf && same && rb != ob {
                for v in root.values_mut() {
                    if *v == ob {
                        *v = rb;
                    }
                }
            }
        }
        // Lifetimes in node time: the input copy at 0, node i at i + 1.
        let end = g.nodes.len() + 1;
        let mut life: Vec<Option<(usize, usize)>> = vec![None; sizes.len()];
        let mut touch = |b: usize, t: usize| {
            let l = life[b].get_or_insert((t, t));
            l.0 = l.0.min(t);
            l.1 = l.1.max(t);
        };
        if input_in_arena {
            touch(root[&input], 0);
        }
        for i in 0..g.nodes.len() {
            touch(root[&g.nodes[i].output], i + 1);
            for t in self.reads(i, input_direct) {
                touch(root[&t], i + 1);
            }
        }
        touch(root[&g.outputs[0]], end);
        let mut lifetimes: Vec<Lifetime> = Vec::new();
        let mut buf_slot: Vec<Option<usize>> = vec![None; sizes.len()];
        for (b, l) in life.iter().enumerate() {
            if let Some((s, e)) = l {
                buf_slot[b] = Some(lifetimes.len());
                lifetimes.push(Lifetime { size: sizes[b], start: *s, end: *e });
            }
        }
        let mut scratch_slots: Vec<(usize, usize)> = Vec::new();
        for i in 0..g.nodes.len() {
            for s in self.scratch(i) {
                scratch_slots.push((i, lifetimes.len()));
                lifetimes.push(Lifetime { size: s, start: i + 1, end: i + 1 });
            }
        }
        let (offs, arena_len) = memory::place(&lifetimes);
        let offsets = root.iter().filter_map(|(&t, &b)| buf_slot[b].map(|s| (t, offs[s]))).collect();
        let mut scratch: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, slot) in scratch_slots {
            scratch.entry(i).or_default().push(offs[slot]);
        }
        Plan { offsets, scratch, input_in_arena, arena_len }
    }
}

struct Emit<'g> {
    graph: &'g Graph,
    plan: &'g Plan,
    weights: Vec<f32>,
    steps: Vec<Step>,
    /// The precision of the node being emitted: its matrix products pack their weights
    /// in it and run the matching kernel.
    precision: Precision,
}

impl Emit<'_> {
    fn at(&self, t: TensorId) -> usize {
        self.plan.offsets[&t]
    }

    fn push(&mut self, layer: &str, kind: Kind) {
        let kind = match (kind, self.precision) {
            (Kind::Gemm(g), Precision::Bf16) => Kind::GemmBf16(g),
            (kind, _) => kind,
        };
        self.steps.push(Step { layer: layer.to_string(), kind });
    }

    /// Packs `b(p, j)` (`k x n`) for the matrix-product kernels in the node's precision.
    fn pack_b(&mut self, k: usize, n: usize, b: impl Fn(usize, usize) -> f32) -> usize {
        match self.precision {
            Precision::F32 => self.blob(rt::gemm::packed_len(k, n), |out| rt::gemm::pack(k, n, b, out)),
            Precision::Bf16 => self.blob(rt::gemm::packed_len_bf16(k, n), |out| rt::gemm::pack_bf16(k, n, b, out)),
        }
    }

    /// Appends `len` values written by `fill` to the blob, 16-aligned; returns the offset.
    fn blob(&mut self, len: usize, fill: impl FnOnce(&mut [f32])) -> usize {
        let at = self.weights.len().div_ceil(memory::ALIGN) * memory::ALIGN;
        self.weights.resize(at + len, 0.0);
        fill(&mut self.weights[at..]);
        at
    }

    fn data(&self, t: TensorId) -> &[f32] {
        self.graph.data(t).expect("classified as constant")
    }

    /// Packs a 1x1 weight `[n, k, 1, 1]` (times `alpha`) and a bias; returns their offsets.
    fn pointwise_weights(&mut self, w: TensorId, b: Option<TensorId>) -> (usize, usize) {
        let s = self.graph.shape(w).clone();
        let (n, k) = (s[0], s[1]);
        let wd = self.data(w).to_vec();
        let bo = self.pack_b(k, n, |p, j| wd[j * k + p]);
        let bias = b.map(|b| self.data(b).to_vec()).unwrap_or(vec![0.0; n]);
        let so = self.blob(n, |out| out[..n].copy_from_slice(&bias));
        (bo, so)
    }

    fn depthwise_weights(&mut self, w: TensorId, b: Option<TensorId>) -> usize {
        let s = self.graph.shape(w).clone();
        let (c, taps) = (s[0], s[2] * s[3]);
        let wd = self.data(w).to_vec();
        let bias = b.map(|b| self.data(b).to_vec()).unwrap_or(vec![0.0; c]);
        self.blob(rt::dwconv::packed_len(c, taps), |out| rt::dwconv::pack(c, taps, |ch, t| wd[ch * taps + t], |ch| bias[ch], out))
    }

    fn depthwise_args(&self, c: &Conv, x: (Layout, View), y: (Layout, View), weights: usize, channels: usize) -> Depthwise {
        Depthwise {
            h: x.0.h,
            w: x.0.w,
            c: channels,
            oh: y.0.h,
            ow: y.0.w,
            kh: c.kernel[0],
            kw: c.kernel[1],
            sh: c.stride[0],
            sw: c.stride[1],
            pt: c.pads[0],
            pl: c.pads[1],
            x: x.1,
            y: y.1,
            weights,
            act: act(c.act),
            gate: None,
            residual: None,
        }
    }

    fn node(&mut self, i: usize, n: &Node, how: How, layout: &impl Fn(TensorId) -> Result<Layout, String>) {
        let g = self.graph;
        let lay = |t: TensorId| layout(t).unwrap();
        let view = |e: &Self, t: TensorId| View { off: e.at(t), ld: lay(t).channels };
        let name = n.name.as_str();
        match (how, &n.op) {
            (How::Alias, _) => {}
            (How::Pointwise, Op::Conv(c)) => {
                let (b, bias) = self.pointwise_weights(n.inputs[1], c.bias_input().map(|i| n.inputs[i]));
                let w = g.shape(n.inputs[1]);
                let gm = Gemm {
                    m: lay(n.output).hw,
                    k: w[1],
                    n: w[0],
                    a: view(self, n.inputs[0]),
                    c: view(self, n.output),
                    b,
                    bias,
                    act: act(c.act),
                    residual: c.residual_input().map(|r| view(self, n.inputs[r])),
                    raw: None,
                    scale: c.scale_input().map(|s| self.at(n.inputs[s])),
                    gate: None,
                };
                self.push(name, Kind::Gemm(gm));
            }
            (How::Depthwise, Op::Conv(c)) => {
                let wo = self.depthwise_weights(n.inputs[1], c.bias_input().map(|i| n.inputs[i]));
                let (x, y) = (n.inputs[0], n.output);
                let mut d = self.depthwise_args(c, (lay(x), view(self, x)), (lay(y), view(self, y)), wo, lay(y).channels);
                d.residual = c.residual_input().map(|r| view(self, n.inputs[r]));
                self.push(name, Kind::Depthwise(d));
            }
            (How::Dense, Op::Conv(c)) => {
                let s = g.shape(n.inputs[1]).clone();
                let (cout, cin, kh, kw) = (s[0], s[1], s[2], s[3]);
                let wd = self.data(n.inputs[1]).to_vec();
                let bias = c.bias_input().map(|b| self.data(n.inputs[b]).to_vec()).unwrap_or(vec![0.0; cout]);
                let wo = self.blob(rt::conv::packed_len(kh, kw, cin, cout), |out| {
                    rt::conv::pack(kh, kw, cin, cout, |o, i, y, x| wd[((o * cin + i) * kh + y) * kw + x], |o| bias[o], out)
                });
                let x = n.inputs[0];
                let xl = lay(x);
                let from_input = x == g.inputs[0] && !self.plan.offsets.contains_key(&x);
                let xs = if from_input {
                    Strided { off: 0, cs: xl.hw, rs: xl.w, ps: 1 }
                } else {
                    Strided { off: self.at(x), cs: 1, rs: xl.w * xl.channels, ps: xl.channels }
                };
                let yl = lay(n.output);
                let conv = Dense {
                    h: xl.h,
                    w: xl.w,
                    cin,
                    oh: yl.h,
                    ow: yl.w,
                    cout,
                    kh,
                    kw,
                    sh: c.stride[0],
                    sw: c.stride[1],
                    pt: c.pads[0],
                    pl: c.pads[1],
                    x: xs,
                    y: view(self, n.output),
                    weights: wo,
                    act: act(c.act),
                    residual: c.residual_input().map(|r| view(self, n.inputs[r])),
                };
                self.push(name, Kind::Dense { conv, from_input });
            }
            (How::Ghost, Op::Ghost { primary, cheap, channels, residual, scale, gate }) => {
                let (x, out) = (n.inputs[0], n.output);
                let init = g.shape(n.inputs[1])[0];
                let (b, bias) = self.pointwise_weights(n.inputs[1], Some(n.inputs[2]));
                let wo = self.depthwise_weights(n.inputs[3], Some(n.inputs[4]));
                let ol = lay(out);
                let o = self.at(out);
                let r = residual.then(|| view(self, n.inputs[5]));
                // With a residual or a gate, the primary half the cheap operation reads is
                // kept apart (un-gated, without the residual) in a scratch buffer.
                let temp = (*residual || *gate).then(|| self.plan.scratch[&i][0]);
                let gv = gate.then(|| {
                    let t = n.inputs[5 + *residual as usize + *scale as usize];
                    let gl = lay(t);
                    Gate { off: self.at(t), ld: gl.channels, h: gl.h, w: gl.w, oh: ol.h, ow: ol.w }
                });
                let gm = Gemm {
                    m: ol.hw,
                    k: g.shape(n.inputs[1])[1],
                    n: init,
                    a: view(self, x),
                    c: View { off: o, ld: ol.channels },
                    b,
                    bias,
                    act: act(primary.act),
                    residual: r,
                    raw: temp.map(|t| View { off: t, ld: init }),
                    scale: scale.then(|| self.at(n.inputs[5 + *residual as usize])),
                    gate: gv,
                };
                self.push(name, Kind::Gemm(gm));
                let keep = channels - init;
                if keep > 0 {
                    let src = match temp {
                        Some(t) => View { off: t, ld: init },
                        None => View { off: o, ld: ol.channels },
                    };
                    let pl = Layout { channels: init, ..ol };
                    let mut d = self.depthwise_args(cheap, (pl, src), (ol, View { off: o + init, ld: ol.channels }), wo, keep);
                    d.residual = r.map(|r| View { off: r.off + init, ld: r.ld });
                    d.gate = gv.map(|g| Gate { off: g.off + init, ..g });
                    self.push(name, Kind::Depthwise(d));
                }
            }
            (How::SqueezeExcite, Op::SqueezeExcite { act: a, gate }) => {
                let x = n.inputs[0];
                let (c, r) = (lay(x).channels, g.shape(n.inputs[1])[0]);
                let s = &self.plan.scratch[&i];
                let (pooled, hidden) = (s[0], s[1]);
                self.push(name, Kind::GlobalAvg(GlobalAvg { pixels: lay(x).hw, c, x: view(self, x), y: pooled }));
                let (b1, bias1) = self.pointwise_weights(n.inputs[1], Some(n.inputs[2]));
                let (b2, bias2) = self.pointwise_weights(n.inputs[3], Some(n.inputs[4]));
                let gemv = |k, nn, a, c, b, bias, act| Gemm {
                    m: 1,
                    k,
                    n: nn,
                    a: View { off: a, ld: k },
                    c: View { off: c, ld: nn },
                    b,
                    bias,
                    act,
                    residual: None,
                    raw: None,
                    scale: None,
                    gate: None,
                };
                let out = self.at(n.output);
                self.push(name, Kind::Gemm(gemv(c, r, pooled, hidden, b1, bias1, act(Some(*a)))));
                self.push(name, Kind::Gemm(gemv(r, c, hidden, out, b2, bias2, act(Some(*gate)))));
            }
            (How::AvgPool, Op::AveragePool(pool)) => {
                let (x, y) = (n.inputs[0], n.output);
                let (xl, yl) = (lay(x), lay(y));
                let a = AvgPool {
                    h: xl.h,
                    w: xl.w,
                    c: xl.channels,
                    oh: yl.h,
                    ow: yl.w,
                    kh: pool.kernel[0],
                    kw: pool.kernel[1],
                    sh: pool.stride[0],
                    sw: pool.stride[1],
                    x: view(self, x),
                    y: view(self, y),
                };
                self.push(name, Kind::AvgPool(a));
            }
            (How::GlobalAvg, _) => {
                let x = n.inputs[0];
                let l = lay(x);
                self.push(name, Kind::GlobalAvg(GlobalAvg { pixels: l.hw, c: l.channels, x: view(self, x), y: self.at(n.output) }));
            }
            (How::Classifier, op) => {
                let (alpha, beta, trans_b) = match op {
                    Op::Gemm { alpha, beta, trans_b, .. } => (*alpha, *beta, *trans_b),
                    _ => (1.0, 1.0, false),
                };
                let bs = g.shape(n.inputs[1]).clone();
                let (k, nn) = if trans_b { (bs[1], bs[0]) } else { (bs[0], bs[1]) };
                let bd = self.data(n.inputs[1]).to_vec();
                let b = self.pack_b(k, nn, |p, j| alpha * if trans_b { bd[j * k + p] } else { bd[p * nn + j] });
                let cd: Vec<f32> = match n.inputs.get(2) {
                    Some(&c) if numel(g.shape(c)) == 1 => vec![beta * self.data(c)[0]; nn],
                    Some(&c) => self.data(c).iter().map(|v| beta * v).collect(),
                    None => vec![0.0; nn],
                };
                let bias = self.blob(nn, |out| out[..nn].copy_from_slice(&cd));
                let gm = Gemm {
                    m: 1,
                    k,
                    n: nn,
                    a: view(self, n.inputs[0]),
                    c: view(self, n.output),
                    b,
                    bias,
                    act: RtAct::None,
                    residual: None,
                    raw: None,
                    scale: None,
                    gate: None,
                };
                self.push(name, Kind::Gemm(gm));
            }
            (How::Binary(op), _) => {
                let (a, b, y) = (n.inputs[0], n.inputs[1], n.output);
                let l = lay(y);
                let bl = lay(b);
                let mat = |e: &Self, t: TensorId, l: Layout| Mat { off: e.at(t), rs: if l.hw == 1 { 0 } else { l.channels }, cs: 1 };
                let (am, bm, ym) = (mat(self, a, l), mat(self, b, bl), mat(self, y, l));
                let ym = Mat { rs: l.channels, ..ym };
                let am = Mat { rs: l.channels, ..am };
                self.push(name, Kind::Binary { op, a: am, b: bm, y: ym, rows: l.hw, cols: l.channels, act: RtAct::None });
            }
            (How::Unary(a), _) => {
                let (x, y) = (n.inputs[0], n.output);
                let l = lay(y);
                let m = |e: &Self, t| Mat { off: e.at(t), rs: l.channels, cs: 1 };
                let (xm, ym) = (m(self, x), m(self, y));
                self.push(name, Kind::Unary { x: xm, y: ym, rows: l.hw, cols: l.channels, act: a });
            }
            (How::Concat, _) => {
                let y = n.output;
                let yl = lay(y);
                let mut at = 0;
                for &t in &n.inputs {
                    let tl = lay(t);
                    let x = Mat { off: self.at(t), rs: tl.channels, cs: 1 };
                    let ym = Mat { off: self.at(y) + at, rs: yl.channels, cs: 1 };
                    self.push(name, Kind::Unary { x, y: ym, rows: yl.hw, cols: tl.channels, act: RtAct::None });
                    at += tl.channels;
                }
            }
            (How::Slice, Op::Slice { axes }) => {
                let (x, y) = (n.inputs[0], n.output);
                let (xl, yl) = (lay(x), lay(y));
                let start = axes.first().map_or(0, |a| a.start);
                let xm = Mat { off: self.at(x) + start, rs: xl.channels, cs: 1 };
                let ym = Mat { off: self.at(y), rs: yl.channels, cs: 1 };
                self.push(name, Kind::Unary { x: xm, y: ym, rows: yl.hw, cols: yl.channels, act: RtAct::None });
            }
            (how, op) => unreachable!("classified {how:?} for {}", op.name()),
        }
    }
}
