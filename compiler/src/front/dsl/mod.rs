//! The DSL front end: a GhostNet from a stage table and a width multiplier.
//!
//! [`Spec`] describes the network the way timm's `GhostNet(cfgs, num_classes, width,
//! in_chans)` does; [`build`] turns it into the same graph the TorchScript exporter writes
//! for that module (Conv, BatchNormalization, Relu, Concat + Slice, the squeeze-excite with
//! a hard-sigmoid gate, GlobalAveragePool, conv head, classifier), with every weight named
//! by its timm `state_dict` key. Weights come from a safetensors file of that state dict
//! ([`weights`]) or from a seeded generator.

pub mod options;
pub mod weights;

use std::fmt;

use crate::ir::{Act, Conv, Graph, Op, Pool, TensorId};
use crate::Limits;
use weights::{Init, Source};

/// GhostNet generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// GhostNet (CVPR 2020).
    V1,
    /// GhostNetV2: DFC attention in the expansion ghost module of every block after the second.
    V2,
}

/// One bottleneck: timm's `[k, exp, c, se_ratio, s]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Block {
    /// Depthwise kernel size of the stride-2 conv and the conv shortcut.
    pub kernel: usize,
    /// Expansion (hidden) channels before width scaling.
    pub expansion: usize,
    /// Output channels before width scaling.
    pub out: usize,
    /// Squeeze-excite reduction ratio; 0 disables it.
    pub se_ratio: f32,
    pub stride: usize,
}

impl Block {
    pub const fn new(kernel: usize, expansion: usize, out: usize, se_ratio: f32, stride: usize) -> Self {
        Block { kernel, expansion, out, se_ratio, stride }
    }
}

/// GhostNet's stage table (identical in the official code and timm).
pub fn default_stages() -> Vec<Vec<Block>> {
    let b = Block::new;
    vec![
        vec![b(3, 16, 16, 0.0, 1)],
        vec![b(3, 48, 24, 0.0, 2)],
        vec![b(3, 72, 24, 0.0, 1)],
        vec![b(5, 72, 40, 0.25, 2)],
        vec![b(5, 120, 40, 0.25, 1)],
        vec![b(3, 240, 80, 0.0, 2)],
        vec![
            b(3, 200, 80, 0.0, 1),
            b(3, 184, 80, 0.0, 1),
            b(3, 184, 80, 0.0, 1),
            b(3, 480, 112, 0.25, 1),
            b(3, 672, 112, 0.25, 1),
        ],
        vec![b(5, 672, 160, 0.25, 2)],
        vec![b(5, 960, 160, 0.0, 1), b(5, 960, 160, 0.25, 1), b(5, 960, 160, 0.0, 1), b(5, 960, 160, 0.25, 1)],
    ]
}

/// A GhostNet description.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub version: Version,
    /// Width multiplier applied to every channel count but the head's.
    pub width: f32,
    pub stages: Vec<Vec<Block>>,
    /// NCHW input shape; `C` is timm's `in_chans`.
    pub input: [usize; 4],
    pub num_classes: usize,
    /// Channels of the 1x1 head conv (1280 in GhostNet, not width-scaled).
    pub head_channels: usize,
    /// timm's `features_only` backbone: no head; the outputs are the stem convolution's
    /// output (before its BatchNorm, as timm returns it) and that of every stage whose last
    /// block has stride 2 (timm's `feature_info`), named after those modules.
    pub features: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            version: Version::V1,
            width: 1.0,
            stages: default_stages(),
            input: [1, 3, 224, 224],
            num_classes: 1000,
            head_channels: 1280,
            features: false,
        }
    }
}

impl Spec {
    /// GhostNet V1 at width `alpha` with the default table, 224x224 RGB, 1000 classes.
    pub fn with_width(alpha: f32) -> Self {
        Spec { width: alpha, ..Spec::default() }
    }

    /// A name like `ghostnet_130` or `ghostnetv2_100`.
    pub fn name(&self) -> String {
        let v = match self.version {
            Version::V1 => "",
            Version::V2 => "v2",
        };
        format!("ghostnet{v}_{:03}", (self.width * 100.0).round() as i64)
    }

    /// Every problem with the description, or `Ok`.
    pub fn check(&self) -> Result<(), Error> {
        let mut p = Vec::new();
        if !(self.width.is_finite() && self.width > 0.0) {
            p.push(format!("alpha (width multiplier) must be a positive number, got {}", self.width));
        }
        if self.input.contains(&0) {
            p.push(format!("input shape {:?} has a zero dimension", self.input));
        }
        if self.num_classes == 0 {
            p.push("classes must be at least 1".into());
        }
        if self.head_channels == 0 {
            p.push("head channels must be at least 1".into());
        }
        if self.stages.is_empty() || self.stages.iter().any(Vec::is_empty) {
            p.push("the stage table needs at least one stage, and every stage at least one block".into());
        }
        for (s, stage) in self.stages.iter().enumerate() {
            for (i, b) in stage.iter().enumerate() {
                let at = format!("stage {s}, block {i}");
                if b.kernel == 0 || b.kernel % 2 == 0 {
                    p.push(format!("{at}: kernel {} must be odd", b.kernel));
                }
                if b.stride == 0 {
                    p.push(format!("{at}: stride must be at least 1"));
                }
                if b.expansion == 0 || b.out == 0 {
                    p.push(format!("{at}: expansion and output channels must be at least 1"));
                }
                if !(0.0..1.0).contains(&b.se_ratio) {
                    p.push(format!("{at}: SE ratio {} must be in [0, 1)", b.se_ratio));
                }
            }
        }
        if p.is_empty() { Ok(()) } else { Err(Error::Spec(p)) }
    }
}

/// `make_divisible(v, divisor, min_value=None, round_limit=0.9)` from the official code and
/// timm: round to the nearest multiple of `divisor` (at least `divisor`), and go one step up
/// if that lost more than 10%.
///
/// Saturates at `usize::MAX` for absurd widths, which the resource limits then refuse.
pub fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let mut new_v = divisor.max((((v + d / 2.0) / d).floor() as usize).saturating_mul(divisor));
    if (new_v as f64) < 0.9 * v {
        new_v = new_v.saturating_add(divisor);
    }
    new_v
}

/// Why a DSL network could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid GhostNet description, {} problem(s):\n  - {}", .0.len(), .0.join("\n  - "))]
    Spec(Vec<String>),
    #[error("cannot read weights '{path}': {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("'{path}' is not a safetensors file: {reason}")]
    NotSafetensors { path: std::path::PathBuf, reason: String },
    #[error("'{path}' does not fit this GhostNet, {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "))]
    Weights { path: std::path::PathBuf, problems: Vec<String> },
    #[error("the network does not fit its input: layer '{layer}': {message}")]
    Shape { layer: String, message: String },
    #[error("cannot parse the stage table: {0}")]
    Stages(String),
    #[error("the GhostNet description is over the resource limits, {} problem(s):\n  - {}", .0.len(), .0.join("\n  - "))]
    Limits(Vec<String>),
}

/// Upper bound of the nodes one bottleneck block adds (a GhostNetV2 block with squeeze-excite
/// and a conv shortcut has about 40).
const NODES_PER_BLOCK: usize = 64;

/// Builds the graph of `spec` with weights from `source`, under the default [`Limits`].
pub fn build(spec: &Spec, source: &mut Source) -> Result<Graph, Error> {
    build_with_limits(spec, source, &Limits::default())
}

/// Builds the graph of `spec` with weights from `source`. Sizes are checked against
/// `limits` as the graph grows: a weight over the limits is never allocated, an absurd
/// stage table is refused before anything is built, and every tensor's size is checked
/// before the graph is returned.
pub fn build_with_limits(spec: &Spec, source: &mut Source, limits: &Limits) -> Result<Graph, Error> {
    spec.check()?;
    let blocks: usize = spec.stages.iter().map(Vec::len).sum();
    let nodes = blocks.saturating_add(1).saturating_mul(NODES_PER_BLOCK);
    let mut over = Vec::new();
    if nodes > limits.max_nodes || nodes > limits.max_depth {
        over.push(format!(
            "the stage table has {blocks} blocks, up to {nodes} nodes, over the limit of {} nodes in all and {} in a chain (raise them with --max-nodes and --max-depth)",
            limits.max_nodes, limits.max_depth
        ));
    }
    let input_len = crate::ir::checked_numel(&spec.input).map_or(u64::MAX, |n| n as u64);
    if input_len > limits.max_tensor_elements {
        over.push(format!(
            "the input {} has {input_len} elements, over the limit of {} (raise it with --max-tensor-elements)",
            crate::ir::ShapeDisplay(&spec.input),
            limits.max_tensor_elements
        ));
    }
    if !over.is_empty() {
        return Err(Error::Limits(over));
    }
    source.set_limits(limits);
    let mut b = Builder { g: Graph::new(spec.name()), w: source };
    let x = b.g.add_input("input", spec.input.to_vec());
    let outputs = b.network(spec, x);
    if let Some(over) = b.w.over_limits() {
        return Err(Error::Limits(over));
    }
    for (name, t) in outputs.map_err(|(layer, message)| Error::Shape { layer, message })? {
        b.g.outputs.push(t);
        b.g.output_names.push(name);
    }
    let mut over = Vec::new();
    for t in b.g.tensors.iter().filter(|t| !t.is_const()) {
        if crate::ir::checked_numel(&t.shape).is_none_or(|n| n as u64 > limits.max_tensor_elements) {
            over.push(format!(
                "layer '{}' gives shape {}, over the limit of {} elements (raise it with --max-tensor-elements)",
                t.name,
                crate::ir::ShapeDisplay(&t.shape),
                limits.max_tensor_elements
            ));
        }
    }
    if !over.is_empty() {
        return Err(Error::Limits(over));
    }
    b.w.finish()?;
    let bad = b.g.nonfinite_constants();
    if !bad.is_empty() {
        return Err(b.w.weights_error(bad));
    }
    debug_assert!(b.g.validate().is_ok(), "{:?}", b.g.validate());
    Ok(b.g)
}

type Built = Result<TensorId, (String, String)>;

struct Builder<'s> {
    g: Graph,
    w: &'s mut Source,
}

impl Builder<'_> {
    fn shape(&self, t: TensorId) -> &[usize] {
        self.g.shape(t)
    }

    fn op(&mut self, name: &str, op: Op, inputs: Vec<TensorId>) -> Built {
        self.g.push(name, op, inputs).map_err(|m| (name.to_string(), m))
    }

    /// `Conv2d(in, out, kernel, stride, pad, groups, bias)` named `{name}.weight` / `.bias`.
    fn conv(&mut self, name: &str, x: TensorId, out: usize, conv: Conv) -> Built {
        let cin = self.shape(x)[1];
        let groups = conv.groups;
        if groups == 0 || !cin.is_multiple_of(groups) {
            return Err((name.into(), format!("{groups} groups do not divide {cin} channels")));
        }
        let w = self.w.param(&mut self.g, &format!("{name}.weight"), vec![out, cin / groups, conv.kernel[0], conv.kernel[1]], Init::Conv);
        let mut inputs = vec![x, w];
        if conv.bias {
            inputs.push(self.w.param(&mut self.g, &format!("{name}.bias"), vec![out], Init::Bias));
        }
        self.op(name, Op::Conv(conv), inputs)
    }

    /// `BatchNorm2d` named `{name}.weight/bias/running_mean/running_var`.
    fn bn(&mut self, name: &str, x: TensorId) -> Built {
        let c = self.shape(x)[1];
        let mut inputs = vec![x];
        for (suffix, init) in [("weight", Init::BnWeight), ("bias", Init::BnBias), ("running_mean", Init::BnMean), ("running_var", Init::BnVar)] {
            inputs.push(self.w.param(&mut self.g, &format!("{name}.{suffix}"), vec![c], init));
        }
        self.w.ignore(&format!("{name}.num_batches_tracked"));
        self.op(&format!("{name}/bn"), Op::BatchNorm { epsilon: 1e-5 }, inputs)
    }

    fn relu(&mut self, name: &str, x: TensorId) -> Built {
        self.op(&format!("{name}/relu"), Op::Activation(Act::Relu), vec![x])
    }

    /// conv (no bias) + BN, and ReLU if `act`; timm's `Sequential(Conv2d, BatchNorm2d, act)`
    /// with the conv at index `at` and the BN at `at + 1`.
    fn conv_bn(&mut self, prefix: &str, at: usize, x: TensorId, out: usize, conv: Conv, act: bool) -> Built {
        let y = self.conv(&format!("{prefix}.{at}"), x, out, conv)?;
        let y = self.bn(&format!("{prefix}.{}", at + 1), y)?;
        if act { self.relu(prefix, y) } else { Ok(y) }
    }

    /// The network's outputs, named: the logits, or the features.
    fn network(&mut self, spec: &Spec, x: TensorId) -> Result<Vec<(String, TensorId)>, (String, String)> {
        let w = spec.width as f64;
        let stem = make_divisible(16.0 * w, 4);
        let y = self.conv("conv_stem", x, stem, Conv::new(3, 2, 1, 1))?;
        let mut features = vec![("conv_stem".to_string(), y)];
        // The backbone stops after the last stage a feature comes from.
        let last = spec.stages.iter().rposition(|st| st.last().is_some_and(|b| b.stride > 1));
        let y = self.bn("bn1", y)?;
        let mut y = self.relu("act1", y)?;
        let mut layer = 0;
        let mut last_exp = 0;
        for (s, stage) in spec.stages.iter().enumerate() {
            if spec.features && last.is_none_or(|l| s > l) {
                break;
            }
            for (i, blk) in stage.iter().enumerate() {
                let out = make_divisible(blk.out as f64 * w, 4);
                let mid = make_divisible(blk.expansion as f64 * w, 4);
                let attn = spec.version == Version::V2 && layer > 1;
                y = self.bottleneck(&format!("blocks.{s}.{i}"), y, mid, out, blk, attn)?;
                last_exp = blk.expansion;
                layer += 1;
            }
            if stage.last().is_some_and(|b| b.stride > 1) {
                features.push((format!("blocks.{s}"), y));
            }
        }
        if spec.features {
            // Full-network weights are fine: the head and the stages after the last
            // feature are not built.
            let dropped = |k: &str| {
                let stage = k.strip_prefix("blocks.").and_then(|r| r.split('.').next()).and_then(|s| s.parse::<usize>().ok());
                k.starts_with("conv_head.") || k.starts_with("classifier.") || stage.is_some_and(|s| last.is_none_or(|l| s > l))
            };
            self.w.ignore_where(dropped);
            return Ok(features);
        }
        let s = spec.stages.len();
        let feat = make_divisible(last_exp as f64 * w, 4);
        let y = self.conv(&format!("blocks.{s}.0.conv"), y, feat, Conv::new(1, 1, 0, 1))?;
        let y = self.bn(&format!("blocks.{s}.0.bn1"), y)?;
        let y = self.relu(&format!("blocks.{s}.0"), y)?;
        let y = self.op("global_pool", Op::GlobalAveragePool, vec![y])?;
        let mut head = Conv::new(1, 1, 0, 1);
        head.bias = true;
        let y = self.conv("conv_head", y, spec.head_channels, head)?;
        let y = self.relu("act2", y)?;
        let n = self.shape(y)[0];
        let y = self.op("flatten", Op::Reshape { shape: vec![n, spec.head_channels] }, vec![y])?;
        let cw = self.w.param(&mut self.g, "classifier.weight", vec![spec.num_classes, spec.head_channels], Init::Linear);
        let cb = self.w.param(&mut self.g, "classifier.bias", vec![spec.num_classes], Init::Bias);
        let logits = self.op("classifier", Op::Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: true }, vec![y, cw, cb])?;
        Ok(vec![("logits".into(), logits)])
    }

    fn bottleneck(&mut self, name: &str, x: TensorId, mid: usize, out: usize, blk: &Block, attn: bool) -> Built {
        let cin = self.shape(x)[1];
        let mut y = if attn {
            self.ghost_v2(&format!("{name}.ghost1"), x, mid)?
        } else {
            self.ghost(&format!("{name}.ghost1"), x, mid, true)?
        };
        let pad = (blk.kernel - 1) / 2;
        if blk.stride > 1 {
            y = self.conv(&format!("{name}.conv_dw"), y, mid, Conv::new(blk.kernel, blk.stride, pad, mid))?;
            y = self.bn(&format!("{name}.bn_dw"), y)?;
        }
        if blk.se_ratio > 0.0 {
            y = self.squeeze_excite(&format!("{name}.se"), y, blk.se_ratio)?;
        }
        let y = self.ghost(&format!("{name}.ghost2"), y, out, false)?;
        let shortcut = if cin == out && blk.stride == 1 {
            x
        } else {
            let sc = format!("{name}.shortcut");
            let s = self.conv_bn(&sc, 0, x, cin, Conv::new(blk.kernel, blk.stride, pad, cin), false)?;
            self.conv_bn(&sc, 2, s, out, Conv::new(1, 1, 0, 1), false)?
        };
        self.op(&format!("{name}/add"), Op::Add, vec![y, shortcut])
    }

    /// timm `GhostModule(in, out, use_act=act)`: primary 1x1 to `ceil(out/2)`, cheap
    /// depthwise 3x3 on it, concatenated and cut to `out`.
    fn ghost(&mut self, name: &str, x: TensorId, out: usize, act: bool) -> Built {
        let init = out.div_ceil(2);
        let x1 = self.conv_bn(&format!("{name}.primary_conv"), 0, x, init, Conv::new(1, 1, 0, 1), act)?;
        let x2 = self.conv_bn(&format!("{name}.cheap_operation"), 0, x1, init, Conv::new(3, 1, 1, init), act)?;
        let cat = self.op(&format!("{name}/concat"), Op::Concat { axis: 1 }, vec![x1, x2])?;
        let axes = vec![crate::ir::SliceAxis::range(1, 0, out)];
        self.op(&format!("{name}/slice"), Op::Slice { axes }, vec![cat])
    }

    /// timm `GhostModuleV2` in `attn` mode: the ghost module times a DFC attention gate.
    fn ghost_v2(&mut self, name: &str, x: TensorId, out: usize) -> Built {
        let pool = Pool { count_include_pad: true, ..Pool::new([2, 2], [2, 2]) };
        let p = self.op(&format!("{name}/avg_pool"), Op::AveragePool(pool), vec![x])?;
        let sc = format!("{name}.short_conv");
        let r = self.conv_bn(&sc, 0, p, out, Conv::new(1, 1, 0, 1), false)?;
        let r = self.conv_bn(&sc, 2, r, out, Conv::new2([1, 5], [1, 1], [0, 2, 0, 2], out), false)?;
        let r = self.conv_bn(&sc, 4, r, out, Conv::new2([5, 1], [1, 1], [2, 0, 2, 0], out), false)?;
        let gate = self.op(&format!("{name}/gate"), Op::Activation(Act::Sigmoid), vec![r])?;
        let y = self.ghost(name, x, out, true)?;
        let resize = crate::ir::Resize::nearest(self.shape(gate), self.shape(y).to_vec());
        let up = self.op(&format!("{name}/upsample"), Op::Resize(resize), vec![gate])?;
        self.op(&format!("{name}/mul"), Op::Mul, vec![y, up])
    }

    /// timm `SqueezeExcite(c, rd_ratio, rd_round_fn=make_divisible(.., 4), gate=hard_sigmoid)`.
    fn squeeze_excite(&mut self, name: &str, x: TensorId, ratio: f32) -> Built {
        let c = self.shape(x)[1];
        let rd = make_divisible(c as f64 * ratio as f64, 4);
        let m = self.op(&format!("{name}/mean"), Op::ReduceMean { axes: vec![2, 3], keepdims: true }, vec![x])?;
        let mut conv = Conv::new(1, 1, 0, 1);
        conv.bias = true;
        let r = self.conv(&format!("{name}.conv_reduce"), m, rd, conv.clone())?;
        let r = self.relu(name, r)?;
        let e = self.conv(&format!("{name}.conv_expand"), r, c, conv)?;
        let gate = Act::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 };
        let gate = self.op(&format!("{name}/gate"), Op::Activation(gate), vec![e])?;
        self.op(&format!("{name}/scale"), Op::Mul, vec![x, gate])
    }
}

/// Parses a stage table written as timm writes `cfgs`:
/// `[[[3, 16, 16, 0, 1]], [[3, 48, 24, 0, 2]], ...]`, each row `[k, exp, c, se_ratio, s]`.
pub fn parse_stages(text: &str) -> Result<Vec<Vec<Block>>, Error> {
    let bad = |m: String| Error::Stages(m);
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(format!("{e} (expected nested lists like [[[3, 16, 16, 0, 1]]])")))?;
    let stages = v.as_array().ok_or_else(|| bad("the table must be a list of stages".into()))?;
    let mut out = Vec::new();
    for (s, stage) in stages.iter().enumerate() {
        let rows = stage.as_array().ok_or_else(|| bad(format!("stage {s} must be a list of blocks")))?;
        let mut blocks = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let at = || format!("stage {s}, block {i}");
            let vals = row.as_array().filter(|r| r.len() == 5).ok_or_else(|| bad(format!("{}: a block is [k, exp, c, se_ratio, s]", at())))?;
            let int = |j: usize, what: &str| -> Result<usize, Error> {
                let whole = vals[j].as_f64().filter(|v| v.fract() == 0.0 && *v >= 0.0 && *v < 1e9).map(|v| v as u64);
                vals[j].as_u64().or(whole).map(|v| v as usize).ok_or_else(|| bad(format!("{}: {what} must be a non-negative integer, got {}", at(), vals[j])))
            };
            let se = vals[3].as_f64().ok_or_else(|| bad(format!("{}: se_ratio must be a number, got {}", at(), vals[3])))?;
            blocks.push(Block::new(int(0, "k")?, int(1, "exp")?, int(2, "c")?, se as f32, int(4, "s")?));
        }
        out.push(blocks);
    }
    Ok(out)
}

impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}, {}, {}, {}]", self.kernel, self.expansion, self.out, self.se_ratio, self.stride)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_divisible_matches_the_reference_table() {
        // Widths 0.5 / 1.0 / 1.3 / 1.6 of stem 16, b3 expansion 72, b9 out 112, last 960.
        let md = |v: f64| make_divisible(v, 4);
        assert_eq!([md(16.0 * 0.5), md(16.0), md(16.0 * 1.3), md(16.0 * 1.6)], [8, 16, 20, 24]);
        assert_eq!([md(72.0 * 0.5), md(72.0), md(72.0 * 1.3), md(72.0 * 1.6)], [36, 72, 92, 116]);
        assert_eq!([md(112.0 * 0.5), md(112.0), md(112.0 * 1.3), md(112.0 * 1.6)], [56, 112, 144, 180]);
        assert_eq!([md(960.0 * 0.5), md(960.0), md(960.0 * 1.3), md(960.0 * 1.6)], [480, 960, 1248, 1536]);
        assert_eq!(md(672.0 * 1.3 * 0.25), 220);
        assert_eq!(md(0.3), 4);
    }

    #[test]
    fn stage_tables_parse_and_report_position() {
        let t = parse_stages("[[[3, 16, 16, 0, 1]], [[5, 72, 40, 0.25, 2], [3, 120, 40, 0.25, 1]]]").unwrap();
        assert_eq!(t[1][0], Block::new(5, 72, 40, 0.25, 2));
        let e = parse_stages("[[[3, 16, 16, 0]]]").unwrap_err().to_string();
        assert!(e.contains("stage 0, block 0"), "{e}");
        let e = parse_stages("[[[3, -16, 16, 0, 1]]]").unwrap_err().to_string();
        assert!(e.contains("exp must be a non-negative integer"), "{e}");
    }
}
