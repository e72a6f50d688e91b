#![cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
//! The WebAssembly SIMD tier (`v128` as four `f32` lanes) and its kernel wrappers.
//!
//! WebAssembly cannot ask the machine what it supports: a module that uses an instruction
//! the engine lacks fails to load as a whole. So the tier exists only in builds made with
//! `-C target-feature=+simd128` (every current browser engine and Node run those), and is
//! then always usable; other wasm32 builds run the scalar kernels.
//!
//! Simd128 has no fused multiply-add: [`Simd::fma`] is a multiply and an add (two
//! roundings), unless the build also enables `relaxed-simd`, whose `f32x4.relaxed_madd`
//! the engine may fuse (V8 does on CPUs with FMA). `max` and `min` are the pseudo-minimum
//! and -maximum (`pmax(b, a)` is `b < a ? a : b`): one instruction on x86 engines, and a
//! NaN in `a` gives `b`, as on the x86 tiers.

use core::arch::wasm32::*;

use super::conv::{self, Dense};
use super::dwconv::{self, Depthwise};
use super::gemm::{self, Gemm};
use super::isa::{Arena, Part};
use super::pool::{self, AvgPool, GlobalAvg};
use super::qgemm::{self, Bytes, Dot, QGemm, Quantize};
use super::simd::Simd;

/// The simd128 tier.
#[derive(Clone, Copy)]
pub(super) struct Simd128;

impl Simd for Simd128 {
    const LANES: usize = 4;
    type V = v128;
    #[inline(always)]
    unsafe fn zero() -> v128 {
        f32x4_splat(0.0)
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> v128 {
        f32x4_splat(x)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> v128 {
        // SAFETY: 4 readable values at `p` (trait contract); the load needs no alignment.
        unsafe { v128_load(p.cast::<v128>()) }
    }
    #[inline(always)]
    unsafe fn load_part(p: *const f32, n: usize) -> v128 {
        // SAFETY: `n < 4` readable values at `p` (trait contract); only those are read.
        unsafe {
            match n {
                0 => f32x4_splat(0.0),
                1 => v128_load32_zero(p.cast::<u32>()),
                2 => v128_load64_zero(p.cast::<u64>()),
                _ => f32x4_replace_lane::<2>(v128_load64_zero(p.cast::<u64>()), *p.add(2)),
            }
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: v128) {
        // SAFETY: 4 writable values at `p` (trait contract); the store needs no alignment.
        unsafe { v128_store(p.cast::<v128>(), v) }
    }
    #[inline(always)]
    unsafe fn store_part(p: *mut f32, v: v128, n: usize) {
        // SAFETY: `n < 4` writable values at `p` (trait contract); only those are written.
        unsafe {
            match n {
                0 => {}
                1 => v128_store32_lane::<0>(v, p.cast::<u32>()),
                2 => v128_store64_lane::<0>(v, p.cast::<u64>()),
                _ => {
                    v128_store64_lane::<0>(v, p.cast::<u64>());
                    v128_store32_lane::<2>(v, p.add(2).cast::<u32>());
                }
            }
        }
    }
    #[inline(always)]
    unsafe fn fma(a: v128, b: v128, c: v128) -> v128 {
        #[cfg(target_feature = "relaxed-simd")]
        {
            f32x4_relaxed_madd(a, b, c)
        }
        #[cfg(not(target_feature = "relaxed-simd"))]
        {
            f32x4_add(f32x4_mul(a, b), c)
        }
    }
    #[inline(always)]
    unsafe fn add(a: v128, b: v128) -> v128 {
        f32x4_add(a, b)
    }
    #[inline(always)]
    unsafe fn mul(a: v128, b: v128) -> v128 {
        f32x4_mul(a, b)
    }
    #[inline(always)]
    unsafe fn max(a: v128, b: v128) -> v128 {
        f32x4_pmax(b, a)
    }
    #[inline(always)]
    unsafe fn min(a: v128, b: v128) -> v128 {
        f32x4_pmin(b, a)
    }
    #[inline(always)]
    unsafe fn div(a: v128, b: v128) -> v128 {
        f32x4_div(a, b)
    }
    #[inline(always)]
    unsafe fn round(a: v128) -> v128 {
        f32x4_nearest(a)
    }
    #[inline(always)]
    unsafe fn pow2i(n: v128) -> v128 {
        // The bits of the float 2^n: the biased exponent n + 127 in bits 23..31.
        i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(n), i32x4_splat(127)), 23)
    }
}

impl Bytes for Simd128 {
    #[inline(always)]
    unsafe fn store_bytes(p: *mut u8, v: v128, n: usize) {
        // Rounded to nearest (ties to even), the lanes hold whole numbers in 0..=255: the
        // conversion and the saturating narrowings are exact.
        let w = u16x8_narrow_i32x4(i32x4_trunc_sat_f32x4(f32x4_nearest(v)), i32x4_splat(0));
        let b = u32x4_extract_lane::<0>(u8x16_narrow_i16x8(w, w)).to_le_bytes();
        // SAFETY: `n <= 4` writable bytes at `p` (trait contract).
        unsafe { core::ptr::copy_nonoverlapping(b.as_ptr(), p, n.min(4)) }
    }
}

/// The exact 8-bit dot product of simd128: bytes widened to 16 bits, `i32x4.dot_i16x8_s`
/// gives two partial sums per column, added pairwise at the end.
#[derive(Clone, Copy)]
pub(super) struct Widen4;

impl Dot<Simd128> for Widen4 {
    /// Columns 0-1 and 2-3, as 16-bit weights `[c0 w0..w3, c1 w0..w3]`.
    type B = (v128, v128);
    /// Per pair of columns, two partial sums each: `[c0 w0-1, c0 w2-3, c1 w0-1, c1 w2-3]`.
    type Acc = (v128, v128);
    #[inline(always)]
    unsafe fn zero() -> Self::Acc {
        (i32x4_splat(0), i32x4_splat(0))
    }
    #[inline(always)]
    unsafe fn load(p: *const u32) -> Self::B {
        // SAFETY: 4 readable dwords (16 bytes) at `p` (trait contract).
        let b = unsafe { v128_load(p.cast()) };
        (i16x8_extend_low_i8x16(b), i16x8_extend_high_i8x16(b))
    }
    #[inline(always)]
    unsafe fn dot(acc: Self::Acc, a: *const u8, b: Self::B) -> Self::Acc {
        // SAFETY: 4 readable bytes at `a` (trait contract).
        let bytes = u32x4_splat(unsafe { a.cast::<u32>().read_unaligned() });
        // `[a0, a1, a2, a3, a0, a1, a2, a3]` as 16-bit values (0..=255 fits).
        let a16 = u16x8_extend_low_u8x16(bytes);
        // |a| <= 255, |w| <= 128: each pair sum fits 17 bits, the totals of any k fit i32.
        (i32x4_add(acc.0, i32x4_dot_i16x8(a16, b.0)), i32x4_add(acc.1, i32x4_dot_i16x8(a16, b.1)))
    }
    #[inline(always)]
    unsafe fn sums(acc: Self::Acc) -> v128 {
        let even = i32x4_shuffle::<0, 2, 4, 6>(acc.0, acc.1);
        let odd = i32x4_shuffle::<1, 3, 5, 7>(acc.0, acc.1);
        f32x4_convert_i32x4(i32x4_add(even, odd))
    }
}

/// Declares `#[target_feature]` wrappers around generic bodies.
macro_rules! wrappers {
    ($($name:ident($($arg:ident: $ty:ty),*) = $body:expr;)*) => {$(
        /// # Safety
        /// None beyond the body's: the build enables simd128, so every engine that loaded
        /// the module runs it.
        #[target_feature(enable = "simd128")]
        pub(super) unsafe fn $name($($arg: $ty),*) {
            // SAFETY: simd128 is enabled for the whole build.
            unsafe { $body }
        }
    )*};
}

wrappers! {
    simd128_gemm_f32_4x8(a: Arena<'_>, w: &[f32], g: &Gemm, p: Part) = gemm::body::<Simd128, 4, 2>(a, w, g, p);
    simd128_gemm_bf16_4x8(a: Arena<'_>, w: &[f32], g: &Gemm, p: Part) = gemm::body_bf16::<Simd128, 4, 2>(a, w, g, p);
    simd128_quantize_u8_4c(a: Arena<'_>, q: &Quantize, p: Part) = qgemm::quantize_body::<Simd128>(a, q, p);
    simd128_qgemm_i8_4x4(a: Arena<'_>, w: &[f32], g: &QGemm, p: Part) = qgemm::body::<Simd128, Widen4, 4, 1>(a, w, g, p);
    simd128_dwconv_f32_4c(a: Arena<'_>, w: &[f32], d: &Depthwise, p: Part) = dwconv::body::<Simd128>(a, w, d, p);
    simd128_conv_f32_1x8(a: Arena<'_>, i: Option<&[f32]>, w: &[f32], d: &Dense, p: Part) = conv::body::<Simd128, 2>(a, i, w, d, p);
    simd128_gap_f32_4c(a: Arena<'_>, g: &GlobalAvg, p: Part) = pool::body::<Simd128>(a, g, p);
    simd128_avgpool_f32_4c(a: Arena<'_>, q: &AvgPool, p: Part) = pool::avg_body::<Simd128>(a, q, p);
}
