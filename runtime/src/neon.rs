#![cfg(target_arch = "aarch64")]
//! The AArch64 Advanced SIMD tier (`float32x4_t`, 4 lanes) and its kernel wrappers.

use core::arch::aarch64::*;

use super::conv::{self, Dense};
use super::dwconv::{self, Depthwise};
use super::gemm::{self, Gemm};
use super::isa::{Arena, Part};
use super::pool::{self, AvgPool, GlobalAvg};
use super::simd::Simd;

/// The NEON tier.
#[derive(Clone, Copy)]
pub(super) struct Neon;

impl Simd for Neon {
    const LANES: usize = 4;
    type V = float32x4_t;
    #[inline(always)]
    unsafe fn zero() -> float32x4_t {
        // SAFETY: NEON is available (trait contract).
        unsafe { vdupq_n_f32(0.0) }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> float32x4_t {
        // SAFETY: NEON is available (trait contract).
        unsafe { vdupq_n_f32(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> float32x4_t {
        // SAFETY: 4 readable values at `p` (trait contract).
        unsafe { vld1q_f32(p) }
    }
    #[inline(always)]
    unsafe fn load_part(p: *const f32, n: usize) -> float32x4_t {
        let mut t = [0f32; 4];
        // SAFETY: `n < 4` readable values at `p` (trait contract); `t` holds 4.
        unsafe {
            core::ptr::copy_nonoverlapping(p, t.as_mut_ptr(), n);
            vld1q_f32(t.as_ptr())
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: float32x4_t) {
        // SAFETY: 4 writable values at `p` (trait contract).
        unsafe { vst1q_f32(p, v) }
    }
    #[inline(always)]
    unsafe fn store_part(p: *mut f32, v: float32x4_t, n: usize) {
        let mut t = [0f32; 4];
        // SAFETY: `n < 4` writable values at `p` (trait contract); `t` holds 4.
        unsafe {
            vst1q_f32(t.as_mut_ptr(), v);
            core::ptr::copy_nonoverlapping(t.as_ptr(), p, n);
        }
    }
    #[inline(always)]
    unsafe fn fma(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (trait contract). vfmaq_f32(c, a, b) = c + a * b.
        unsafe { vfmaq_f32(c, a, b) }
    }
    #[inline(always)]
    unsafe fn add(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (trait contract).
        unsafe { vaddq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (trait contract).
        unsafe { vmulq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (trait contract).
        unsafe { vmaxq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn min(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (trait contract).
        unsafe { vminq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (trait contract).
        unsafe { vdivq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn round(a: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (trait contract).
        unsafe { vrndnq_f32(a) }
    }
    #[inline(always)]
    unsafe fn pow2i(n: float32x4_t) -> float32x4_t {
        // SAFETY: NEON is available (trait contract); the bits form the float 2^n.
        unsafe { vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)))) }
    }
    #[inline(always)]
    unsafe fn load_bf16_pairs(p: *const u32) -> (float32x4_t, float32x4_t) {
        // SAFETY: 4 readable dwords at `p` (trait contract); NEON is available.
        unsafe {
            let d = vld1q_u32(p);
            (vreinterpretq_f32_u32(vshlq_n_u32::<16>(d)), vreinterpretq_f32_u32(vandq_u32(d, vdupq_n_u32(0xffff_0000))))
        }
    }
}

/// # Safety
/// NEON is available (it is on every AArch64 CPU).
#[target_feature(enable = "neon")]
pub(super) unsafe fn neon_gemm_f32_6x16(a: Arena<'_>, w: &[f32], g: &Gemm, p: Part) {
    // SAFETY: NEON is enabled for this function.
    unsafe { gemm::body::<Neon, 6, 4>(a, w, g, p) }
}

/// # Safety
/// NEON is available.
#[target_feature(enable = "neon")]
pub(super) unsafe fn neon_gemm_bf16_6x16(a: Arena<'_>, w: &[f32], g: &Gemm, p: Part) {
    // SAFETY: NEON is enabled for this function.
    unsafe { gemm::body_bf16::<Neon, 6, 4>(a, w, g, p) }
}

/// # Safety
/// NEON is available.
#[target_feature(enable = "neon")]
pub(super) unsafe fn neon_dwconv_f32_4c(a: Arena<'_>, w: &[f32], d: &Depthwise, p: Part) {
    // SAFETY: NEON is enabled for this function.
    unsafe { dwconv::body::<Neon>(a, w, d, p) }
}

/// # Safety
/// NEON is available.
#[target_feature(enable = "neon")]
pub(super) unsafe fn neon_conv_f32_1x16(a: Arena<'_>, i: Option<&[f32]>, w: &[f32], d: &Dense, p: Part) {
    // SAFETY: NEON is enabled for this function.
    unsafe { conv::body::<Neon, 4>(a, i, w, d, p) }
}

/// # Safety
/// NEON is available.
#[target_feature(enable = "neon")]
pub(super) unsafe fn neon_gap_f32_4c(a: Arena<'_>, g: &GlobalAvg, p: Part) {
    // SAFETY: NEON is enabled for this function.
    unsafe { pool::body::<Neon>(a, g, p) }
}

/// # Safety
/// NEON is available.
#[target_feature(enable = "neon")]
pub(super) unsafe fn neon_avgpool_f32_4c(a: Arena<'_>, q: &AvgPool, p: Part) {
    // SAFETY: NEON is enabled for this function.
    unsafe { pool::avg_body::<Neon>(a, q, p) }
}
