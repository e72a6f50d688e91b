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

    /// The activation applied lane by lane.
    #[inline(always)]
    unsafe fn act(v: Self::V, act: Act) -> Self::V {
        // SAFETY: the tier is supported (trait contract); the scratch array holds LANES values.
        unsafe {
            match act {
                Act::None => v,
                Act::Relu => Self::max(v, Self::zero()),
                Act::Clip { min, max } => Self::min(Self::max(v, Self::splat(min)), Self::splat(max)),
                Act::HardSigmoid { alpha, beta } => {
                    let y = Self::fma(v, Self::splat(alpha), Self::splat(beta));
                    Self::min(Self::max(y, Self::zero()), Self::splat(1.0))
                }
                Act::Sigmoid => {
                    let mut lanes = [0f32; 16];
                    Self::store(lanes.as_mut_ptr(), v);
                    for x in &mut lanes[..Self::LANES] {
                        *x = act.apply(*x);
                    }
                    Self::load(lanes.as_ptr())
                }
            }
        }
    }
}
