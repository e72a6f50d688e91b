//! The emission context: arena offsets from the plan, the steps written so far, and the
//! weight blob with the packing of every kernel's weights (all packing is here).

use ghostnet_runtime as rt;

use super::super::memory;
use super::plan::Plan;
use super::{Kind, Step};
use crate::ir::{Graph, TensorId};

pub(super) struct Emit<'g> {
    pub graph: &'g Graph,
    pub plan: &'g Plan,
    weights: Vec<f32>,
    steps: Vec<Step>,
}

impl<'g> Emit<'g> {
    pub fn new(graph: &'g Graph, plan: &'g Plan) -> Self {
        Emit { graph, plan, weights: Vec::new(), steps: Vec::new() }
    }

    /// The steps and the packed weights.
    pub fn finish(self) -> (Vec<Step>, Vec<f32>) {
        (self.steps, self.weights)
    }

    /// Arena offset of activation `t`.
    pub fn at(&self, t: TensorId) -> usize {
        self.plan.offsets[&t]
    }

    pub fn push(&mut self, layer: &str, kind: Kind) {
        self.steps.push(Step { layer: layer.to_string(), kind });
    }

    /// Appends `len` values written by `fill` to the blob, 16-aligned; returns the offset.
    pub fn blob(&mut self, len: usize, fill: impl FnOnce(&mut [f32])) -> usize {
        let at = self.weights.len().div_ceil(memory::ALIGN) * memory::ALIGN;
        self.weights.resize(at + len, 0.0);
        fill(&mut self.weights[at..]);
        at
    }

    /// The data of constant `t`.
    pub fn data(&self, t: TensorId) -> &'g [f32] {
        self.graph.data(t).expect("classified as constant")
    }

    /// Packs a 1x1 weight `[n, k, 1, 1]` and a bias for the GEMM; returns their offsets.
    pub fn pointwise_weights(&mut self, w: TensorId, b: Option<TensorId>) -> (usize, usize) {
        let s = self.graph.shape(w);
        let (n, k) = (s[0], s[1]);
        let wd = self.data(w);
        let bo = self.blob(rt::gemm::packed_len(k, n), |out| rt::gemm::pack(k, n, |p, j| wd[j * k + p], out));
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
        let bo = self.blob(rt::gemm::packed_len(k, n), |out| {
            rt::gemm::pack(k, n, |p, j| alpha * if trans_b { bd[j * k + p] } else { bd[p * n + j] }, out)
        });
        let so = self.blob(n, |out| out[..n].copy_from_slice(bias));
        (bo, so)
    }
}
