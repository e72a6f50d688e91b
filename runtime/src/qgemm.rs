//! Matrix products in 8-bit integers: unsigned 8-bit activations times signed 8-bit
//! weights, summed exactly in 32-bit integers.
//!
//! A layer in int8 runs two steps. [`quantize`] turns its `f32` input rows into bytes,
//! `q[i][p] = clamp(rne(x[i][p] (* s[p]) * inv_scale + zero), 0, 255)` (each operation an
//! `f32` operation, in that order; `s` is the optional squeeze-excite gate), rows `ldy`
//! bytes apart with the `k..ldy` padding zeroed. [`qgemm`] multiplies them by the packed
//! weights and writes `f32` as [`super::gemm`] does:
//!
//! `C[i][j] = act(f32(sum_p q[i][p] * w[p][j]) * scale[j] + bias[j]) * gate + R[i][j]`
//!
//! where the compiler folds the activation's scale and zero point and the weights'
//! per-channel scales into `scale` and `bias`. The sums are exact and every `f32` operation
//! is the same on every tier (no fused multiply-add), so each tier gives the scalar
//! reference's bits; the activation must be none, ReLU or a clip for that (the others use
//! approximations that differ between tiers).
//!
//! Packed weights ([`pack_i8`]): the panels of [`super::gemm`] over `ceil(k / 4)` rows of
//! dwords; dword `(q, j)` holds `w[4q + t][j]` in byte `t` (zero past `k`); then, per
//! column, `128 * sum_p w[p][j]` as an `i32`, for the tiers whose dot product multiplies
//! signed bytes: they multiply `q - 128` and add it back.

use super::gemm::{self, split, Gate, Out, Place, View, PANEL};
use super::isa::{extent, Act, Arena, Isa, Part};
use super::simd::{Ep, Simd};

/// One row of activations to bytes; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantize {
    pub m: usize,
    pub k: usize,
    pub x: View,
    /// Arena offset of the bytes (in `f32` slots: byte `4 * y` of the arena).
    pub y: usize,
    /// Bytes from one row of bytes to the next: `k` rounded up to a multiple of 4.
    pub ldy: usize,
    pub inv_scale: f32,
    /// The zero point, a whole number in `0..=255`.
    pub zero: f32,
    /// Arena offset of `s[k]`, multiplied into the columns first.
    pub scale: Option<usize>,
}

/// One integer matrix product; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QGemm {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// Arena offset of the bytes [`Quantize`] wrote (in `f32` slots), rows `lda` bytes apart.
    pub a: usize,
    pub lda: usize,
    pub c: View,
    /// Weight offsets: packed `w` ([`pack_i8`]), `scale[n]`, `bias[n]`.
    pub b: usize,
    pub scale: usize,
    pub bias: usize,
    pub act: Act,
    pub residual: Option<View>,
    pub raw: Option<View>,
    pub gate: Option<Gate>,
}

/// Bytes of a quantized row of `k` values: `k` rounded up to a multiple of 4.
pub const fn row_bytes(k: usize) -> usize {
    k.div_ceil(4) * 4
}

/// Length of packed `w` for `k x n`, in dwords (= `f32` slots of the blob): the panels and
/// the column sums.
pub const fn packed_len_i8(k: usize, n: usize) -> usize {
    gemm::packed_len(k.div_ceil(4), n) + n
}

/// Packs `w(p, j)` into `out[..packed_len_i8(k, n)]`, as dword bit patterns in `f32` slots.
pub fn pack_i8(k: usize, n: usize, w: impl Fn(usize, usize) -> i8, out: &mut [f32]) {
    let byte = |p: usize, j: usize| if p < k { w(p, j) as u8 as u32 } else { 0 };
    gemm::pack(k.div_ceil(4), n, |q, j| f32::from_bits((0..4).fold(0, |d, t| d | (byte(4 * q + t, j) << (8 * t)))), out);
    let panels = gemm::packed_len(k.div_ceil(4), n);
    for (j, slot) in out[panels..panels + n].iter_mut().enumerate() {
        let sum: i32 = (0..k).map(|p| w(p, j) as i32).sum();
        *slot = f32::from_bits((128 * sum) as u32);
    }
}

/// `x` rounded to the nearest integer, ties to even, for `0 <= x < 2^22` (adding and
/// removing 2^23 leaves no fraction bits): what `cvtps2dq` does, without `std`.
#[inline(always)]
fn rne(x: f32) -> f32 {
    (x + 8_388_608.0) - 8_388_608.0
}

/// The byte of one value: the contract of [`Quantize`], in the order every tier computes it.
#[inline(always)]
pub fn quantize_value(x: f32, s: f32, inv_scale: f32, zero: f32) -> u8 {
    let t = x * s * inv_scale + zero;
    // max then min with the bounds second, as the vector instructions (NaN -> 0).
    let t = if t > 0.0 { t } else { 0.0 };
    let t = if t < 255.0 { t } else { 255.0 };
    rne(t) as u8
}

/// Checks the ranges of `q` and returns the input, output and scale pointers.
fn quantize_pointers(arena: &Arena<'_>, q: &Quantize) -> (*const f32, *mut u8, *const f32) {
    assert!(q.ldy >= row_bytes(q.k) && q.ldy % 4 == 0, "quantized rows of {} bytes cannot hold {} values", q.ldy, q.k);
    let x = arena.at(q.x.off, extent(q.m, q.x.ld, q.k)) as *const f32;
    let y = arena.at(q.y, (q.m * q.ldy).div_ceil(4)) as *mut u8;
    let s = q.scale.map_or(core::ptr::null(), |s| arena.at(s, q.k) as *const f32);
    (x, y, s)
}

/// Runs part `part` (a range of rows) of `q` on tier `isa`.
///
/// # Panics
/// If `isa` is not compiled in, or a range is outside the arena.
pub fn quantize(isa: Isa, arena: Arena<'_>, q: &Quantize, part: Part) {
    match isa.base() {
        Isa::Scalar => quantize_scalar(arena, q, part),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(super::x86::has_avx2(), "the CPU lacks AVX2+FMA");
            // SAFETY: the CPU supports AVX2 (checked above).
            unsafe { super::x86::avx2_quantize_u8_8c(arena, q, part) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(super::x86::has_avx512(), "the CPU lacks AVX-512F");
            // SAFETY: the CPU supports AVX-512F (checked above).
            unsafe { super::x86::avx512_quantize_u8_16c(arena, q, part) }
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: Advanced SIMD is part of every AArch64 CPU.
        Isa::Neon => unsafe { super::neon::neon_quantize_u8_4c(arena, q, part) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        // SAFETY: the build enables simd128, so the engine running it has it.
        Isa::Simd128 => unsafe { super::wasm::simd128_quantize_u8_4c(arena, q, part) },
        #[allow(unreachable_patterns)]
        other => panic!("kernel tier {} is not compiled into this build", other.name()),
    }
}

/// The reference quantization.
pub fn quantize_scalar(arena: Arena<'_>, q: &Quantize, part: Part) {
    let (x, y, s) = quantize_pointers(&arena, q);
    // SAFETY: `quantize_pointers` checked the rows; this part writes only its rows.
    unsafe {
        for i in part.range(q.m, 1) {
            for p in 0..q.ldy {
                let v = if p < q.k {
                    let sp = if s.is_null() { 1.0 } else { *s.add(p) };
                    quantize_value(*x.add(i * q.x.ld + p), sp, q.inv_scale, q.zero)
                } else {
                    0
                };
                *y.add(i * q.ldy + p) = v;
            }
        }
    }
}

/// The SIMD quantization: `LANES` columns at a time, the tail masked. Dense rows without
/// a column scale (the input fills its rows and the byte rows need no padding) are one
/// run of `rows * k` values, so short rows cost no per-row tail.
///
/// # Safety
/// The CPU supports `S`'s tier.
#[inline(always)]
pub(super) unsafe fn quantize_body<S: Simd + Bytes>(arena: Arena<'_>, q: &Quantize, part: Part) {
    let (x, y, s) = quantize_pointers(&arena, q);
    let rows = part.range(q.m, 1);
    // SAFETY: the tier is supported; every load is below `k` of a row of this part (or
    // inside the part's dense run), every store inside its bytes; padding is written as zeros.
    unsafe {
        if q.x.ld == q.k && q.ldy == q.k && s.is_null() {
            let at = rows.start * q.k;
            quantize_run::<S>(x.add(at), y.add(at), s, rows.len() * q.k, q);
            return;
        }
        for i in rows {
            let (xr, yr) = (x.add(i * q.x.ld), y.add(i * q.ldy));
            quantize_run::<S>(xr, yr, s, q.k, q);
            for b in q.k..q.ldy {
                *yr.add(b) = 0;
            }
        }
    }
}

/// `len` values from `x` to bytes at `y`, each first multiplied by `s[p]` when `s` is not null.
///
/// # Safety
/// The CPU supports `S`'s tier; `len` values are readable at `x` (and `s`), `len` bytes writable at `y`.
#[inline(always)]
unsafe fn quantize_run<S: Simd + Bytes>(x: *const f32, y: *mut u8, s: *const f32, len: usize, q: &Quantize) {
    // SAFETY: the caller's contract; the last vector is masked to `len`.
    unsafe {
        let (inv, zero, top) = (S::splat(q.inv_scale), S::splat(q.zero), S::splat(255.0));
        let mut p = 0;
        while p + S::LANES <= len {
            let mut v = S::load(x.add(p));
            if !s.is_null() {
                v = S::mul(v, S::load(s.add(p)));
            }
            let t = S::add(S::mul(v, inv), zero);
            S::store_bytes(y.add(p), S::min(S::max(t, S::zero()), top), S::LANES);
            p += S::LANES;
        }
        if p < len {
            let n = len - p;
            let mut v = S::load_n(x.add(p), n);
            if !s.is_null() {
                v = S::mul(v, S::load_n(s.add(p), n));
            }
            let t = S::add(S::mul(v, inv), zero);
            S::store_bytes(y.add(p), S::min(S::max(t, S::zero()), top), n);
        }
    }
}

/// Checks every range of `g` and returns the pointers: bytes of `A`, packed `w` (its column
/// sums follow), `scale`, `bias`, and the outputs.
fn pointers(arena: &Arena<'_>, weights: &[f32], g: &QGemm) -> (*const u8, *const u32, *const f32, *const f32, Out) {
    let wend = |off: usize, len: usize| off.checked_add(len).is_some_and(|e| e <= weights.len());
    assert!(wend(g.b, packed_len_i8(g.k, g.n)) && wend(g.scale, g.n) && wend(g.bias, g.n), "qgemm weights outside the blob");
    assert!(g.lda >= row_bytes(g.k) && g.lda % 4 == 0, "quantized rows of {} bytes cannot hold {} values", g.lda, g.k);
    let a = arena.at(g.a, (g.m * g.lda).div_ceil(4)) as *const u8;
    let opt = |v: Option<View>| v.map_or(core::ptr::null(), |v| arena.at(v.off, extent(g.m, v.ld, g.n)) as *const f32);
    if let Some(gate) = g.gate {
        assert!(gate.h > 0 && gate.w > 0 && gate.oh * gate.ow >= g.m, "gate map does not cover the rows");
        arena.at(gate.off, gate.extent(g.n));
    }
    let out = Out {
        c: arena.at(g.c.off, extent(g.m, g.c.ld, g.n)),
        ldc: g.c.ld,
        res: opt(g.residual),
        ldr: g.residual.map_or(0, |v| v.ld),
        raw: opt(g.raw) as *mut f32,
        ldw: g.raw.map_or(0, |v| v.ld),
        base: arena.at(0, 0),
        gate: g.gate,
    };
    let w = weights.as_ptr();
    // SAFETY: the three offsets and their lengths were checked against the blob above.
    unsafe { (a, w.add(g.b) as *const u32, w.add(g.scale), w.add(g.bias), out) }
}

/// Runs `g`'s part `part` on tier `isa`: `vpdpbusd` on the VNNI tiers, exact 16-bit
/// multiply-adds on the other SIMD tiers; the same bits everywhere.
///
/// # Panics
/// If `isa` is not compiled in, or a range is outside the arena or the weights.
pub fn qgemm(isa: Isa, arena: Arena<'_>, weights: &[f32], g: &QGemm, part: Part) {
    match isa {
        Isa::Scalar => scalar(arena, weights, g, part),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => {
            assert!(super::x86::has_avx2(), "the CPU lacks AVX2+FMA");
            // SAFETY: the CPU supports AVX2 (checked above).
            unsafe { super::x86::avx2_qgemm_i8_6x16(arena, weights, g, part) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::AvxVnni => {
            assert!(super::x86::has_avxvnni(), "the CPU lacks AVX-VNNI");
            // SAFETY: the CPU supports AVX2 and AVX-VNNI (checked above; the tier implies AVX2).
            unsafe { super::x86::avxvnni_qgemm_i8_6x16(arena, weights, g, part) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Vnni => {
            assert!(super::x86::has_avx512vnni(), "the CPU lacks AVX512_VNNI");
            // SAFETY: the CPU supports AVX-512F and AVX512_VNNI (checked above).
            unsafe { super::x86::avx512vnni_qgemm_i8_12x32(arena, weights, g, part) }
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: Advanced SIMD is part of every AArch64 CPU.
        Isa::Neon => unsafe { super::neon::neon_qgemm_i8_4x4(arena, weights, g, part) },
        #[cfg(target_arch = "aarch64")]
        Isa::NeonDot => {
            assert!(super::neon::has_dotprod(), "the CPU lacks the dot-product extension");
            // SAFETY: the CPU has the dot-product extension (checked above).
            unsafe { super::neon::neondot_qgemm_i8_6x16(arena, weights, g, part) }
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        // SAFETY: the build enables simd128, so the engine running it has it.
        Isa::Simd128 => unsafe { super::wasm::simd128_qgemm_i8_4x4(arena, weights, g, part) },
        #[allow(unreachable_patterns)]
        other => panic!("kernel tier {} is not compiled into this build", other.name()),
    }
}

/// The byte `t` of dword row `q`, column `j` of packed `w`.
///
/// # Safety
/// `w` is `g`'s packed weights (range-checked).
unsafe fn packed(w: *const u32, g: &QGemm, p: usize, j: usize) -> i8 {
    let (kq, full) = (g.k.div_ceil(4), g.n / PANEL * PANEL);
    let at = if j < full { j / PANEL * PANEL * kq + (p / 4) * PANEL + j % PANEL } else { full * kq + (p / 4) * gemm::tail_width(g.n) + j % PANEL };
    // SAFETY: `at` is inside the packed panels of `g` (the caller's contract).
    (unsafe { *w.add(at) } >> (8 * (p % 4))) as u8 as i8
}

/// The reference: the definition, one element at a time.
pub fn scalar(arena: Arena<'_>, weights: &[f32], g: &QGemm, part: Part) {
    let (a, w, scale, bias, o) = pointers(&arena, weights, g);
    let (rows, cols) = split(g.m, g.n, 1, PANEL, part);
    // SAFETY: `pointers` checked every range; this part writes only its rows and columns.
    unsafe {
        for i in rows {
            for j in cols.clone() {
                let mut acc = 0i32;
                for p in 0..g.k {
                    acc += *a.add(i * g.lda + p) as i32 * packed(w, g, p, j) as i32;
                }
                let mut y = act(g.act, acc as f32 * *scale.add(j) + *bias.add(j));
                if !o.raw.is_null() {
                    *o.raw.add(i * o.ldw + j) = y;
                }
                if let Some(gate) = o.gate {
                    y *= *o.base.add(gate.at(i) + j);
                }
                if !o.res.is_null() {
                    y += *o.res.add(i * o.ldr + j);
                }
                *o.c.add(i * o.ldc + j) = y;
            }
        }
    }
}

/// The activations the vector epilogue computes exactly as here: none, ReLU, clip.
fn act(a: Act, y: f32) -> f32 {
    let max = |y: f32, lo: f32| if y > lo { y } else { lo };
    let min = |y: f32, hi: f32| if y < hi { y } else { hi };
    match a {
        Act::Relu => max(y, 0.0),
        Act::Clip { min: lo, max: hi } => min(max(y, lo), hi),
        other => other.apply(y),
    }
}

/// What the 8-bit kernels need of a tier beyond [`Simd`]: storing bytes.
pub(super) trait Bytes: Simd {
    /// Stores the first `n <= LANES` lanes, which hold values in `0..=255`, as bytes rounded
    /// to nearest, ties to even.
    ///
    /// # Safety
    /// The tier is supported; `n` bytes at `p` are writable.
    unsafe fn store_bytes(p: *mut u8, v: Self::V, n: usize);
}

/// An exact `u8 x i8` dot product of 4-byte groups, over `S::LANES` columns.
///
/// # Safety
/// Every method may only run where the tier and the instructions it names are available,
/// with `LANES` (or the given count of) readable dwords at the pointers.
pub(super) trait Dot<S: Simd> {
    /// A dword row of packed `w` (`LANES` columns of 4 weights) as the tier multiplies it.
    type B: Copy;
    /// `LANES` 32-bit sums, possibly in an internal order.
    type Acc: Copy;
    unsafe fn zero() -> Self::Acc;
    unsafe fn load(p: *const u32) -> Self::B;
    /// Loads `n < LANES` dwords; the other columns are zero. (Tiers with masked loads
    /// override this copy through a buffer.)
    #[inline(always)]
    unsafe fn load_part(p: *const u32, n: usize) -> Self::B {
        let mut t = [0u32; 16];
        debug_assert!(S::LANES <= t.len());
        // SAFETY: `n < LANES <= 16` readable dwords at `p` (trait contract); `t` holds 16.
        unsafe {
            core::ptr::copy_nonoverlapping(p, t.as_mut_ptr(), n);
            Self::load(t.as_ptr())
        }
    }
    /// `acc[j] += sum_t a[t] * b[j][t]` for the 4 bytes `a` at `a` (unsigned) and the
    /// column `j`'s 4 weights (signed).
    unsafe fn dot(acc: Self::Acc, a: *const u8, b: Self::B) -> Self::Acc;
    /// The sums as `f32`, rounded to nearest.
    unsafe fn sums(acc: Self::Acc) -> S::V;
    /// Whether `dot` multiplies `a - 128` (signed bytes): the sums then lack
    /// `128 * sum_t w[j][t]`, which [`Dot::add`] puts back from the packed column sums.
    const SIGNED: bool = false;
    /// `acc[j] += c[j]` for the first `n` columns.
    unsafe fn add(acc: Self::Acc, _c: *const i32, _n: usize) -> Self::Acc {
        acc
    }
}

/// The SIMD body: `MR` rows by `NV` vectors of columns per tile, like [`gemm`]'s.
///
/// # Safety
/// The CPU supports `S`'s tier and `D`'s instructions.
#[inline(always)]
pub(super) unsafe fn body<S: Simd, D: Dot<S>, const MR: usize, const NV: usize>(arena: Arena<'_>, weights: &[f32], g: &QGemm, part: Part) {
    let (a, w, scale, bias, out) = pointers(&arena, weights, g);
    let group = if g.m == 1 { 4 * S::LANES } else { NV * S::LANES };
    let (rows, cols) = split(g.m, g.n, MR, group.max(PANEL), part);
    if rows.is_empty() || cols.is_empty() {
        return;
    }
    let (kq, full) = (g.k.div_ceil(4), g.n / PANEL * PANEL);
    // SAFETY: the tier is supported (our contract); all pointers were range-checked, and
    // each tile reads only its rows of A, its columns of packed w, scale and bias.
    unsafe {
        let ep = Ep::<S>::new(g.act);
        let mut j = cols.start;
        while j < cols.end {
            let left = cols.end - j;
            let width = if left > group - S::LANES { group.min(left) } else { S::LANES.min(left) };
            let nvec = width.div_ceil(S::LANES);
            let last = width - (nvec - 1) * S::LANES;
            let mut bp = [core::ptr::null(); 4];
            let mut bstride = [0; 4];
            for v in 0..nvec {
                let col = j + v * S::LANES;
                (bp[v], bstride[v]) = if col < full {
                    (w.add(col / PANEL * PANEL * kq + col % PANEL), PANEL)
                } else {
                    (w.add(full * kq + col % PANEL), gemm::tail_width(g.n))
                };
            }
            let mut i = rows.start;
            while i < rows.end {
                let left = rows.end - i;
                let colsum = (w.add(gemm::packed_len(kq, g.n)) as *const i32).add(j);
                let t = QTile { a, lda: g.lda, kq, row: i, bp, bstride, last, colsum };
                let place = Place { ep, row: i, col: j, last };
                let cs = (scale.add(j), bias.add(j));
                if g.m == 1 {
                    qdispatch::<S, D, 1, 4>(&t, &place, 1, nvec, cs, &out);
                    i += 1;
                } else if left < 3 {
                    qdispatch::<S, D, 1, NV>(&t, &place, 1, nvec, cs, &out);
                    i += 1;
                } else if left < MR / 2 {
                    let r = left.min(4);
                    qdispatch::<S, D, 4, NV>(&t, &place, r, nvec, cs, &out);
                    i += r;
                } else {
                    let r = left.min(MR);
                    qdispatch::<S, D, MR, NV>(&t, &place, r, nvec, cs, &out);
                    i += r;
                }
            }
            j += width;
        }
    }
}

/// One tile's inputs: rows of bytes from `row`, the weight vector pointers and strides.
struct QTile {
    a: *const u8,
    lda: usize,
    kq: usize,
    row: usize,
    bp: [*const u32; 4],
    bstride: [usize; 4],
    last: usize,
    /// The packed column sums of the tile's first column.
    colsum: *const i32,
}

/// Picks the instantiation for `nvec` (1 or `NV`) vectors and a partial last vector.
///
/// # Safety
/// As [`body`]: every pointer is valid for the tile.
#[inline(always)]
unsafe fn qdispatch<S: Simd, D: Dot<S>, const MR: usize, const NV: usize>(
    t: &QTile,
    place: &Place<S>,
    rows: usize,
    nvec: usize,
    cs: (*const f32, *const f32),
    o: &Out,
) {
    // SAFETY: forwarded contract.
    unsafe {
        match (nvec, t.last < S::LANES) {
            (1, false) => qtile::<S, D, MR, 1, false>(t, place, rows, cs, o),
            (1, true) => qtile::<S, D, MR, 1, true>(t, place, rows, cs, o),
            (_, false) => qtile::<S, D, MR, NV, false>(t, place, rows, cs, o),
            (_, true) => qtile::<S, D, MR, NV, true>(t, place, rows, cs, o),
        }
    }
}

/// The microkernel: `MR x NV` integer sums over all of `k`, scaled to `f32`, then the
/// `f32` epilogue of [`gemm`] (bias, activation, gate, raw copy, residual). Rows past
/// `rows` read row `rows - 1` and are not stored.
///
/// # Safety
/// As [`qdispatch`].
#[inline(always)]
unsafe fn qtile<S: Simd, D: Dot<S>, const MR: usize, const NV: usize, const PARTIAL: bool>(
    t: &QTile,
    place: &Place<S>,
    rows: usize,
    (scale, bias): (*const f32, *const f32),
    o: &Out,
) {
    // SAFETY: the rows of bytes hold `4 kq` bytes each, every weight vector `kq` dword rows.
    unsafe {
        let mut ap = [t.a; MR];
        for (r, p) in ap.iter_mut().enumerate() {
            *p = t.a.add((t.row + r.min(rows - 1)) * t.lda);
        }
        let mut bp = [t.bp[0]; NV];
        bp.copy_from_slice(&t.bp[..NV]);
        let mut acc = [[D::zero(); NV]; MR];
        for q in 0..t.kq {
            let b: [D::B; NV] = core::array::from_fn(|v| {
                // The last vector of a partial tile may end the blob: never read it whole.
                let x = if PARTIAL && v == NV - 1 { D::load_part(bp[v], t.last) } else { D::load(bp[v]) };
                bp[v] = bp[v].add(t.bstride[v]);
                x
            });
            for r in 0..MR {
                let a = ap[r].add(4 * q);
                for v in 0..NV {
                    acc[r][v] = D::dot(acc[r][v], a, b[v]);
                }
            }
        }
        if D::SIGNED {
            for v in 0..NV {
                let n = if v == NV - 1 { t.last } else { S::LANES };
                for row in acc.iter_mut() {
                    row[v] = D::add(row[v], t.colsum.add(v * S::LANES), n);
                }
            }
        }
        let mut y = [[S::zero(); NV]; MR];
        for v in 0..NV {
            let m = S::load_n(scale.add(v * S::LANES), if v == NV - 1 { t.last } else { S::LANES });
            for r in 0..MR {
                y[r][v] = S::mul(D::sums(acc[r][v]), m);
            }
        }
        gemm::epilogue::<S, MR, NV>(place, rows, &y, bias, o);
    }
}
