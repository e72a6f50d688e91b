#![cfg(target_arch = "aarch64")]
//! The AArch64 Advanced SIMD tier (`float32x4_t`, 4 lanes) and its kernel wrappers.

use core::arch::aarch64::*;

use super::conv::{self, Dense};
use super::dwconv::{self, Depthwise};
use super::gemm::{self, Gemm};
use super::isa::{Arena, Part};
use super::pool::{self, AvgPool, GlobalAvg};
use super::qgemm::{self, Bytes, Dot, QGemm, Quantize};
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

impl Bytes for Neon {
    #[inline(always)]
    unsafe fn store_bytes(p: *mut u8, v: float32x4_t, n: usize) {
        // SAFETY: NEON is available (trait contract); the lanes hold 0..=255, so the
        // saturating narrowings are exact; only `n` bytes are written at `p`.
        unsafe {
            let w = vqmovun_s32(vcvtnq_s32_f32(v));
            let b: [u8; 8] = core::mem::transmute(vqmovn_u16(vcombine_u16(w, w)));
            core::ptr::copy_nonoverlapping(b.as_ptr(), p, n.min(4));
        }
    }
}

/// The exact 8-bit dot product of plain NEON: bytes widened to 16 bits and multiplied into
/// 32-bit sums (`vmlal`), four partial sums per column, added up at the end.
#[derive(Clone, Copy)]
pub(super) struct Widen4;

impl Dot<Neon> for Widen4 {
    /// Columns 0-1 and 2-3, as 16-bit weights `[c0 w0..w3, c1 w0..w3]`.
    type B = (int16x8_t, int16x8_t);
    /// Per column, the four partial sums.
    type Acc = [int32x4_t; 4];
    #[inline(always)]
    unsafe fn zero() -> Self::Acc {
        // SAFETY: NEON is available (trait contract).
        unsafe { [vdupq_n_s32(0); 4] }
    }
    #[inline(always)]
    unsafe fn load(p: *const u32) -> Self::B {
        // SAFETY: 4 readable dwords (16 bytes) at `p` (trait contract).
        unsafe {
            let b = vld1q_s8(p.cast());
            (vmovl_s8(vget_low_s8(b)), vmovl_high_s8(b))
        }
    }
    #[inline(always)]
    unsafe fn dot(acc: Self::Acc, a: *const u8, b: Self::B) -> Self::Acc {
        // SAFETY: 4 readable bytes at `a`; NEON is available (trait contract).
        unsafe {
            let bytes = vreinterpret_u8_u32(vdup_n_u32(a.cast::<u32>().read_unaligned()));
            let a8 = vreinterpretq_s16_u16(vmovl_u8(bytes));
            let a4 = vget_low_s16(a8);
            [
                vmlal_s16(acc[0], vget_low_s16(b.0), a4),
                vmlal_high_s16(acc[1], b.0, a8),
                vmlal_s16(acc[2], vget_low_s16(b.1), a4),
                vmlal_high_s16(acc[3], b.1, a8),
            ]
        }
    }
    #[inline(always)]
    unsafe fn sums(acc: Self::Acc) -> float32x4_t {
        // SAFETY: NEON is available. Pairwise adds: [c0, c1, c2, c3].
        unsafe { vcvtq_f32_s32(vpaddq_s32(vpaddq_s32(acc[0], acc[1]), vpaddq_s32(acc[2], acc[3]))) }
    }
}

/// Whether the CPU has the dot-product instructions (`sdot`): known at compile time, or
/// noted at run time by `detect` (which, with `std`, asks the operating system).
pub fn has_dotprod() -> bool {
    cfg!(target_feature = "dotprod") || DOTPROD.load(core::sync::atomic::Ordering::Relaxed)
}

static DOTPROD: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Records whether the CPU has the dot-product instructions (the run-time detection).
pub fn note_dotprod(yes: bool) {
    DOTPROD.store(yes, core::sync::atomic::Ordering::Relaxed);
}

/// The 8-bit dot product of the dot-product extension: `sdot` of signed bytes on 4
/// columns. The activation bytes are taken as `q - 128` (their top bit flipped); the
/// packed column sums put back what that leaves out.
#[derive(Clone, Copy)]
pub(super) struct Sdot;

impl Dot<Neon> for Sdot {
    /// 4 columns of 4 signed weights.
    type B = int8x16_t;
    type Acc = int32x4_t;
    const SIGNED: bool = true;
    #[inline(always)]
    unsafe fn zero() -> int32x4_t {
        // SAFETY: NEON is available (trait contract).
        unsafe { vdupq_n_s32(0) }
    }
    #[inline(always)]
    unsafe fn load(p: *const u32) -> int8x16_t {
        // SAFETY: 4 readable dwords (16 bytes) at `p` (trait contract).
        unsafe { vld1q_s8(p.cast()) }
    }
    #[inline(always)]
    unsafe fn dot(acc: int32x4_t, a: *const u8, b: int8x16_t) -> int32x4_t {
        // SAFETY: 4 readable bytes at `a`; the dot-product extension is available (trait
        // contract: the wrapper enables it). `sdot` has no stable intrinsic yet, hence `asm!`.
        unsafe {
            let a = vreinterpretq_s8_u32(vdupq_n_u32(a.cast::<u32>().read_unaligned() ^ 0x8080_8080));
            let mut acc = acc;
            core::arch::asm!("sdot {acc:v}.4s, {b:v}.16b, {a:v}.16b", acc = inout(vreg) acc, b = in(vreg) b, a = in(vreg) a, options(pure, nomem, nostack, preserves_flags));
            acc
        }
    }
    #[inline(always)]
    unsafe fn sums(acc: int32x4_t) -> float32x4_t {
        // SAFETY: NEON is available.
        unsafe { vcvtq_f32_s32(acc) }
    }
    #[inline(always)]
    unsafe fn add(acc: int32x4_t, c: *const i32, n: usize) -> int32x4_t {
        let mut t = [0i32; 4];
        // SAFETY: `n <= 4` readable values at `c` (the packed column sums of the tile).
        unsafe {
            core::ptr::copy_nonoverlapping(c, t.as_mut_ptr(), n);
            vaddq_s32(acc, vld1q_s32(t.as_ptr()))
        }
    }
}

/// # Safety
/// The CPU has the dot-product extension ([`has_dotprod`]).
#[target_feature(enable = "neon,dotprod")]
pub(super) unsafe fn neondot_qgemm_i8_6x16(a: Arena<'_>, w: &[f32], g: &QGemm, p: Part) {
    // SAFETY: NEON and the dot-product extension are enabled for this function.
    unsafe { qgemm::body::<Neon, Sdot, 6, 4>(a, w, g, p) }
}

/// # Safety
/// NEON is available.
#[target_feature(enable = "neon")]
pub(super) unsafe fn neon_quantize_u8_4c(a: Arena<'_>, q: &Quantize, p: Part) {
    // SAFETY: NEON is enabled for this function.
    unsafe { qgemm::quantize_body::<Neon>(a, q, p) }
}

/// # Safety
/// NEON is available.
#[target_feature(enable = "neon")]
pub(super) unsafe fn neon_qgemm_i8_4x4(a: Arena<'_>, w: &[f32], g: &QGemm, p: Part) {
    // SAFETY: NEON is enabled for this function.
    unsafe { qgemm::body::<Neon, Widen4, 4, 1>(a, w, g, p) }
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
