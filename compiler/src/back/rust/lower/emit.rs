//! The emission context: arena offsets from the plan, the steps written so far, and the
//! weight blob with the packing of every kernel's weights (all packing is here).

use std::collections::HashMap;

use ghostnet_runtime as rt;
use rt::isa::{Act as RtAct, Src};

use super::super::memory;
use super::layout::{self, Layouts};
use super::plan::Plan;
use super::{Kind, Operand, Step};
use crate::ir::precision::quantize_weight;
use crate::ir::{Graph, Precision, Quant, TensorId};
use rt::gemm::Gemm;
use rt::qgemm::{QGemm, Quantize};

pub(super) struct Emit<'g> {
    pub graph: &'g Graph,
    pub layouts: &'g Layouts,
    pub plan: &'g Plan,
    weights: Vec<f32>,
    steps: Vec<Step>,
    /// The image a fused kernel is emitted for (when the steps run on a whole batch, a
    /// fused kernel is emitted once per image).
    image: usize,
    /// Blob offsets packed by each node's first emission, handed out again to its other
    /// images' emissions (`replay`'s cursor).
    packed: HashMap<usize, Vec<usize>>,
    node: usize,
    replay: Option<usize>,
    /// Constants the general kernels read, by tensor: their offset in the blob.
    consts: HashMap<TensorId, usize>,
    /// Column sums of the int8 weights [`Emit::pack_b`] packed last.
    colsum: Vec<i64>,
}

impl<'g> Emit<'g> {
    pub fn new(graph: &'g Graph, layouts: &'g Layouts, plan: &'g Plan) -> Self {
        Emit {
            graph,
            layouts,
            plan,
            weights: Vec::new(),
            steps: Vec::new(),
            image: 0,
            packed: HashMap::new(),
            node: usize::MAX,
            replay: None,
            consts: HashMap::new(),
            colsum: Vec::new(),
        }
    }

    /// Starts emitting node `node` for image `image` (0 when the steps run per image).
    pub fn start(&mut self, node: usize, image: usize) {
        self.node = node;
        self.image = image;
        self.replay = (image > 0).then_some(0);
    }

    /// The steps and the packed weights.
    pub fn finish(self) -> (Vec<Step>, Vec<f32>) {
        (self.steps, self.weights)
    }

    /// Arena offset of activation `t` (of the current image for a fused kernel).
    pub fn at(&self, t: TensorId) -> usize {
        self.plan.offsets[&t] + self.image * self.layouts.image_len(t)
    }

    /// The current image's offset into the caller's input.
    pub fn input_offset(&self) -> usize {
        self.image * self.layouts.image_len(self.graph.inputs[0])
    }

    /// Appends a step. A matrix product of a node in reduced precision becomes the kernels
    /// of that precision (its `B` was packed by [`Emit::pack_b`]).
    pub fn push(&mut self, layer: &str, kind: Kind) {
        match (kind, self.precision()) {
            (Kind::Gemm(g), Precision::Bf16) => self.steps.push(Step { layer: layer.to_string(), kind: Kind::GemmBf16(g) }),
            (Kind::Gemm(g), Precision::Int8) => self.push_int8(layer, g),
            (kind, _) => self.steps.push(Step { layer: layer.to_string(), kind }),
        }
    }

    /// The precision of the node being emitted.
    fn precision(&self) -> Precision {
        self.graph.nodes.get(self.node).map_or(Precision::F32, |n| n.precision)
    }

    /// The int8 quantization of the node being emitted.
    fn quant(&self) -> &'g Quant {
        self.graph.nodes[self.node].quant.as_deref().expect("an int8 node has its quantization")
    }

    /// Packs `b(p, j)` (`k x n`) for the matrix-product kernels in the node's precision; in
    /// int8 with the node's per-channel weight scales (an int8 node's packing is followed by
    /// its one matrix product, [`Emit::push_int8`]).
    fn pack_b(&mut self, k: usize, n: usize, b: impl Fn(usize, usize) -> f32) -> usize {
        match self.precision() {
            Precision::F32 => self.blob(rt::gemm::packed_len(k, n), |out| rt::gemm::pack(k, n, b, out)),
            Precision::Bf16 => self.blob(rt::gemm::packed_len_bf16(k, n), |out| rt::gemm::pack_bf16(k, n, b, out)),
            Precision::Int8 => {
                let scales = &self.quant().weight_scales;
                let q = |p: usize, j: usize| quantize_weight(b(p, j), scales[j]);
                self.colsum = (0..n).map(|j| (0..k).map(|p| q(p, j) as i64).sum()).collect();
                self.blob(rt::qgemm::packed_len_i8(k, n), |out| rt::qgemm::pack_i8(k, n, q, out))
            }
        }
    }

    /// A matrix product of an int8 node: the `f32` product `g` (its `B` packed by
    /// [`Emit::pack_b`]) as the quantization of its input and the integer product, with the
    /// input's zero point and the scales folded into a per-column scale and bias:
    /// `y = f32(sum q_a q_w) * (s_a s_w[j]) + (bias[j] - s_a s_w[j] zero colsum[j])`.
    fn push_int8(&mut self, layer: &str, g: Gemm) {
        let q = self.quant();
        let bytes = *self.plan.scratch[&self.node].last().expect("an int8 node has a scratch buffer for its bytes");
        let lda = rt::qgemm::row_bytes(g.k);
        let quantize = Quantize { m: g.m, k: g.k, x: g.a, y: bytes, ldy: lda, inv_scale: q.input.inv_scale(), zero: q.input.zero as f32, scale: g.scale };
        let bias: Vec<f32> = self.weights[g.bias..g.bias + g.n].to_vec();
        let mult: Vec<f32> = q.weight_scales.iter().map(|&s| q.input.scale * s).collect();
        let colsum = std::mem::take(&mut self.colsum);
        let folded: Vec<f32> = (0..g.n).map(|j| (bias[j] as f64 - mult[j] as f64 * q.input.zero as f64 * colsum[j] as f64) as f32).collect();
        let scale = self.values(&mult);
        let bias = self.values(&folded);
        let qg = QGemm { m: g.m, k: g.k, n: g.n, a: bytes, lda, c: g.c, b: g.b, scale, bias, act: g.act, residual: g.residual, raw: g.raw, gate: g.gate };
        self.steps.push(Step { layer: layer.to_string(), kind: Kind::Quantize(quantize) });
        self.steps.push(Step { layer: layer.to_string(), kind: Kind::QGemm(qg) });
    }

    /// Appends `len` values written by `fill` to the blob, 16-aligned; returns the offset.
    /// For a node's later images, returns what its first image packed instead.
    pub fn blob(&mut self, len: usize, fill: impl FnOnce(&mut [f32])) -> usize {
        if let Some(k) = self.replay {
            self.replay = Some(k + 1);
            return self.packed[&self.node][k];
        }
        let at = self.weights.len().div_ceil(memory::ALIGN) * memory::ALIGN;
        self.weights.resize(at + len, 0.0);
        fill(&mut self.weights[at..]);
        self.packed.entry(self.node).or_default().push(at);
        at
    }

    /// The data of constant `t`.
    pub fn data(&self, t: TensorId) -> &'g [f32] {
        self.graph.data(t).expect("classified as constant")
    }

    /// Program dims of `t` (see [`Layouts`]).
    pub fn dims(&self, t: TensorId) -> Vec<usize> {
        self.layouts.dims(t).to_vec()
    }

    /// Where the general kernels read `t`: an activation in the arena (its layout there),
    /// the graph input in the caller's buffer (row-major, NCHW), a constant in the blob
    /// (row-major, packed on first use).
    pub fn view(&mut self, t: TensorId) -> Operand {
        if let Some(data) = self.graph.data(t) {
            let off = match self.consts.get(&t) {
                Some(&off) => off,
                None => {
                    let off = self.blob(data.len(), |out| out[..data.len()].copy_from_slice(data));
                    self.consts.insert(t, off);
                    off
                }
            };
            return Operand { src: Src::Weights(off), strides: layout::row_major(self.graph.shape(t)) };
        }
        if self.graph.inputs.contains(&t) {
            return Operand { src: Src::Input(0), strides: layout::row_major(self.layouts.dims(t)) };
        }
        Operand { src: Src::Arena(self.plan.offsets[&t]), strides: self.layouts.strides(t) }
    }

    /// `values` as a constant in the blob (row-major); returns the offset.
    pub fn values(&mut self, values: &[f32]) -> usize {
        self.blob(values.len(), |out| out[..values.len()].copy_from_slice(values))
    }

    /// A strided copy of `dims` elements from `x` to `y`.
    pub fn copy(&mut self, layer: &str, dims: &[usize], x: Operand, y: Operand) {
        self.map(layer, dims, x, y, RtAct::None);
    }

    /// `y = act(x)` over `dims`, the axes coalesced.
    pub fn map(&mut self, layer: &str, dims: &[usize], mut x: Operand, mut y: Operand, act: RtAct) {
        let dims = layout::coalesce(dims, &mut [&mut x.strides, &mut y.strides]);
        self.push(layer, Kind::Map { dims, x, y, act });
    }

    /// Packs a 1x1 weight `[n, k, 1, 1]` and a bias for the GEMM; returns their offsets.
    pub fn pointwise_weights(&mut self, w: TensorId, b: Option<TensorId>) -> (usize, usize) {
        let s = self.graph.shape(w);
        let (n, k) = (s[0], s[1]);
        let wd = self.data(w);
        let bo = self.pack_b(k, n, |p, j| wd[j * k + p]);
        let bias = b.map(|b| self.data(b).to_vec()).unwrap_or(vec![0.0; n]);
        let so = self.blob(n, |out| out[..n].copy_from_slice(&bias));
        (bo, so)
    }

    /// Packs a depthwise weight `[c, 1, kh, kw]` and its bias; returns the offset.
    pub fn depthwise_weights(&mut self, w: TensorId, b: Option<TensorId>) -> usize {
        let s = self.graph.shape(w);
        let (c, taps) = (s[0], s[2] * s[3]);
        let wd = self.data(w);
        let bias = b.map(|b| self.data(b).to_vec()).unwrap_or(vec![0.0; c]);
        self.blob(rt::dwconv::packed_len(c, taps), |out| rt::dwconv::pack(c, taps, |ch, t| wd[ch * taps + t], |ch| bias[ch], out))
    }

    /// Packs a dense convolution weight `[cout, cin, kh, kw]` and its bias; returns the offset.
    pub fn dense_weights(&mut self, w: TensorId, b: Option<TensorId>) -> usize {
        let s = self.graph.shape(w);
        let (cout, cin, kh, kw) = (s[0], s[1], s[2], s[3]);
        let wd = self.data(w);
        let bias = b.map(|b| self.data(b).to_vec()).unwrap_or(vec![0.0; cout]);
        self.blob(rt::conv::packed_len(kh, kw, cin, cout), |out| {
            rt::conv::pack(kh, kw, cin, cout, |o, i, y, x| wd[((o * cin + i) * kh + y) * kw + x], |o| bias[o], out)
        })
    }

    /// Packs the `k x n` matrix `alpha * B` (`B` given as `[k, n]`, or `[n, k]` when
    /// `trans_b`) for the GEMM, and `n` bias values; returns their offsets.
    pub fn matrix_weights(&mut self, b: TensorId, trans_b: bool, alpha: f32, bias: &[f32]) -> (usize, usize) {
        let bs = self.graph.shape(b);
        let (k, n) = if trans_b { (bs[1], bs[0]) } else { (bs[0], bs[1]) };
        let bd = self.data(b);
        let bo = self.pack_b(k, n, |p, j| alpha * if trans_b { bd[j * k + p] } else { bd[p * n + j] });
        let so = self.blob(n, |out| out[..n].copy_from_slice(bias));
        (bo, so)
    }
}

/// `src` moved `delta` elements on.
pub(super) fn shifted(src: Src, delta: usize) -> Src {
    match src {
        Src::Arena(o) => Src::Arena(o + delta),
        Src::Weights(o) => Src::Weights(o + delta),
        Src::Input(o) => Src::Input(o + delta),
    }
}
