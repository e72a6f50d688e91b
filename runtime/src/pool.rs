//! Pooling over NHWC pixels.
//!
//! Global average pooling: `y[c] = (1 / P) * sum_p x[p][c]` over the `P` pixels of one image.

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
    match isa {
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
