//! Direct (dense) convolution: the stem, and any other convolution with one group and a
//! kernel larger than 1x1. The input is read through explicit strides, so the stem reads
//! the caller's NCHW image directly; the output is NHWC.
//!
//! `y[oy][ox][o] = act(bias[o] + sum_{ky,kx,i} x(i, oy*sh + ky - pt, ox*sw + kx - pl) * w[ky][kx][i][o]) + r[oy][ox][o]`.
//!
//! Packed weights: `kh * kw * cin` rows of `cpad(cout)` values, then `bias[cpad(cout)]`.

use super::dwconv::cpad;
use super::gemm::View;
use super::isa::{extent, Act, Arena, Isa, Part};
use super::simd::{Ep, Simd};

/// Where the input is and how it is laid out: element `(channel, row, column)` at
/// `off + channel * cs + row * rs + column * ps`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strided {
    pub off: usize,
    pub cs: usize,
    pub rs: usize,
    pub ps: usize,
}

/// One dense convolution of one image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dense {
    pub h: usize,
    pub w: usize,
    pub cin: usize,
    pub oh: usize,
    pub ow: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub pt: usize,
    pub pl: usize,
    pub x: Strided,
    pub y: View,
    pub weights: usize,
    pub act: Act,
    pub residual: Option<View>,
}

/// Length of packed weights and bias.
pub const fn packed_len(kh: usize, kw: usize, cin: usize, cout: usize) -> usize {
    (kh * kw * cin + 1) * cpad(cout)
}

/// Packs `w(o, i, ky, kx)` and `bias(o)`.
pub fn pack(
    kh: usize,
    kw: usize,
    cin: usize,
    cout: usize,
    w: impl Fn(usize, usize, usize, usize) -> f32,
    bias: impl Fn(usize) -> f32,
    out: &mut [f32],
) {
    let cp = cpad(cout);
    let out = &mut out[..packed_len(kh, kw, cin, cout)];
    out.fill(0.0);
    for ky in 0..kh {
        for kx in 0..kw {
            for i in 0..cin {
                let row = (ky * kw + kx) * cin + i;
                for o in 0..cout {
                    out[row * cp + o] = w(o, i, ky, kx);
                }
            }
        }
    }
    for o in 0..cout {
        out[kh * kw * cin * cp + o] = bias(o);
    }
}

struct Ptrs {
    x: *const f32,
    y: *mut f32,
    r: *const f32,
    w: *const f32,
}

/// Checks ranges. The input comes from `input` when given, else from the arena.
fn pointers(arena: &Arena<'_>, input: Option<&[f32]>, weights: &[f32], d: &Dense) -> Ptrs {
    let wl = packed_len(d.kh, d.kw, d.cin, d.cout);
    assert!(d.weights.checked_add(wl).is_some_and(|e| e <= weights.len()), "conv weights outside the blob");
    assert!(d.sh > 0 && d.sw > 0, "conv strides must be positive");
    let last = if d.h == 0 || d.w == 0 || d.cin == 0 {
        0
    } else {
        d.x.off + (d.cin - 1) * d.x.cs + (d.h - 1) * d.x.rs + (d.w - 1) * d.x.ps + 1
    };
    let x = match input {
        Some(s) => {
            assert!(d.x.off <= last.max(d.x.off) && last <= s.len(), "conv input outside the input slice");
            s.as_ptr().wrapping_add(d.x.off)
        }
        None => arena.at(d.x.off, last.saturating_sub(d.x.off)) as *const f32,
    };
    Ptrs {
        x,
        y: arena.at(d.y.off, extent(d.oh * d.ow, d.y.ld, d.cout)),
        r: d.residual.map_or(core::ptr::null(), |r| arena.at(r.off, extent(d.oh * d.ow, r.ld, d.cout))),
        w: weights[d.weights..].as_ptr(),
    }
}

/// Runs part `part` (a range of output rows) of `d` on tier `isa`, reading the input from
/// `input` if given, else from the arena.
///
/// # Panics
/// If `isa` is not compiled in, or a range is outside its buffer.
pub fn dense(isa: Isa, arena: Arena<'_>, input: Option<&[f32]>, weights: &[f32], d: &Dense, part: Part) {
    match isa.base() {
        Isa::Scalar => scalar(arena, input, weights, d, part),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(super::x86::has_avx2(), "the CPU lacks AVX2+FMA");
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            unsafe { super::x86::avx2_conv_f32_1x32(arena, input, weights, d, part) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(super::x86::has_avx512(), "the CPU lacks AVX-512F");
            // SAFETY: the CPU supports AVX-512F (checked above).
            unsafe { super::x86::avx512_conv_f32_1x64(arena, input, weights, d, part) }
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: Advanced SIMD is part of every AArch64 CPU.
        Isa::Neon => unsafe { super::neon::neon_conv_f32_1x16(arena, input, weights, d, part) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        // SAFETY: the build enables simd128, so the engine running it has it.
        Isa::Simd128 => unsafe { super::wasm::simd128_conv_f32_1x8(arena, input, weights, d, part) },
        #[allow(unreachable_patterns)]
        other => panic!("kernel tier {} is not compiled into this build", other.name()),
    }
}

/// The reference: the definition.
pub fn scalar(arena: Arena<'_>, input: Option<&[f32]>, weights: &[f32], d: &Dense, part: Part) {
    let p = pointers(&arena, input, weights, d);
    let cp = cpad(d.cout);
    // SAFETY: `pointers` checked the ranges; this part writes only its own output rows.
    unsafe {
        for oy in part.range(d.oh, 1) {
            for ox in 0..d.ow {
                for o in 0..d.cout {
                    let mut s = *p.w.add(d.kh * d.kw * d.cin * cp + o);
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
                            for i in 0..d.cin {
                                let xv = *p.x.add(i * d.x.cs + iy as usize * d.x.rs + ix as usize * d.x.ps);
                                s += xv * *p.w.add(((ky * d.kw + kx) * d.cin + i) * cp + o);
                            }
                        }
                    }
                    let at = oy * d.ow + ox;
                    let r = if p.r.is_null() { 0.0 } else { *p.r.add(at * d.residual.unwrap().ld + o) };
                    *p.y.add(at * d.y.ld + o) = d.act.apply(s) + r;
                }
            }
        }
    }
}

/// The SIMD body: output channels in vectors, output pixels of a row in strips of `P`
/// (independent accumulators) where the whole window is inside the input, single pixels
/// at the edges.
///
/// # Safety
/// The CPU supports `S`'s tier.
#[inline(always)]
pub(super) unsafe fn body<S: Simd, const NV: usize>(arena: Arena<'_>, input: Option<&[f32]>, weights: &[f32], d: &Dense, part: Part) {
    let p = pointers(&arena, input, weights, d);
    let cp = cpad(d.cout);
    // Columns whose window is inside the input: ox in [ox0, ox1).
    let ox0 = d.pl.div_ceil(d.sw).min(d.ow);
    let ox1 = if d.w + d.pl >= d.kw { ((d.w + d.pl - d.kw) / d.sw + 1).clamp(ox0, d.ow) } else { ox0 };
    // SAFETY: the tier is supported (our contract); `pointers` checked the ranges.
    unsafe {
        for oy in part.range(d.oh, 1) {
            let mut o = 0;
            while o < d.cout {
                let nv = ((cp - o) / S::LANES).min(NV);
                match nv {
                    1 => row::<S, 1, 8>(&p, d, oy, o, ox0, ox1),
                    2 if NV >= 2 => row::<S, 2, 4>(&p, d, oy, o, ox0, ox1),
                    _ => row::<S, NV, 2>(&p, d, oy, o, ox0, ox1),
                }
                o += nv * S::LANES;
            }
        }
    }
}

/// One output row, output channels `o..o + N * LANES`.
///
/// # Safety
/// As [`body`]; `o + N * LANES <= cpad(cout)`.
#[inline(always)]
unsafe fn row<S: Simd, const N: usize, const P: usize>(p: &Ptrs, d: &Dense, oy: usize, o: usize, ox0: usize, ox1: usize) {
    // SAFETY: forwarded; strips only cover columns whose windows are inside the input.
    unsafe {
        for ox in 0..ox0 {
            strip::<S, N, 1>(p, d, oy, ox, o, false, 0);
        }
        let mut ox = ox0;
        while ox + P <= ox1 {
            strip::<S, N, P>(p, d, oy, ox, o, true, 0);
            ox += P;
        }
        if ox < ox1 && ox1 - ox0 >= P {
            // The rest as one strip that ends at ox1, storing only the new pixels.
            strip::<S, N, P>(p, d, oy, ox1 - P, o, true, P - (ox1 - ox));
            ox = ox1;
        }
        while ox < d.ow {
            strip::<S, N, 1>(p, d, oy, ox, o, ox < ox1, 0);
            ox += 1;
        }
    }
}

/// Most `kw * cin` combinations a strip handles with a table of input offsets; wider
/// kernels fall back to nested loops.
const MAX_TAPS: usize = 64;

/// Output pixels `ox..ox + P` of row `oy`, channels `o..o + N * LANES`, storing pixels
/// from `ox + skip` on. With `inside`, every column tap is inside the input; else each is
/// checked (then `P == 1`).
///
/// For each kernel row the `(kx, input channel)` pairs are one flat loop: the weights of a
/// kernel row are contiguous in the packed layout, and a small table holds the input
/// offsets, so a 3x3 stem over 3 channels runs 9 iterations of `P * N` multiply-adds.
///
/// # Safety
/// As [`body`]; `o + N * LANES <= cpad(cout)`.
#[inline(always)]
unsafe fn strip<S: Simd, const N: usize, const P: usize>(p: &Ptrs, d: &Dense, oy: usize, ox: usize, o: usize, inside: bool, skip: usize) {
    let cp = cpad(d.cout);
    let ky0 = d.pt.saturating_sub(oy * d.sh);
    let ky1 = d.kh.min((d.h + d.pt).saturating_sub(oy * d.sh));
    let (kx0, kx1) = if inside {
        (0, d.kw)
    } else {
        (d.pl.saturating_sub(ox * d.sw), d.kw.min((d.w + d.pl).saturating_sub(ox * d.sw)))
    };
    let pstep = d.sw * d.x.ps;
    let taps = (kx1 - kx0) * d.cin;
    let mut table = [0usize; MAX_TAPS];
    if taps <= MAX_TAPS {
        for kx in kx0..kx1 {
            for i in 0..d.cin {
                table[(kx - kx0) * d.cin + i] = kx * d.x.ps + i * d.x.cs;
            }
        }
    }
    // SAFETY: only taps inside the input are read (rows ky0..ky1; columns kx0..kx1, which
    // cover the whole window for every pixel of an inside strip); weights are read below
    // `cpad(cout)` (caller's bound); outputs are masked at `cout`.
    unsafe {
        let mut acc = [[S::zero(); N]; P];
        for v in 0..N {
            let b = S::load(p.w.add(d.kh * d.kw * d.cin * cp + o + v * S::LANES));
            for a in acc.iter_mut() {
                a[v] = b;
            }
        }
        for ky in ky0..ky1 {
            let iy = oy * d.sh + ky - d.pt;
            // `ox * sw - pl` may be negative at the left edge; every tap actually read has
            // `ox * sw + kx >= pl`, so the column offset is formed per tap, never negative.
            let xrow = p.x.add(iy * d.x.rs);
            let x0 = ox * d.sw * d.x.ps;
            let pad = d.pl * d.x.ps;
            let wrow = p.w.add((ky * d.kw + kx0) * d.cin * cp + o);
            if taps <= MAX_TAPS {
                for (t, &off) in table.iter().enumerate().take(taps) {
                    let xp = xrow.add(x0 + off - pad);
                    let wp = wrow.add(t * cp);
                    let mut wv = [S::zero(); N];
                    for (v, w) in wv.iter_mut().enumerate() {
                        *w = S::load(wp.add(v * S::LANES));
                    }
                    for (j, a) in acc.iter_mut().enumerate() {
                        let xv = S::splat(*xp.add(j * pstep));
                        for v in 0..N {
                            a[v] = S::fma(xv, wv[v], a[v]);
                        }
                    }
                }
            } else {
                for kx in kx0..kx1 {
                    let xp = xrow.add(x0 + kx * d.x.ps - pad);
                    for i in 0..d.cin {
                        let wp = wrow.add(((kx - kx0) * d.cin + i) * cp);
                        let mut wv = [S::zero(); N];
                        for (v, w) in wv.iter_mut().enumerate() {
                            *w = S::load(wp.add(v * S::LANES));
                        }
                        for (j, a) in acc.iter_mut().enumerate() {
                            let xv = S::splat(*xp.add(i * d.x.cs + j * pstep));
                            for v in 0..N {
                                a[v] = S::fma(xv, wv[v], a[v]);
                            }
                        }
                    }
                }
            }
        }
        let ep = Ep::<S>::new(d.act);
        for (j, a) in acc.iter().enumerate().skip(skip) {
            let at = oy * d.ow + ox + j;
            for v in 0..N {
                let col = o + v * S::LANES;
                if col < d.cout {
                    let lanes = (d.cout - col).min(S::LANES);
                    let mut y = ep.apply(a[v]);
                    if !p.r.is_null() {
                        y = S::add(y, S::load_n(p.r.add(at * d.residual.map_or(0, |r| r.ld) + col), lanes));
                    }
                    S::store_n(p.y.add(at * d.y.ld + col), y, lanes);
                }
            }
        }
    }
}
