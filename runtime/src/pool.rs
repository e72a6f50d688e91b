//! Pooling over NHWC pixels.
//!
//! Global average pooling: `y[c] = (1 / P) * sum_p x[p][c]` over the `P` pixels of one image.
//! Average pooling without padding: `y[oy][ox][c] = mean of x[oy*sh + i][ox*sw + j][c]` over
//! the `kh x kw` window (GhostNetV2's 2x2 stride-2 pool before the attention branch).

use super::gemm::View;
use super::isa::{extent, Arena, Isa, Part};
use super::simd::Simd;

/// Global average pooling of one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalAvg {
    pub pixels: usize,
    pub c: usize,
    pub x: View,
    /// Arena offset of the `c` means.
    pub y: usize,
}

fn pointers(arena: &Arena<'_>, g: &GlobalAvg) -> (*const f32, *mut f32) {
    (arena.at(g.x.off, extent(g.pixels, g.x.ld, g.c)), arena.at(g.y, g.c))
}

/// Runs part `part` (a range of channels) of `g` on tier `isa`.
///
/// # Panics
/// If `isa` is not compiled in, or a range is outside the arena.
pub fn global_avg(isa: Isa, arena: Arena<'_>, g: &GlobalAvg, part: Part) {
    match isa.base() {
        Isa::Scalar => scalar(arena, g, part),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(super::x86::has_avx2(), "the CPU lacks AVX2+FMA");
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            unsafe { super::x86::avx2_gap_f32_8c(arena, g, part) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(super::x86::has_avx512(), "the CPU lacks AVX-512F");
            // SAFETY: the CPU supports AVX-512F (checked above).
            unsafe { super::x86::avx512_gap_f32_16c(arena, g, part) }
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: Advanced SIMD is part of every AArch64 CPU.
        Isa::Neon => unsafe { super::neon::neon_gap_f32_4c(arena, g, part) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        // SAFETY: the build enables simd128, so the engine running it has it.
        Isa::Simd128 => unsafe { super::wasm::simd128_gap_f32_4c(arena, g, part) },
        #[allow(unreachable_patterns)]
        other => panic!("kernel tier {} is not compiled into this build", other.name()),
    }
}

/// The reference.
pub fn scalar(arena: Arena<'_>, g: &GlobalAvg, part: Part) {
    let (x, y) = pointers(&arena, g);
    // SAFETY: ranges checked by `pointers`; this part writes only its channels.
    unsafe {
        for ch in part.range(g.c, 16) {
            let mut s = 0f32;
            for p in 0..g.pixels {
                s += *x.add(p * g.x.ld + ch);
            }
            *y.add(ch) = s / g.pixels as f32;
        }
    }
}

/// The SIMD body: one vector of channels at a time, summed over all pixels.
///
/// # Safety
/// The CPU supports `S`'s tier.
#[inline(always)]
pub(super) unsafe fn body<S: Simd>(arena: Arena<'_>, g: &GlobalAvg, part: Part) {
    let (x, y) = pointers(&arena, g);
    let range = part.range(g.c, 16);
    let inv = 1.0 / g.pixels as f32;
    // SAFETY: ranges checked by `pointers`; channel tails are masked.
    unsafe {
        let mut ch = range.start;
        while ch < range.end {
            let lanes = (range.end - ch).min(S::LANES);
            let (mut a0, mut a1) = (S::zero(), S::zero());
            let mut p = 0;
            while p + 1 < g.pixels {
                a0 = S::add(a0, S::load_n(x.add(p * g.x.ld + ch), lanes));
                a1 = S::add(a1, S::load_n(x.add((p + 1) * g.x.ld + ch), lanes));
                p += 2;
            }
            if p < g.pixels {
                a0 = S::add(a0, S::load_n(x.add(p * g.x.ld + ch), lanes));
            }
            S::store_n(y.add(ch), S::mul(S::add(a0, a1), S::splat(inv)), lanes);
            ch += S::LANES;
        }
    }
}

/// Average pooling of one image, windows inside the input (no padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub x: View,
    pub y: View,
}

fn pool_pointers(arena: &Arena<'_>, a: &AvgPool) -> (*const f32, *mut f32) {
    assert!(a.kh > 0 && a.kw > 0 && a.sh > 0 && a.sw > 0, "pool window and strides must be positive");
    let fits = |o: usize, s: usize, k: usize, n: usize| o == 0 || (o - 1) * s + k <= n;
    assert!(fits(a.oh, a.sh, a.kh, a.h) && fits(a.ow, a.sw, a.kw, a.w), "pool windows leave the input");
    (arena.at(a.x.off, extent(a.h * a.w, a.x.ld, a.c)), arena.at(a.y.off, extent(a.oh * a.ow, a.y.ld, a.c)))
}

/// Runs part `part` (a range of output rows) of `a` on tier `isa`.
///
/// # Panics
/// If `isa` is not compiled in, or a range is outside the arena.
pub fn avg_pool(isa: Isa, arena: Arena<'_>, a: &AvgPool, part: Part) {
    match isa.base() {
        Isa::Scalar => avg_scalar(arena, a, part),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(super::x86::has_avx2(), "the CPU lacks AVX2+FMA");
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            unsafe { super::x86::avx2_avgpool_f32_8c(arena, a, part) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(super::x86::has_avx512(), "the CPU lacks AVX-512F");
            // SAFETY: the CPU supports AVX-512F (checked above).
            unsafe { super::x86::avx512_avgpool_f32_16c(arena, a, part) }
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: Advanced SIMD is part of every AArch64 CPU.
        Isa::Neon => unsafe { super::neon::neon_avgpool_f32_4c(arena, a, part) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        // SAFETY: the build enables simd128, so the engine running it has it.
        Isa::Simd128 => unsafe { super::wasm::simd128_avgpool_f32_4c(arena, a, part) },
        #[allow(unreachable_patterns)]
        other => panic!("kernel tier {} is not compiled into this build", other.name()),
    }
}

/// The reference.
pub fn avg_scalar(arena: Arena<'_>, a: &AvgPool, part: Part) {
    let (x, y) = pool_pointers(&arena, a);
    let inv = 1.0 / (a.kh * a.kw) as f32;
    // SAFETY: ranges checked by `pool_pointers`; this part writes only its rows.
    unsafe {
        for oy in part.range(a.oh, 1) {
            for ox in 0..a.ow {
                for ch in 0..a.c {
                    let mut s = 0f32;
                    for i in 0..a.kh {
                        for j in 0..a.kw {
                            s += *x.add(((oy * a.sh + i) * a.w + ox * a.sw + j) * a.x.ld + ch);
                        }
                    }
                    *y.add((oy * a.ow + ox) * a.y.ld + ch) = s * inv;
                }
            }
        }
    }
}

/// The SIMD body: channel vectors, window summed tap by tap.
///
/// # Safety
/// The CPU supports `S`'s tier.
#[inline(always)]
pub(super) unsafe fn avg_body<S: Simd>(arena: Arena<'_>, a: &AvgPool, part: Part) {
    let (x, y) = pool_pointers(&arena, a);
    let inv = 1.0 / (a.kh * a.kw) as f32;
    // SAFETY: ranges checked by `pool_pointers`; channel tails are masked.
    unsafe {
        let scale = S::splat(inv);
        for oy in part.range(a.oh, 1) {
            for ox in 0..a.ow {
                let mut ch = 0;
                while ch < a.c {
                    let lanes = (a.c - ch).min(S::LANES);
                    let mut s = S::zero();
                    for i in 0..a.kh {
                        for j in 0..a.kw {
                            s = S::add(s, S::load_n(x.add(((oy * a.sh + i) * a.w + ox * a.sw + j) * a.x.ld + ch), lanes));
                        }
                    }
                    S::store_n(y.add((oy * a.ow + ox) * a.y.ld + ch), S::mul(s, scale), lanes);
                    ch += S::LANES;
                }
            }
        }
    }
}
