#![cfg(target_arch = "x86_64")]
//! The x86-64 tiers: AVX2+FMA (`__m256`, 8 lanes) and AVX-512F (`__m512`, 16 lanes), CPU
//! detection without `std`, and the `#[target_feature]` wrappers that instantiate the
//! generic kernel bodies.

use core::arch::x86_64::*;
use core::sync::atomic::{AtomicU8, Ordering};

use super::conv::{self, Dense};
use super::dwconv::{self, Depthwise};
use super::gemm::{self, Gemm};
use super::isa::{Arena, Part};
use super::pool::{self, AvgPool, GlobalAvg};
use super::qgemm::{self, Bytes, Dot, QGemm, Quantize};
use super::simd::Simd;

/// Bit 0: detection done; bit 1: AVX2+FMA usable; bit 2: AVX-512F usable; bit 3: AVX-VNNI;
/// bit 4: AVX512_VNNI.
static FEATURES: AtomicU8 = AtomicU8::new(0);

fn features() -> u8 {
    let f = FEATURES.load(Ordering::Relaxed);
    if f & 1 != 0 {
        return f;
    }
    let f = detect() | 1;
    FEATURES.store(f, Ordering::Relaxed);
    f
}

/// Reads CPUID and the OS-enabled register state (XCR0).
// `__cpuid` became a safe function in Rust 1.94; the blocks keep older compilers working.
#[allow(unused_unsafe)]
fn detect() -> u8 {
    // Miri cannot run the CPUID and XGETBV instructions; under it only the scalar tier runs.
    if cfg!(miri) {
        return 0;
    }
    // SAFETY: CPUID exists on every x86-64 CPU.
    let l1 = unsafe { __cpuid(1) };
    let osxsave = l1.ecx & (1 << 27) != 0;
    let fma = l1.ecx & (1 << 12) != 0;
    if !osxsave {
        return 0;
    }
    // SAFETY: OSXSAVE is set, so XGETBV is available (`xcr0` enables only `xsave`).
    let xcr0 = unsafe { xcr0() };
    // SAFETY: CPUID exists on every x86-64 CPU; leaf 0 reports the highest leaf.
    let max_leaf = unsafe { __cpuid(0) }.eax;
    // SAFETY: leaf 7 exists when the highest leaf is at least 7.
    let l7 = if max_leaf >= 7 { unsafe { __cpuid_count(7, 0) } } else { CpuidResult { eax: 0, ebx: 0, ecx: 0, edx: 0 } };
    // SAFETY: as above; sub-leaf 1 reads as zeros where it does not exist.
    let l7_1 = if max_leaf >= 7 { unsafe { __cpuid_count(7, 1) }.eax } else { 0 };
    let ymm_state = xcr0 & 0b110 == 0b110;
    let zmm_state = xcr0 & 0b1110_0110 == 0b1110_0110;
    let avx2 = fma && ymm_state && l7.ebx & (1 << 5) != 0;
    let avx512 = zmm_state && l7.ebx & (1 << 16) != 0;
    let avxvnni = avx2 && l7_1 & (1 << 4) != 0;
    let avx512vnni = avx512 && l7.ecx & (1 << 11) != 0;
    ((avx2 as u8) << 1) | ((avx512 as u8) << 2) | ((avxvnni as u8) << 3) | ((avx512vnni as u8) << 4)
}

/// # Safety
/// The CPU supports XSAVE and the OS enabled it (CPUID.1:ECX.OSXSAVE).
#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    // SAFETY: XGETBV is enabled (caller's contract); register 0 always exists.
    unsafe { _xgetbv(0) }
}

/// Whether AVX2 and FMA are usable (CPU and OS).
pub fn has_avx2() -> bool {
    features() & 2 != 0
}

/// Whether AVX-512F is usable (CPU and OS).
pub fn has_avx512() -> bool {
    features() & 4 != 0
}

/// Whether AVX-VNNI (with AVX2) is usable.
pub fn has_avxvnni() -> bool {
    features() & 8 != 0
}

/// Whether AVX512_VNNI (with AVX-512F) is usable.
pub fn has_avx512vnni() -> bool {
    features() & 16 != 0
}

/// The AVX2+FMA tier.
#[derive(Clone, Copy)]
pub(super) struct Avx2;

/// Lane-count mask for AVX2 masked loads and stores.
#[inline(always)]
unsafe fn mask8(n: usize) -> __m256i {
    // SAFETY: AVX2 is available (caller's contract).
    unsafe { _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)) }
}

impl Simd for Avx2 {
    const LANES: usize = 8;
    type V = __m256;
    #[inline(always)]
    unsafe fn zero() -> __m256 {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        // SAFETY: 8 readable values at `p`, AVX available (trait contract).
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_part(p: *const f32, n: usize) -> __m256 {
        // SAFETY: `n` readable values at `p`; masked lanes are not accessed.
        unsafe { _mm256_maskload_ps(p, mask8(n)) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        // SAFETY: 8 writable values at `p` (trait contract).
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_part(p: *mut f32, v: __m256, n: usize) {
        // SAFETY: `n` writable values at `p`; masked lanes are not accessed.
        unsafe { _mm256_maskstore_ps(p, mask8(n), v) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: FMA is available (trait contract).
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn min(a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_min_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn round(a: __m256) -> __m256 {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
    }
    #[inline(always)]
    unsafe fn pow2i(n: __m256) -> __m256 {
        // SAFETY: AVX2 is available (trait contract); the bits form the float 2^n.
        unsafe { _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)))) }
    }
    #[inline(always)]
    unsafe fn load_bf16_pairs(p: *const u32) -> (__m256, __m256) {
        // SAFETY: 8 readable dwords at `p` (trait contract); AVX2 is available.
        unsafe { widen_pairs8(_mm256_loadu_si256(p.cast())) }
    }
    #[inline(always)]
    unsafe fn load_bf16_pairs_part(p: *const u32, n: usize) -> (__m256, __m256) {
        // SAFETY: `n` readable dwords at `p`; masked lanes are not accessed.
        unsafe { widen_pairs8(_mm256_maskload_epi32(p.cast(), mask8(n))) }
    }
}

/// The AVX-512F tier.
#[derive(Clone, Copy)]
pub(super) struct Avx512;

impl Simd for Avx512 {
    const LANES: usize = 16;
    type V = __m512;
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        // SAFETY: 16 readable values at `p` (trait contract).
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_part(p: *const f32, n: usize) -> __m512 {
        // SAFETY: `n` readable values at `p`; masked lanes are not accessed.
        unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        // SAFETY: 16 writable values at `p` (trait contract).
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_part(p: *mut f32, v: __m512, n: usize) {
        // SAFETY: `n` writable values at `p`; masked lanes are not accessed.
        unsafe { _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as __mmask16, v) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn min(a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_min_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn round(a: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
    }
    #[inline(always)]
    unsafe fn pow2i(n: __m512) -> __m512 {
        // SAFETY: AVX-512F is available (trait contract); scalef(1, n) is 2^floor(n).
        unsafe { _mm512_scalef_ps(_mm512_set1_ps(1.0), n) }
    }
    #[inline(always)]
    unsafe fn load_bf16_pairs(p: *const u32) -> (__m512, __m512) {
        // SAFETY: 16 readable dwords at `p` (trait contract); AVX-512F is available.
        unsafe { widen_pairs16(_mm512_loadu_si512(p.cast())) }
    }
    #[inline(always)]
    unsafe fn load_bf16_pairs_part(p: *const u32, n: usize) -> (__m512, __m512) {
        // SAFETY: `n` readable dwords at `p`; masked lanes are not accessed.
        unsafe { widen_pairs16(_mm512_maskz_loadu_epi32(((1u32 << n) - 1) as __mmask16, p.cast())) }
    }
}

/// The two bfloat16 halves of each dword as `f32`s: `(d << 16, d & 0xffff0000)`.
#[inline(always)]
unsafe fn widen_pairs8(d: __m256i) -> (__m256, __m256) {
    // SAFETY: AVX2 is available (caller's contract).
    unsafe {
        let hi = _mm256_and_si256(d, _mm256_set1_epi32(0xffff_0000u32 as i32));
        (_mm256_castsi256_ps(_mm256_slli_epi32::<16>(d)), _mm256_castsi256_ps(hi))
    }
}

/// As [`widen_pairs8`] for 16 dwords.
#[inline(always)]
unsafe fn widen_pairs16(d: __m512i) -> (__m512, __m512) {
    // SAFETY: AVX-512F is available (caller's contract).
    unsafe {
        let hi = _mm512_and_si512(d, _mm512_set1_epi32(0xffff_0000u32 as i32));
        (_mm512_castsi512_ps(_mm512_slli_epi32::<16>(d)), _mm512_castsi512_ps(hi))
    }
}

impl Bytes for Avx2 {
    #[inline(always)]
    unsafe fn store_bytes(p: *mut u8, v: __m256, n: usize) {
        // SAFETY: AVX2 is available (trait contract); the lanes hold 0..=255, so the
        // saturating packs are exact; only `n` bytes are written at `p`.
        unsafe {
            let i = _mm256_cvtps_epi32(v);
            let w = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256::<1>(i));
            let b = _mm_packus_epi16(w, w);
            if n >= 8 {
                _mm_storel_epi64(p.cast(), b);
            } else {
                let t: [u8; 16] = core::mem::transmute(b);
                core::ptr::copy_nonoverlapping(t.as_ptr(), p, n);
            }
        }
    }
}

impl Bytes for Avx512 {
    #[inline(always)]
    unsafe fn store_bytes(p: *mut u8, v: __m512, n: usize) {
        // SAFETY: AVX-512F is available (trait contract); lanes hold 0..=255; the masked
        // store writes only `n` bytes.
        unsafe { _mm512_mask_cvtusepi32_storeu_epi8(p.cast(), ((1u32 << n) - 1) as __mmask16, _mm512_cvtps_epi32(v)) }
    }
}

/// The 8-bit dot product of AVX512_VNNI: `vpdpbusd` on 16 columns.
#[derive(Clone, Copy)]
pub(super) struct Vnni512;

impl Dot<Avx512> for Vnni512 {
    type B = __m512i;
    type Acc = __m512i;
    #[inline(always)]
    unsafe fn zero() -> __m512i {
        // SAFETY: AVX-512F is available (trait contract).
        unsafe { _mm512_setzero_si512() }
    }
    #[inline(always)]
    unsafe fn load(p: *const u32) -> __m512i {
        // SAFETY: 16 readable dwords at `p` (trait contract).
        unsafe { _mm512_loadu_si512(p.cast()) }
    }
    #[inline(always)]
    unsafe fn load_part(p: *const u32, n: usize) -> __m512i {
        // SAFETY: `n` readable dwords; masked lanes are not accessed.
        unsafe { _mm512_maskz_loadu_epi32(((1u32 << n) - 1) as __mmask16, p.cast()) }
    }
    #[inline(always)]
    unsafe fn dot(acc: __m512i, a: *const u8, b: __m512i) -> __m512i {
        // SAFETY: 4 readable bytes at `a`; AVX512_VNNI is available (trait contract).
        unsafe { _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(a.cast::<i32>().read_unaligned()), b) }
    }
    #[inline(always)]
    unsafe fn sums(acc: __m512i) -> __m512 {
        // SAFETY: AVX-512F is available.
        unsafe { _mm512_cvtepi32_ps(acc) }
    }
}

/// The 8-bit dot product of AVX-VNNI: `vpdpbusd` on 8 columns.
#[derive(Clone, Copy)]
pub(super) struct Vnni256;

impl Dot<Avx2> for Vnni256 {
    type B = __m256i;
    type Acc = __m256i;
    #[inline(always)]
    unsafe fn zero() -> __m256i {
        // SAFETY: AVX is available (trait contract).
        unsafe { _mm256_setzero_si256() }
    }
    #[inline(always)]
    unsafe fn load(p: *const u32) -> __m256i {
        // SAFETY: 8 readable dwords at `p` (trait contract).
        unsafe { _mm256_loadu_si256(p.cast()) }
    }
    #[inline(always)]
    unsafe fn load_part(p: *const u32, n: usize) -> __m256i {
        // SAFETY: `n` readable dwords; masked lanes are not accessed.
        unsafe { _mm256_maskload_epi32(p.cast(), mask8(n)) }
    }
    #[inline(always)]
    unsafe fn dot(acc: __m256i, a: *const u8, b: __m256i) -> __m256i {
        // SAFETY: 4 readable bytes at `a`; AVX-VNNI is available (trait contract).
        unsafe { _mm256_dpbusd_avx_epi32(acc, _mm256_set1_epi32(a.cast::<i32>().read_unaligned()), b) }
    }
    #[inline(always)]
    unsafe fn sums(acc: __m256i) -> __m256 {
        // SAFETY: AVX is available.
        unsafe { _mm256_cvtepi32_ps(acc) }
    }
}

/// The 8-bit dot product of plain AVX2, exact: bytes widened to 16 bits and `vpmaddwd`
/// (16-bit products summed in pairs into 32 bits, which cannot overflow), so that it gives
/// the VNNI tiers' sums. The sums stay split in two halves per column until the end.
#[derive(Clone, Copy)]
pub(super) struct Madd256;

impl Dot<Avx2> for Madd256 {
    /// Columns 0-3 and 4-7, each as 16-bit weights `[c0 w0..w3, c1 w0..w3, ...]`.
    type B = (__m256i, __m256i);
    /// Per column pair of halves, `[c0 (w0, w1), c0 (w2, w3), c1 ...]`, for columns 0-3 and 4-7.
    type Acc = (__m256i, __m256i);
    #[inline(always)]
    unsafe fn zero() -> Self::Acc {
        // SAFETY: AVX is available (trait contract).
        unsafe { (_mm256_setzero_si256(), _mm256_setzero_si256()) }
    }
    #[inline(always)]
    unsafe fn load(p: *const u32) -> Self::B {
        // SAFETY: 8 readable dwords at `p` (trait contract).
        unsafe { widen_weights(_mm256_loadu_si256(p.cast())) }
    }
    #[inline(always)]
    unsafe fn load_part(p: *const u32, n: usize) -> Self::B {
        // SAFETY: `n` readable dwords; masked lanes are not accessed.
        unsafe { widen_weights(_mm256_maskload_epi32(p.cast(), mask8(n))) }
    }
    #[inline(always)]
    unsafe fn dot(acc: Self::Acc, a: *const u8, b: Self::B) -> Self::Acc {
        // SAFETY: 4 readable bytes at `a`; AVX2 is available (trait contract).
        unsafe {
            // [a0, a1, a2, a3] as 16-bit values in every 64-bit lane.
            let a16 = _mm256_cvtepu8_epi16(_mm_cvtsi32_si128(a.cast::<i32>().read_unaligned()));
            let a4 = _mm256_permute4x64_epi64::<0>(a16);
            (_mm256_add_epi32(acc.0, _mm256_madd_epi16(a4, b.0)), _mm256_add_epi32(acc.1, _mm256_madd_epi16(a4, b.1)))
        }
    }
    #[inline(always)]
    unsafe fn sums(acc: Self::Acc) -> __m256 {
        // SAFETY: AVX2 is available. hadd gives [c0, c1, c4, c5 | c2, c3, c6, c7].
        unsafe { _mm256_cvtepi32_ps(_mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(acc.0, acc.1))) }
    }
}

/// 8 dwords of 4 signed bytes to 16 bits: columns 0-3, then 4-7.
#[inline(always)]
unsafe fn widen_weights(d: __m256i) -> (__m256i, __m256i) {
    // SAFETY: AVX2 is available (caller's contract).
    unsafe { (_mm256_cvtepi8_epi16(_mm256_castsi256_si128(d)), _mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(d))) }
}

/// Declares `#[target_feature]` wrappers around generic bodies.
macro_rules! wrappers {
    ($($feature:literal => $name:ident($($arg:ident: $ty:ty),*) = $body:expr;)*) => {$(
        /// # Safety
        /// The CPU supports the wrapper's target features.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn $name($($arg: $ty),*) {
            // SAFETY: the features are enabled for this function (caller's contract).
            unsafe { $body }
        }
    )*};
}

wrappers! {
    "avx2,fma" => avx2_gemm_f32_6x16(a: Arena<'_>, w: &[f32], g: &Gemm, p: Part) = gemm::body::<Avx2, 6, 2>(a, w, g, p);
    "avx512f" => avx512_gemm_f32_12x32(a: Arena<'_>, w: &[f32], g: &Gemm, p: Part) = gemm::body::<Avx512, 12, 2>(a, w, g, p);
    "avx2,fma" => avx2_gemm_bf16_6x16(a: Arena<'_>, w: &[f32], g: &Gemm, p: Part) = gemm::body_bf16::<Avx2, 6, 2>(a, w, g, p);
    "avx512f" => avx512_gemm_bf16_12x32(a: Arena<'_>, w: &[f32], g: &Gemm, p: Part) = gemm::body_bf16::<Avx512, 12, 2>(a, w, g, p);
    "avx2,fma" => avx2_dwconv_f32_8c(a: Arena<'_>, w: &[f32], d: &Depthwise, p: Part) = dwconv::body::<Avx2>(a, w, d, p);
    "avx512f" => avx512_dwconv_f32_16c(a: Arena<'_>, w: &[f32], d: &Depthwise, p: Part) = dwconv::body::<Avx512>(a, w, d, p);
    "avx2,fma" => avx2_conv_f32_1x32(a: Arena<'_>, i: Option<&[f32]>, w: &[f32], d: &Dense, p: Part) = conv::body::<Avx2, 4>(a, i, w, d, p);
    "avx512f" => avx512_conv_f32_1x64(a: Arena<'_>, i: Option<&[f32]>, w: &[f32], d: &Dense, p: Part) = conv::body::<Avx512, 4>(a, i, w, d, p);
    "avx2,fma" => avx2_gap_f32_8c(a: Arena<'_>, g: &GlobalAvg, p: Part) = pool::body::<Avx2>(a, g, p);
    "avx512f" => avx512_gap_f32_16c(a: Arena<'_>, g: &GlobalAvg, p: Part) = pool::body::<Avx512>(a, g, p);
    "avx2,fma" => avx2_avgpool_f32_8c(a: Arena<'_>, q: &AvgPool, p: Part) = pool::avg_body::<Avx2>(a, q, p);
    "avx512f" => avx512_avgpool_f32_16c(a: Arena<'_>, q: &AvgPool, p: Part) = pool::avg_body::<Avx512>(a, q, p);
    "avx2,fma" => avx2_quantize_u8_8c(a: Arena<'_>, q: &Quantize, p: Part) = qgemm::quantize_body::<Avx2>(a, q, p);
    "avx512f" => avx512_quantize_u8_16c(a: Arena<'_>, q: &Quantize, p: Part) = qgemm::quantize_body::<Avx512>(a, q, p);
    "avx2,fma" => avx2_qgemm_i8_6x16(a: Arena<'_>, w: &[f32], g: &QGemm, p: Part) = qgemm::body::<Avx2, Madd256, 6, 2>(a, w, g, p);
    "avx2,fma,avxvnni" => avxvnni_qgemm_i8_6x16(a: Arena<'_>, w: &[f32], g: &QGemm, p: Part) = qgemm::body::<Avx2, Vnni256, 6, 2>(a, w, g, p);
    "avx512f,avx512vnni" => avx512vnni_qgemm_i8_12x32(a: Arena<'_>, w: &[f32], g: &QGemm, p: Part) = qgemm::body::<Avx512, Vnni512, 12, 2>(a, w, g, p);
}
