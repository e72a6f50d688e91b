//! Post-training quantization to int8, decided per layer by measurement.
//!
//! 1. **Calibration.** The reference interpreter runs the `f32` graph over the calibration
//!    inputs and records the range of every int8-capable product's input (after its
//!    squeeze-excite scale); each gets unsigned-byte parameters over that range (min/max,
//!    widened to include 0). Weights get symmetric per-output-channel scales
//!    (`max |w| / 127`).
//! 2. **Per-layer error.** A second pass evaluates each such layer in int8 on the `f32`
//!    inputs it sees and measures its own output's SQNR.
//! 3. **Budget.** The whole network runs in int8 over the calibration inputs; while the
//!    SQNR of its outputs against `f32` is below the budget, the layers with the worst own
//!    SQNR go back to float (the fewest that meet the budget, found by bisection over that
//!    order). Layers the user names stay float from the start.
//!
//! int8-capable: 1x1 convolutions, ghost modules' primary convolutions and classifiers by
//! constant weights whose epilogue activation is none, ReLU or a clip (the ones every kernel
//! tier computes bit for bit alike), with at most 65536 inputs per output. The other
//! matrix products (the squeeze-excite gates among them) run in bfloat16 when large enough
//! ([`crate::passes::set_precision`]), everything else in `f32`.

use std::path::{Path, PathBuf};

use crate::interp::{self, Arg};
use crate::ir::precision::{product_weights, weight_layout, weight_scales, ChannelLayout};
use crate::ir::{numel, Act, Graph, Node, Op, Precision, QParams, Quant, ShapeDisplay};
use crate::Limits;

/// How to quantize; see the module documentation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// The calibration inputs: raw little-endian `f32` network inputs, back to back.
    pub calibrate: Option<PathBuf>,
    /// The least SQNR (dB) of the outputs against `f32` on the calibration inputs;
    /// [`DEFAULT_BUDGET_DB`] when `None`.
    pub budget_db: Option<f32>,
    /// Layers (node names, as `ghostc inspect` shows them) that stay float.
    pub keep_float: Vec<String>,
}

/// The default error budget: outputs at least this SQNR (dB) against `f32`.
///
/// About what ONNX Runtime's own static quantization reaches on GhostNet 1.0x (38.5 dB);
/// above ~35 dB the top-1 of the trained networks here no longer moves.
pub const DEFAULT_BUDGET_DB: f32 = 35.0;

/// Why quantizing failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("int8 needs calibration inputs: give a file of raw f32 network inputs (--calibrate CALIB.bin, or calibrate = \"...\")")]
    NoCalibration,
    #[error("calibration file '{path}': {message}")]
    Calibration { path: String, message: String },
    #[error("no layer is called {}; `ghostc inspect` lists the layers", .0.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", "))]
    UnknownLayers(Vec<String>),
    #[error("the model is already quantized (QuantizeLinear/DequantizeLinear pairs): it compiles in int8 with its own scales, without calibration inputs")]
    AlreadyQuantized,
    #[error("the error budget must be a finite number of dB, got {0}")]
    Budget(f32),
    #[error(transparent)]
    Interp(#[from] interp::Error),
}

/// What quantizing chose and measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub calibration_inputs: usize,
    pub budget_db: f32,
    /// Layers in int8.
    pub int8: Vec<String>,
    /// Layers that could be int8 but stay float to meet the budget, worst first.
    pub kept_by_budget: Vec<String>,
    /// Layers that stay float because the user said so.
    pub kept_by_user: Vec<String>,
    /// SQNR (dB) of the outputs against `f32` on the calibration inputs, as compiled;
    /// `None` for a model quantized by another tool (its own scales are used).
    pub sqnr_db: Option<f64>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(db) = self.sqnr_db else {
            return write!(f, "int8: {} layers in int8 with the model's own scales and zero points (QDQ)", self.int8.len());
        };
        write!(
            f,
            "int8: {} layers in int8, {} kept float for the {:.1} dB budget{}, {} kept float as asked; outputs {:.1} dB SQNR against f32 on {} calibration input(s)",
            self.int8.len(),
            self.kept_by_budget.len(),
            self.budget_db,
            if self.kept_by_budget.is_empty() { String::new() } else { format!(" ({})", self.kept_by_budget.join(", ")) },
            self.kept_by_user.len(),
            db,
            self.calibration_inputs
        )
    }
}

/// Reads a calibration file: whole network inputs of `input_len` values, finite, at least one.
pub fn read_calibration(path: &Path, input_shape: &[usize], limits: &Limits) -> Result<Vec<Vec<f32>>, Error> {
    let fail = |message: String| Error::Calibration { path: path.display().to_string(), message };
    let len = std::fs::metadata(path).map_err(|e| fail(format!("cannot read it: {e}")))?.len();
    if len > limits.max_file_bytes {
        return Err(fail(format!("{len} bytes is over the limit of {} (--max-file-bytes)", limits.max_file_bytes)));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let per = numel(input_shape);
    let shape = ShapeDisplay(input_shape);
    if bytes.is_empty() {
        return Err(fail(format!("it is empty; it should hold network inputs of shape {shape} ({} bytes each as f32), back to back", per * 4)));
    }
    if per == 0 || bytes.len() % (per * 4) != 0 {
        return Err(fail(format!(
            "it holds {} bytes, not a whole number of inputs of shape {shape} ({} bytes each as raw little-endian f32)",
            bytes.len(),
            per * 4
        )));
    }
    let values: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let bad: Vec<usize> = values.iter().enumerate().filter(|(_, v)| !v.is_finite()).map(|(i, _)| i).collect();
    if let Some(&first) = bad.first() {
        return Err(fail(format!(
            "{} value(s) are NaN or infinite (the first is value {} of input {}); calibration inputs must be finite",
            bad.len(),
            first % per,
            first / per
        )));
    }
    Ok(values.chunks(per).map(<[f32]>::to_vec).collect())
}

/// Whether `n` can run in int8: see the module documentation.
pub fn int8_capable(g: &Graph, n: &Node) -> bool {
    let exact = |a: Option<Act>| matches!(a, None | Some(Act::Relu) | Some(Act::Clip { .. }));
    let op_ok = match &n.op {
        Op::Conv(c) => exact(c.act),
        Op::Ghost { primary, .. } => exact(primary.act),
        Op::Gemm { alpha, trans_a, .. } => *alpha == 1.0 && !trans_a,
        Op::MatMul => true,
        _ => false,
    };
    op_ok && product_weights(g, n) == [1] && g.shape(n.inputs[0]).get(1).is_some_and(|&k| k <= 65536)
}

/// The input of `n`'s matrix product, value by value: `x` times its squeeze-excite scale.
pub fn product_input(n: &Node, args: &[Arg<'_>]) -> Vec<f32> {
    let x = args[0];
    let scale_at = match &n.op {
        Op::Conv(c) => c.scale_input(),
        Op::Ghost { residual, scale: true, .. } => Some(5 + *residual as usize),
        _ => None,
    };
    match scale_at {
        None => x.data.to_vec(),
        Some(at) => {
            let inner: usize = x.shape[2..].iter().product();
            x.data.iter().enumerate().map(|(i, &v)| v * args[at].data[i / inner]).collect()
        }
    }
}

/// Signal and noise energy of `got` against `want`.
#[derive(Clone, Copy, Debug, Default)]
struct Energy {
    signal: f64,
    noise: f64,
}

impl Energy {
    fn add(&mut self, got: &[f32], want: &[f32]) {
        for (&g, &w) in got.iter().zip(want) {
            self.signal += (w as f64).powi(2);
            self.noise += (g as f64 - w as f64).powi(2);
        }
    }

    fn db(&self) -> f64 {
        if self.noise == 0.0 { f64::INFINITY } else { 10.0 * (self.signal / self.noise).log10() }
    }
}

/// Runs `g` over `inputs`; the outputs of each input, concatenated.
fn outputs(g: &Graph, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, Error> {
    inputs.iter().map(|x| Ok(interp::run(g, &[x])?.concat())).collect()
}

fn sqnr(got: &[Vec<f32>], want: &[Vec<f32>]) -> f64 {
    let mut e = Energy::default();
    for (g, w) in got.iter().zip(want) {
        e.add(g, w);
    }
    e.db()
}

/// Quantizes `g` (optimized, in `f32`) over `inputs`: every int8-capable layer gets its
/// [`Quant`] and [`Precision::Int8`] unless it stays float; see the module documentation.
pub fn quantize(g: &mut Graph, inputs: &[Vec<f32>], settings: &Settings) -> Result<Summary, Error> {
    let budget = settings.budget_db.unwrap_or(DEFAULT_BUDGET_DB);
    if !budget.is_finite() {
        return Err(Error::Budget(budget));
    }
    let unknown: Vec<String> = settings.keep_float.iter().filter(|k| !g.nodes.iter().any(|n| &n.name == *k)).cloned().collect();
    if !unknown.is_empty() {
        return Err(Error::UnknownLayers(unknown));
    }
    let candidates: Vec<usize> = (0..g.nodes.len()).filter(|&i| int8_capable(g, &g.nodes[i])).collect();
    // The reference: everything in f32.
    let mut reference_graph = g.clone();
    for n in &mut reference_graph.nodes {
        n.precision = Precision::F32;
    }
    let f32_graph = &reference_graph;

    // 1. Ranges of the products' inputs, and the f32 outputs.
    let mut range = vec![(f32::INFINITY, f32::NEG_INFINITY); g.nodes.len()];
    let mut reference = Vec::with_capacity(inputs.len());
    for x in inputs {
        let y = interp::run_observed(f32_graph, &[x], &mut |i, args, _| {
            if candidates.contains(&i) {
                let r = &mut range[i];
                for v in product_input(&f32_graph.nodes[i], args) {
                    *r = (r.0.min(v), r.1.max(v));
                }
            }
        })?;
        reference.push(y.concat());
    }
    let mut quantized = g.clone();
    for &i in &candidates {
        let n = &quantized.nodes[i];
        let w = quantized.data(n.inputs[1]).expect("product weights are constant");
        let weight_scales = weight_scales(w, weight_layout(&quantized, n));
        let (lo, hi) = range[i];
        let input = QParams::from_range(lo, hi);
        let n = &mut quantized.nodes[i];
        n.quant = Some(Box::new(Quant { input, weight_scales, error_db: None }));
        n.precision = Precision::Int8;
    }

    // 2. Each layer's own error: int8 on the f32 inputs it sees.
    let mut own = vec![Energy::default(); g.nodes.len()];
    for x in inputs {
        interp::run_observed(f32_graph, &[x], &mut |i, args, out| {
            if candidates.contains(&i) {
                own[i].add(&interp::eval_node(&quantized, &quantized.nodes[i], args), out);
            }
        })?;
    }
    for &i in &candidates {
        if let Some(q) = quantized.nodes[i].quant.as_mut() {
            q.error_db = Some(own[i].db() as f32);
        }
    }

    // 3. The budget: the worst layers back to float until the outputs meet it.
    let keep_user: Vec<usize> = candidates.iter().copied().filter(|&i| settings.keep_float.contains(&g.nodes[i].name)).collect();
    let mut order: Vec<usize> = candidates.iter().copied().filter(|i| !keep_user.contains(i)).collect();
    order.sort_by(|&a, &b| own[a].db().total_cmp(&own[b].db()));
    let with_float = |kept: &[usize]| {
        let mut t = quantized.clone();
        for &i in keep_user.iter().chain(kept) {
            t.nodes[i].precision = Precision::F32;
        }
        t
    };
    let measure = |kept: &[usize]| -> Result<f64, Error> { Ok(sqnr(&outputs(&with_float(kept), inputs)?, &reference)) };
    let mut best = (0, measure(&[])?);
    if best.1 < budget as f64 {
        // The fewest of the worst layers kept float that meet the budget (all of them do).
        let (mut lo, mut hi) = (0, order.len());
        let mut at_hi = f64::INFINITY;
        while lo + 1 < hi {
            let mid = (lo + hi) / 2;
            let db = measure(&order[..mid])?;
            if db >= budget as f64 {
                (hi, at_hi) = (mid, db);
            } else {
                lo = mid;
            }
        }
        best = (hi, if hi == order.len() { measure(&order)? } else { at_hi });
    }
    let kept = &order[..best.0];
    *g = with_float(kept);
    let name = |i: &usize| g.nodes[*i].name.clone();
    let int8 = candidates.iter().filter(|&&i| g.nodes[i].precision == Precision::Int8).map(name).collect();
    Ok(Summary {
        calibration_inputs: inputs.len(),
        budget_db: budget,
        int8,
        kept_by_budget: kept.iter().map(name).collect(),
        kept_by_user: keep_user.iter().map(name).collect(),
        sqnr_db: Some(best.1),
    })
}

/// Gives the int8 layers of a QDQ model (after [`crate::passes::absorb_fake_quant`] and the
/// fusion) their weight scales: the model's own when its weights came as 8-bit integers
/// with zero points of 0 per output channel or per tensor, else `max |w| / 127` per output
/// channel; a layer whose weights the passes changed gets the latter. Returns the summary.
pub fn finish_qdq(g: &mut Graph) -> Summary {
    for i in 0..g.nodes.len() {
        let n = &g.nodes[i];
        if n.precision != Precision::Int8 || n.quant.as_ref().is_none_or(|q| !q.weight_scales.is_empty()) {
            continue;
        }
        let layout = weight_layout(g, n);
        let w = g.tensor(n.inputs[1]);
        let own = w.int8_scales.as_ref().and_then(|s| {
            if s.scales.len() == 1 {
                Some(vec![s.scales[0]; layout.channels])
            } else {
                (s.scales.len() == layout.channels && ChannelLayout::along(&w.shape, s.axis) == layout).then(|| s.scales.clone())
            }
        });
        let scales = own.unwrap_or_else(|| weight_scales(w.data.as_deref().expect("product weights are constant"), layout));
        if let Some(q) = g.nodes[i].quant.as_mut() {
            q.weight_scales = scales;
        }
    }
    let int8 = g.nodes.iter().filter(|n| n.precision == Precision::Int8).map(|n| n.name.clone()).collect();
    Summary { calibration_inputs: 0, budget_db: 0.0, int8, kept_by_budget: Vec::new(), kept_by_user: Vec::new(), sqnr_db: None }
}
