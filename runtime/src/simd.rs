//! The vector abstraction the SIMD kernels are written against. Each tier implements
//! [`Simd`] for its register type; a kernel body is written once, generic over it, and
//! instantiated inside a thin `#[target_feature]` wrapper per tier.

use super::isa::Act;

/// One SIMD tier's `f32` vector.
///
/// # Safety
/// Every method may only run on a CPU that has the tier's features, and the pointer
/// methods need `LANES` (or the given count of) valid `f32`s at the pointer. Callers are
/// bodies instantiated inside `#[target_feature]` functions whose callers checked both.
pub(super) trait Simd: Copy {
    const LANES: usize;
    type V: Copy;
    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    /// Loads `n < LANES` values; the other lanes are zero.
    unsafe fn load_part(p: *const f32, n: usize) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// Stores the first `n < LANES` lanes.
    unsafe fn store_part(p: *mut f32, v: Self::V, n: usize);
    /// `a * b + c`, fused.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    /// Rounds to the nearest integer (ties to even).
    unsafe fn round(a: Self::V) -> Self::V;
    /// `2^n` for lanes holding integers in `-126..=127`.
    unsafe fn pow2i(n: Self::V) -> Self::V;

    /// Widens `LANES` bfloat16 pairs: dword `j` at `p` holds two values of column `j`, the
    /// first in its low half and the second in its high half. Lane `j` of the results is the
    /// low (first result) and the high half (second) as an `f32`, exactly.
    #[inline(always)]
    unsafe fn load_bf16_pairs(p: *const u32) -> (Self::V, Self::V) {
        // SAFETY: forwarded contract: `LANES` readable dwords at `p`.
        unsafe { Self::load_bf16_pairs_part(p, Self::LANES) }
    }

    /// As [`Simd::load_bf16_pairs`] for `n <= LANES` dwords; the other lanes are zero.
    #[inline(always)]
    unsafe fn load_bf16_pairs_part(p: *const u32, n: usize) -> (Self::V, Self::V) {
        let (mut lo, mut hi) = ([0f32; 64], [0f32; 64]);
        // SAFETY: `n` readable dwords at `p` (trait contract); the arrays hold LANES <= 64.
        unsafe {
            for j in 0..n {
                let d = *p.add(j);
                lo[j] = f32::from_bits(d << 16);
                hi[j] = f32::from_bits(d & 0xffff_0000);
            }
            (Self::load(lo.as_ptr()), Self::load(hi.as_ptr()))
        }
    }

    /// `e^x` lane by lane: `x = n ln 2 + r` with `|r| <= ln(2) / 2`, a degree-6 polynomial
    /// for `e^r` (relative error about 2e-7), times `2^n`. Inputs are clamped to
    /// `[-87, 88]`, where the result is still a normal float.
    #[inline(always)]
    unsafe fn exp(x: Self::V) -> Self::V {
        // SAFETY: the tier is supported (trait contract).
        unsafe {
            let x = Self::min(Self::max(x, Self::splat(-87.0)), Self::splat(88.0));
            let n = Self::round(Self::mul(x, Self::splat(core::f32::consts::LOG2_E)));
            // ln 2 split in a high part exact in f32 and the rest, for an accurate r.
            let r = Self::fma(n, Self::splat(-0.693_145_75), x);
            let r = Self::fma(n, Self::splat(-1.428_606_8e-6), r);
            let mut p = Self::splat(1.0 / 720.0);
            for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
                p = Self::fma(p, r, Self::splat(c));
            }
            Self::mul(p, Self::pow2i(n))
        }
    }

    /// Loads `n` lanes, all of them if `n == LANES`.
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> Self::V {
        // SAFETY: forwarded contract: `n` valid values at `p`, tier supported.
        unsafe { if n >= Self::LANES { Self::load(p) } else { Self::load_part(p, n) } }
    }

    /// Stores `n` lanes, all of them if `n == LANES`.
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, v: Self::V, n: usize) {
        // SAFETY: forwarded contract: `n` writable values at `p`, tier supported.
        unsafe { if n >= Self::LANES { Self::store(p, v) } else { Self::store_part(p, v, n) } }
    }
}

/// A fused activation prepared once per kernel call: `clamp(x * mul + add, lo, hi)` covers
/// clip and hard-sigmoid, ReLU is one `max`, none is free; sigmoid (the GhostNetV2 gate) is
/// `1 / (1 + e^-x)` with the vector [`Simd::exp`].
#[derive(Clone, Copy)]
pub(super) struct Ep<S: Simd> {
    mul: S::V,
    add: S::V,
    lo: S::V,
    hi: S::V,
    kind: EpKind,
}

/// Which operations [`Ep::apply`] needs: each vector op here takes an FMA port slot, so
/// the identity and ReLU skip the clamp they do not need.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum EpKind {
    Identity,
    Relu,
    Affine,
    Sigmoid,
}

impl<S: Simd> Ep<S> {
    /// # Safety
    /// The CPU supports `S`'s tier.
    #[inline(always)]
    pub(super) unsafe fn new(act: Act) -> Self {
        let (mul, add, lo, hi, kind) = match act {
            Act::None => (1.0, 0.0, f32::NEG_INFINITY, f32::INFINITY, EpKind::Identity),
            Act::Sigmoid => (1.0, 0.0, f32::NEG_INFINITY, f32::INFINITY, EpKind::Sigmoid),
            Act::Relu => (1.0, 0.0, 0.0, f32::INFINITY, EpKind::Relu),
            Act::Clip { min, max } => (1.0, 0.0, min, max, EpKind::Affine),
            Act::HardSigmoid { alpha, beta } => (alpha, beta, 0.0, 1.0, EpKind::Affine),
        };
        // SAFETY: the tier is supported (our contract).
        unsafe {
            Ep { mul: S::splat(mul), add: S::splat(add), lo: S::splat(lo), hi: S::splat(hi), kind }
        }
    }

    pub(super) fn kind(&self) -> EpKind {
        self.kind
    }

    /// The activation of an [`EpKind::Affine`] epilogue alone (a few instructions, where
    /// [`Ep::apply`] carries every kind, sigmoid's `exp` included).
    ///
    /// # Safety
    /// The CPU supports `S`'s tier.
    #[inline(always)]
    pub(super) unsafe fn affine(&self, v: S::V) -> S::V {
        // SAFETY: the tier is supported (our contract).
        unsafe { S::min(S::max(S::fma(v, self.mul, self.add), self.lo), self.hi) }
    }

    /// # Safety
    /// The CPU supports `S`'s tier.
    #[inline(always)]
    pub(super) unsafe fn apply(&self, v: S::V) -> S::V {
        // SAFETY: the tier is supported (our contract).
        unsafe {
            match self.kind {
                EpKind::Identity => v,
                EpKind::Relu => S::max(v, self.lo),
                EpKind::Affine => self.affine(v),
                EpKind::Sigmoid => {
                    let one = S::splat(1.0);
                    S::div(one, S::add(one, S::exp(S::mul(v, S::splat(-1.0)))))
                }
            }
        }
    }
}
