//! Running a compiled network: the context every generated layer function receives, and
//! the spin barrier that separates layers when several threads share the work.

use core::sync::atomic::{AtomicUsize, Ordering};

use super::conv::{self, Dense};
use super::dwconv::{self, Depthwise};
use super::gemm::{self, Gemm};
use super::isa::{Act, Arena, Isa, Part};
use super::ops::{self, BinOp, Mat};
use super::pool::{self, AvgPool, GlobalAvg};

/// A sense-reversing barrier for a fixed number of threads. Waiting makes every write
/// before the barrier (in any thread) visible after it.
///
/// A waiter spins briefly (layers are short; the others usually arrive within
/// microseconds), then calls `relax` between checks (`std::thread::yield_now` with `std`)
/// so that a thread the OS has descheduled is not starved by the spinning ones.
#[derive(Debug)]
pub struct SpinBarrier {
    threads: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    relax: fn(),
}

impl SpinBarrier {
    /// Spins before a waiter starts calling `relax`.
    const SPINS: u32 = 4096;

    pub const fn new(threads: usize, relax: fn()) -> Self {
        SpinBarrier { threads, arrived: AtomicUsize::new(0), generation: AtomicUsize::new(0), relax }
    }

    /// Blocks until all `threads` have called `wait` for this generation.
    pub fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.store(generation.wrapping_add(1), Ordering::Release);
        } else {
            let mut spins = 0u32;
            while self.generation.load(Ordering::Acquire) == generation {
                if spins < Self::SPINS {
                    spins += 1;
                    core::hint::spin_loop();
                } else {
                    (self.relax)();
                }
            }
        }
    }
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
    pub barrier: Option<&'a SpinBarrier>,
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

    #[allow(clippy::too_many_arguments)]
    pub fn binary(&self, op: BinOp, a: Mat, b: Mat, y: Mat, rows: usize, cols: usize, act: Act) {
        ops::binary(self.arena, op, a, b, y, rows, cols, act, self.part);
        self.sync();
    }

    pub fn unary(&self, x: Mat, y: Mat, rows: usize, cols: usize, act: Act) {
        ops::unary(self.arena, x, y, rows, cols, act, self.part);
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
