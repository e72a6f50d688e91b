//! Depthwise convolution over NHWC: every channel has its own `kh x kw` filter.
//!
//! `y[oy][ox][c] = act(bias[c] + sum_{ky,kx} x[oy*sh + ky - pt][ox*sw + kx - pl][c] * w[ky][kx][c]) + r[oy][ox][c]`,
//! taps outside the input contributing nothing. Pixels are `ld` apart in `x`, `y` and `r`,
//! so each may be a channel slice of a wider tensor (the ghost module's cheap operation
//! reads the primary half and writes the other half of one buffer).
//!
//! Packed weights: `kh * kw` rows of `cpad` values (`c` rounded up to [`CPAD`], zero
//! padded), then `bias[cpad]`. Vector loads of weights never need a mask.

use super::gemm::{Gate, View};
use super::isa::{extent, Act, Arena, Isa, Part};
use super::simd::{Ep, Simd};

/// Channel padding of packed depthwise weights (the widest vector).
pub const CPAD: usize = 16;

/// One depthwise convolution of one image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Depthwise {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    /// Padding above and left of the input (below and right follow from the sizes).
    pub pt: usize,
    pub pl: usize,
    pub x: View,
    pub y: View,
    /// Offset of the packed weights and bias.
    pub weights: usize,
    pub act: Act,
    /// Multiplies each output pixel after the activation, before the residual.
    pub gate: Option<Gate>,
    pub residual: Option<View>,
}

/// `c` rounded up to [`CPAD`].
pub const fn cpad(c: usize) -> usize {
    c.div_ceil(CPAD) * CPAD
}

/// Length of the packed weights and bias of `c` channels with `taps` taps.
pub const fn packed_len(c: usize, taps: usize) -> usize {
    (taps + 1) * cpad(c)
}

/// Packs `w(ch, tap)` and `bias(ch)` into `out[..packed_len(c, taps)]`.
pub fn pack(c: usize, taps: usize, w: impl Fn(usize, usize) -> f32, bias: impl Fn(usize) -> f32, out: &mut [f32]) {
    let cp = cpad(c);
    let out = &mut out[..packed_len(c, taps)];
    out.fill(0.0);
    for t in 0..taps {
        for ch in 0..c {
            out[t * cp + ch] = w(ch, t);
        }
    }
    for ch in 0..c {
        out[taps * cp + ch] = bias(ch);
    }
}

struct Ptrs {
    x: *const f32,
    y: *mut f32,
    r: *const f32,
    w: *const f32,
    /// The arena base, for gate lookups.
    base: *const f32,
}

fn pointers(arena: &Arena<'_>, weights: &[f32], d: &Depthwise) -> Ptrs {
    let wl = packed_len(d.c, d.kh * d.kw);
    assert!(d.weights.checked_add(wl).is_some_and(|e| e <= weights.len()), "depthwise weights outside the blob");
    assert!(d.sh > 0 && d.sw > 0 && d.kh > 0 && d.kw > 0, "depthwise kernel and strides must be positive");
    if let Some(g) = d.gate {
        assert!(g.h > 0 && g.w > 0 && g.oh == d.oh && g.ow == d.ow, "gate map does not match the output");
        arena.at(g.off, g.extent(d.c));
    }
    Ptrs {
        base: arena.at(0, 0),
        x: arena.at(d.x.off, extent(d.h * d.w, d.x.ld, d.c)),
        y: arena.at(d.y.off, extent(d.oh * d.ow, d.y.ld, d.c)),
        r: d.residual.map_or(core::ptr::null(), |r| arena.at(r.off, extent(d.oh * d.ow, r.ld, d.c))),
        w: weights[d.weights..].as_ptr(),
    }
}

/// Runs part `part` (a range of output rows) of `d` on tier `isa`.
///
/// # Panics
/// If `isa` is not compiled in, or a range is outside the arena or the weights.
pub fn depthwise(isa: Isa, arena: Arena<'_>, weights: &[f32], d: &Depthwise, part: Part) {
    match isa.base() {
        Isa::Scalar => scalar(arena, weights, d, part),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(super::x86::has_avx2(), "the CPU lacks AVX2+FMA");
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            unsafe { super::x86::avx2_dwconv_f32_8c(arena, weights, d, part) }
        }
        // As for GEMM: at most 8 channels, the AVX-512 tier runs the 8-lane body.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if d.c <= 8 && super::x86::has_avx2() => {
            assert!(super::x86::has_avx512(), "the CPU lacks AVX-512F");
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            unsafe { super::x86::avx2_dwconv_f32_8c(arena, weights, d, part) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(super::x86::has_avx512(), "the CPU lacks AVX-512F");
            // SAFETY: the CPU supports AVX-512F (checked above).
            unsafe { super::x86::avx512_dwconv_f32_16c(arena, weights, d, part) }
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: Advanced SIMD is part of every AArch64 CPU.
        Isa::Neon => unsafe { super::neon::neon_dwconv_f32_4c(arena, weights, d, part) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        // SAFETY: the build enables simd128, so the engine running it has it.
        Isa::Simd128 => unsafe { super::wasm::simd128_dwconv_f32_4c(arena, weights, d, part) },
        #[allow(unreachable_patterns)]
        other => panic!("kernel tier {} is not compiled into this build", other.name()),
    }
}

/// The reference: the definition, tap by tap.
pub fn scalar(arena: Arena<'_>, weights: &[f32], d: &Depthwise, part: Part) {
    let p = pointers(&arena, weights, d);
    let cp = cpad(d.c);
    // SAFETY: `pointers` checked the ranges; this part writes only its own output rows.
    unsafe {
        for oy in part.range(d.oh, 1) {
            for ox in 0..d.ow {
                for ch in 0..d.c {
                    let mut s = *p.w.add(d.kh * d.kw * cp + ch);
                    for ky in 0..d.kh {
                        let iy = (oy * d.sh + ky) as isize - d.pt as isize;
                        if iy < 0 || iy >= d.h as isize {
                            continue;
                        }
                        for kx in 0..d.kw {
                            let ix = (ox * d.sw + kx) as isize - d.pl as isize;
                            if ix < 0 || ix >= d.w as isize {
                                continue;
                            }
                            let xv = *p.x.add((iy as usize * d.w + ix as usize) * d.x.ld + ch);
                            s += xv * *p.w.add((ky * d.kw + kx) * cp + ch);
                        }
                    }
                    let o = oy * d.ow + ox;
                    let r = if p.r.is_null() { 0.0 } else { *p.r.add(o * d.residual.unwrap().ld + ch) };
                    let g = d.gate.map_or(1.0, |g| *p.base.add(g.at(o) + ch));
                    *p.y.add(o * d.y.ld + ch) = d.act.apply(s) * g + r;
                }
            }
        }
    }
}

/// The SIMD body: picks a constant-size instantiation for the common kernels.
///
/// # Safety
/// The CPU supports `S`'s tier.
#[inline(always)]
pub(super) unsafe fn body<S: Simd>(arena: Arena<'_>, weights: &[f32], d: &Depthwise, part: Part) {
    let p = pointers(&arena, weights, d);
    // SAFETY: the tier is supported (our contract); the pointers were range-checked.
    unsafe {
        match (d.kh, d.kw) {
            _ if d.sw > 2 => generic::<S>(&p, d, part),
            (3, 3) => rows::<S, 3, 3>(&p, d, part),
            (5, 5) => rows::<S, 5, 5>(&p, d, part),
            (1, 5) => rows::<S, 1, 5>(&p, d, part),
            (5, 1) => rows::<S, 5, 1>(&p, d, part),
            _ => generic::<S>(&p, d, part),
        }
    }
}

/// A `KH x KW` depthwise convolution. For each output row and each channel vector, the
/// filter taps live in registers while the row is swept in strips of `P` outputs; a strip
/// loads the input columns it shares once per tap row, so each feeds up to `KW`
/// multiply-adds of `P` independent chains. Strips at the left and right edges take
/// columns outside the input as zeros; there is no separate per-pixel border path.
///
/// (No closures here or in the other bodies: a closure is a separate function that does
/// not inherit the wrapper's target features, so its intrinsics would not inline.)
///
/// # Safety
/// As [`body`], with `p` from `pointers(d)` and `(d.kh, d.kw) == (KH, KW)`.
#[inline(always)]
unsafe fn rows<S: Simd, const KH: usize, const KW: usize>(p: &Ptrs, d: &Depthwise, part: Part) {
    let cp = cpad(d.c);
    // Columns are swept in blocks narrow enough that the KH input rows of a block stay
    // in L1 while every output row of the block is computed (a whole wide row of a
    // many-channel tensor would not fit, and each input row is read KH times).
    let line_bytes = (d.c * 4).div_ceil(64) * 64;
    let block = (16 * 1024 / (KH * line_bytes * d.sw).max(1)).clamp(8, d.ow.max(8));
    let rows = part.range(d.oh, 1);
    // SAFETY: every address is inside the ranges `pointers` checked: taps are read only
    // when inside the input, channels only below `d.c` (the last vector masked), and
    // weights below `cpad(c)`.
    unsafe {
        let mut bx = 0;
        while bx < d.ow {
            let bx1 = (bx + block).min(d.ow);
            for oy in rows.clone() {
                let iy0 = (oy * d.sh) as isize - d.pt as isize;
                let ky0 = (-iy0).max(0) as usize;
                let ky1 = (d.h as isize - iy0).clamp(0, KH as isize) as usize;
                let mut ch = 0;
                while ch < d.c {
                    let lanes = (d.c - ch).min(S::LANES);
                    let mut wv = [[S::zero(); KW]; KH];
                    for (ky, row) in wv.iter_mut().enumerate() {
                        for (kx, v) in row.iter_mut().enumerate() {
                            *v = S::load(p.w.add((ky * KW + kx) * cp + ch));
                        }
                    }
                    let bias = S::load(p.w.add(KH * KW * cp + ch));
                    let e = Edge { oy, iy0, ky0, ky1, ch, lanes, ep: Ep::<S>::new(d.act) };
                    // Eight outputs per strip where registers allow (16-lane vectors, 32
                    // registers), else four.
                    let wide = S::LANES == 16 && KH * KW <= 9;
                    match (d.sw, lanes == S::LANES, wide) {
                        (1, true, true) => strips::<S, KH, KW, 1, 8, true>(p, d, &e, &wv, bias, bx, bx1),
                        (1, false, true) => strips::<S, KH, KW, 1, 8, false>(p, d, &e, &wv, bias, bx, bx1),
                        (1, true, false) => strips::<S, KH, KW, 1, 4, true>(p, d, &e, &wv, bias, bx, bx1),
                        (1, false, false) => strips::<S, KH, KW, 1, 4, false>(p, d, &e, &wv, bias, bx, bx1),
                        (2, true, _) => strips::<S, KH, KW, 2, 4, true>(p, d, &e, &wv, bias, bx, bx1),
                        (2, false, _) => strips::<S, KH, KW, 2, 4, false>(p, d, &e, &wv, bias, bx, bx1),
                        _ => unreachable!("strides above 2 take the generic path"),
                    }
                    ch += S::LANES;
                }
            }
            bx = bx1;
        }
    }
}

/// Output pixels `x0..x1` of one row and channel vector, `P` at a time (the last strip
/// overlaps the one before it and stores only its new pixels). Tap rows outside the input
/// (`e.ky0`, `e.ky1`) are skipped; columns outside it read as zeros. `FULL` says whether
/// all lanes are channels (else loads and stores are masked).
///
/// # Safety
/// As [`rows`], with `d.sw == SW`.
#[inline(always)]
unsafe fn strips<S: Simd, const KH: usize, const KW: usize, const SW: usize, const P: usize, const FULL: bool>(
    p: &Ptrs,
    d: &Depthwise,
    e: &Edge<S>,
    wv: &[[S::V; KW]; KH],
    bias: S::V,
    x0: usize,
    x1: usize,
) {
    let ldx = d.x.ld;
    let span = (P - 1) * SW + KW;
    let (w, pl) = (d.w as isize, d.pl as isize);
    // SAFETY: columns are read only when inside the input (checked per column unless the
    // whole strip is inside), tap rows only between ky0 and ky1, channels masked unless
    // FULL; stores stay inside the output row.
    unsafe {
        let plain = e.ky0 == 0 && e.ky1 == KH && d.gate.is_none();
        let ldr = d.residual.map_or(0, |r| r.ld);
        let mut ox = x0;
        while ox < x1 {
            if plain {
                // Whole strips from `ox` whose columns are all inside the input.
                let first = (ox * SW) as isize - pl;
                let room = w - first - span as isize;
                let fit = if first < 0 || room < 0 { 0 } else { room as usize / (P * SW) + 1 };
                let n = fit.min((x1 - ox) / P);
                if n > 0 {
                    let rows: [*const f32; KH] =
                        core::array::from_fn(|ky| p.x.add(((e.iy0 + ky as isize) as usize * d.w + first as usize) * ldx + e.ch));
                    let y = p.y.add((e.oy * d.ow + ox) * d.y.ld + e.ch);
                    let r = if p.r.is_null() { p.r } else { p.r.add((e.oy * d.ow + ox) * ldr + e.ch) };
                    interior::<S, KH, KW, SW, P, FULL>(rows, ldx, y, d.y.ld, (r, ldr), wv, bias, &e.ep, e.lanes, n);
                    ox += n * P;
                    continue;
                }
            }
            let start = if ox + P <= x1 || x1 - x0 < P { ox } else { x1 - P };
            let ix0 = (start * SW) as isize - pl;
            let inside = ix0 >= 0 && ix0 + span as isize <= w;
            let mut acc = [bias; P];
            for ky in 0..KH {
                if ky < e.ky0 || ky >= e.ky1 {
                    continue;
                }
                let xrow = p.x.add((e.iy0 + ky as isize) as usize * d.w * ldx + e.ch);
                let mut cols = [S::zero(); 24];
                if inside {
                    let xp = xrow.add(ix0 as usize * ldx);
                    for (c, v) in cols.iter_mut().enumerate().take(span) {
                        let q = xp.add(c * ldx);
                        *v = if FULL { S::load(q) } else { S::load_part(q, e.lanes) };
                    }
                } else {
                    for (c, v) in cols.iter_mut().enumerate().take(span) {
                        let ix = ix0 + c as isize;
                        if ix >= 0 && ix < w {
                            let q = xrow.add(ix as usize * ldx);
                            *v = if FULL { S::load(q) } else { S::load_part(q, e.lanes) };
                        }
                    }
                }
                for kx in 0..KW {
                    for j in 0..P {
                        acc[j] = S::fma(cols[j * SW + kx], wv[ky][kx], acc[j]);
                    }
                }
            }
            for (j, &a) in acc.iter().enumerate() {
                let x = start + j;
                if x >= ox && x < x1 {
                    finish::<S>(p, d, e, x, a);
                }
            }
            ox = start + P;
        }
    }
}

/// `n` strips of `P` outputs whose taps are all inside the input: `rows[ky]` points at the
/// first strip's first input column in tap row `ky`, `y` at its first output, `res.0` at
/// its residual (null if none; pixels `res.1` apart). Each input
/// column is loaded once per tap row and feeds the strip outputs it touches, so only the
/// filter, the `P` sums and one column are live.
///
/// # Safety
/// As [`strips`]: `rows`, `y` and `n` describe columns and outputs inside the checked
/// ranges.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn interior<S: Simd, const KH: usize, const KW: usize, const SW: usize, const P: usize, const FULL: bool>(
    rows: [*const f32; KH],
    ldx: usize,
    y: *mut f32,
    ldy: usize,
    res: (*const f32, usize),
    wv: &[[S::V; KW]; KH],
    bias: S::V,
    ep: &Ep<S>,
    lanes: usize,
    n: usize,
) {
    let span = (P - 1) * SW + KW;
    // SAFETY: the caller's contract; every column read is below `span` of a strip that
    // lies inside the input, every store (and residual read) one of the strip's outputs.
    unsafe {
        for s in 0..n {
            let mut acc = [bias; P];
            for (ky, row) in rows.iter().enumerate() {
                let xp = row.add(s * P * SW * ldx);
                for c in 0..span {
                    let q = xp.add(c * ldx);
                    let v = if FULL { S::load(q) } else { S::load_part(q, lanes) };
                    for kx in 0..KW {
                        if c >= kx && (c - kx) % SW == 0 && (c - kx) / SW < P {
                            let j = (c - kx) / SW;
                            acc[j] = S::fma(v, wv[ky][kx], acc[j]);
                        }
                    }
                }
            }
            let yp = y.add(s * P * ldy);
            for (j, &a) in acc.iter().enumerate() {
                let mut v = ep.apply(a);
                if !res.0.is_null() {
                    let rp = res.0.add((s * P + j) * res.1);
                    v = S::add(v, if FULL { S::load(rp) } else { S::load_part(rp, lanes) });
                }
                if FULL {
                    S::store(yp.add(j * ldy), v)
                } else {
                    S::store_part(yp.add(j * ldy), v, lanes)
                }
            }
        }
    }
}

/// Where [`rows`] is: output row, first input row, valid tap rows, channel vector.
struct Edge<S: Simd> {
    oy: usize,
    iy0: isize,
    ky0: usize,
    ky1: usize,
    ch: usize,
    lanes: usize,
    ep: Ep<S>,
}

/// The epilogue of one output pixel: activation, residual, store.
///
/// # Safety
/// As [`rows`].
#[inline(always)]
unsafe fn finish<S: Simd>(p: &Ptrs, d: &Depthwise, e: &Edge<S>, ox: usize, acc: S::V) {
    let o = e.oy * d.ow + ox;
    // SAFETY: the output pixel and channels are inside the checked ranges.
    unsafe {
        let mut v = e.ep.apply(acc);
        if let Some(g) = d.gate {
            v = S::mul(v, S::load_n(p.base.add(g.at(o) + e.ch), e.lanes));
        }
        if !p.r.is_null() {
            v = S::add(v, S::load_n(p.r.add(o * d.residual.map_or(0, |r| r.ld) + e.ch), e.lanes));
        }
        S::store_n(p.y.add(o * d.y.ld + e.ch), v, e.lanes);
    }
}

/// Any kernel size: taps loaded from memory, every tap bounds-checked.
///
/// # Safety
/// As [`body`], with `p` from `pointers(d)`.
#[inline(always)]
unsafe fn generic<S: Simd>(p: &Ptrs, d: &Depthwise, part: Part) {
    let cp = cpad(d.c);
    let ldr = d.residual.map_or(0, |r| r.ld);
    // SAFETY: as in `rows`: only in-bounds taps, masked channel tails, padded weights.
    unsafe {
        for oy in part.range(d.oh, 1) {
            for ox in 0..d.ow {
                let mut ch = 0;
                while ch < d.c {
                    let lanes = (d.c - ch).min(S::LANES);
                    let mut acc = S::load(p.w.add(d.kh * d.kw * cp + ch));
                    for ky in 0..d.kh {
                        let iy = (oy * d.sh + ky) as isize - d.pt as isize;
                        if iy < 0 || iy >= d.h as isize {
                            continue;
                        }
                        for kx in 0..d.kw {
                            let ix = (ox * d.sw + kx) as isize - d.pl as isize;
                            if ix < 0 || ix >= d.w as isize {
                                continue;
                            }
                            let xv = S::load_n(p.x.add((iy as usize * d.w + ix as usize) * d.x.ld + ch), lanes);
                            acc = S::fma(xv, S::load(p.w.add((ky * d.kw + kx) * cp + ch)), acc);
                        }
                    }
                    let o = oy * d.ow + ox;
                    let mut v = Ep::<S>::new(d.act).apply(acc);
                    if let Some(g) = d.gate {
                        v = S::mul(v, S::load_n(p.base.add(g.at(o) + ch), lanes));
                    }
                    if !p.r.is_null() {
                        v = S::add(v, S::load_n(p.r.add(o * ldr + ch), lanes));
                    }
                    S::store_n(p.y.add(o * d.y.ld + ch), v, lanes);
                    ch += S::LANES;
                }
            }
        }
    }
}
