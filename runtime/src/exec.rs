//! Running a compiled network: the context every generated layer function receives, and
//! the barrier that separates layers when several threads share the work.

use super::conv::{self, Dense};
use super::dwconv::{self, Depthwise};
use super::gemm::{self, Gemm};
use super::isa::{Arena, Isa, Part};
use super::nd::{self, Bufs};
use super::ops;
use super::pool::{self, AvgPool, GlobalAvg};
use super::qgemm::{self, QGemm, Quantize};

/// What threads sharing a network's layers wait on between layers.
pub trait Barrier: Sync {
    /// Returns once every thread of the team has called `wait` for this round; every write
    /// made before the call, by any of them, is visible after it.
    fn wait(&self);
}

/// What one thread needs to run its part of every layer of one image.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub isa: Isa,
    pub arena: Arena<'a>,
    pub weights: &'a [f32],
    /// The image, NCHW, as the caller passed it.
    pub input: &'a [f32],
    pub part: Part,
    /// Present when several threads share the layers.
    pub barrier: Option<&'a dyn Barrier>,
}

impl Ctx<'_> {
    /// Waits for the other threads, if any: every step's output is complete afterwards.
    #[inline]
    pub fn sync(&self) {
        if let Some(b) = self.barrier {
            b.wait();
        }
    }

    pub fn gemm(&self, g: &Gemm) {
        gemm::gemm(self.isa, self.arena, self.weights, g, self.part);
        self.sync();
    }

    /// A matrix product whose `B` is packed in bfloat16.
    pub fn gemm_bf16(&self, g: &Gemm) {
        gemm::gemm_bf16(self.isa, self.arena, self.weights, g, self.part);
        self.sync();
    }

    /// `f32` rows to bytes for an 8-bit matrix product.
    pub fn quantize(&self, q: &Quantize) {
        qgemm::quantize(self.isa, self.arena, q, self.part);
        self.sync();
    }

    /// A matrix product in 8-bit integers.
    pub fn qgemm(&self, g: &QGemm) {
        qgemm::qgemm(self.isa, self.arena, self.weights, g, self.part);
        self.sync();
    }

    pub fn depthwise(&self, d: &Depthwise) {
        dwconv::depthwise(self.isa, self.arena, self.weights, d, self.part);
        self.sync();
    }

    /// A dense convolution reading the arena.
    pub fn dense(&self, d: &Dense) {
        conv::dense(self.isa, self.arena, None, self.weights, d, self.part);
        self.sync();
    }

    /// A dense convolution reading the caller's input image.
    pub fn dense_input(&self, d: &Dense) {
        conv::dense(self.isa, self.arena, Some(self.input), self.weights, d, self.part);
        self.sync();
    }

    pub fn global_avg(&self, g: &GlobalAvg) {
        pool::global_avg(self.isa, self.arena, g, self.part);
        self.sync();
    }

    pub fn avg_pool(&self, a: &AvgPool) {
        pool::avg_pool(self.isa, self.arena, a, self.part);
        self.sync();
    }

    fn bufs(&self) -> Bufs<'_> {
        Bufs { arena: self.arena, weights: self.weights, input: self.input }
    }

    pub fn map(&self, m: &nd::Map<'_>) {
        nd::map(self.bufs(), m, self.part);
        self.sync();
    }

    pub fn zip(&self, z: &nd::Zip<'_>) {
        nd::zip(self.bufs(), z, self.part);
        self.sync();
    }

    pub fn pad(&self, p: &nd::Pad<'_>) {
        nd::pad(self.bufs(), p, self.part);
        self.sync();
    }

    pub fn resize(&self, r: &nd::Resize<'_>) {
        nd::resize(self.bufs(), r, self.part);
        self.sync();
    }

    pub fn pool(&self, p: &nd::Pool<'_>) {
        nd::pool(self.bufs(), p, self.part);
        self.sync();
    }

    pub fn reduce(&self, r: &nd::Reduce<'_>) {
        nd::reduce(self.bufs(), r, self.part);
        self.sync();
    }

    pub fn matmul(&self, g: &nd::MatMul<'_>) {
        nd::matmul(self.bufs(), g, self.part);
        self.sync();
    }

    pub fn conv(&self, c: &nd::Conv<'_>) {
        nd::conv(self.bufs(), c, self.part);
        self.sync();
    }

    /// Copies the NCHW input image into the arena as NHWC (one thread does it).
    pub fn input_to_nhwc(&self, dst: usize, ld: usize, channels: usize, hw: usize) {
        if self.part.index == 0 {
            ops::nchw_to_nhwc(self.input, 0, self.arena, dst, ld, channels, hw);
        }
        self.sync();
    }
}
