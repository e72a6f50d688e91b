//! Matrix products: pointwise (1x1) convolutions over NHWC pixels, the classifier, the
//! squeeze-excite layers.
//!
//! `C[i][j] = act(sum_p A[i][p] * s[p] * B[p][j] + bias[j]) + R[i][j]` for `i < m`, `j < n`,
//! where `A` and `C` live in the arena with row strides `lda` and `ldc` (a row is a pixel;
//! the stride is the channel count of the buffer, so `C` may be a channel slice of a wider
//! tensor), `B` is packed at compile time ([`pack`]), `s` is the optional squeeze-excite
//! gate applied to `B`'s rows, and `R` the optional residual. An optional [`Gate`]
//! multiplies each row before the residual is added; with `raw`, the value after the
//! activation (before gate and residual) is also stored there.
//!
//! Packed layout of `B` (`k x n`): full panels of [`PANEL`] columns, each `k` rows of
//! `PANEL` values, then one tail panel of `n % PANEL` columns rounded up to a multiple of 4
//! (`k` rows of that width, zero padded). Kernels read whole panel rows, never past the end.
//!
//! bfloat16 weights ([`pack_bf16`], run by [`gemm_bf16`]) use the same panels over
//! `ceil(k / 2)` rows of dwords: dword `(q, j)` holds `B[2q][j]` rounded to bfloat16 in its low
//! half and `B[2q + 1][j]` (zero past `k`) in its high half. The kernels widen them to `f32`
//! in registers (exactly) and multiply-add in `f32`, so only the weight bytes are halved:
//! the result is the `f32` product of `A` and the rounded `B`.

use super::isa::{bf16_bits, bf16_value, extent, Act, Arena, Isa, Part};
use super::simd::{Ep, EpKind, Simd};

/// Width of a full panel of packed `B`.
pub const PANEL: usize = 16;

/// A strided matrix in the arena: element `(i, j)` at `off + i * ld + j`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub off: usize,
    pub ld: usize,
}

/// A gate multiplied into an output as it is written (GhostNetV2's attention): output
/// pixel `(y, x)` of an `oh x ow` map is scaled by pixel
/// `(floor(y * h / oh), floor(x * w / ow))` of the `h x w` gate, channel for channel. The
/// gate's pixels are `ld` apart from `off` (which includes the channel offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    pub off: usize,
    pub ld: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Gate {
    /// Offset of the gate values for output pixel `p` (`y * ow + x`).
    #[inline(always)]
    pub fn at(&self, p: usize) -> usize {
        let (y, x) = (p / self.ow, p % self.ow);
        self.off + ((y * self.h / self.oh).min(self.h - 1) * self.w + (x * self.w / self.ow).min(self.w - 1)) * self.ld
    }

    /// Elements of the gate `cols` channels wide.
    pub fn extent(&self, cols: usize) -> usize {
        extent(self.h * self.w, self.ld, cols)
    }
}

/// One matrix product.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gemm {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a: View,
    pub c: View,
    /// Offset of packed `B` in the weights.
    pub b: usize,
    /// Offset of `bias[n]` in the weights.
    pub bias: usize,
    pub act: Act,
    /// Added after the activation; may be `c` itself (accumulate in place).
    pub residual: Option<View>,
    /// Also store the value before the residual here.
    pub raw: Option<View>,
    /// Arena offset of `s[k]`, scaling `B`'s rows (the squeeze-excite gate).
    pub scale: Option<usize>,
    /// Multiplies each row (a pixel of an `oh x ow` map) after the activation, before the
    /// residual; `raw` gets the value before it.
    pub gate: Option<Gate>,
}

/// Most vectors of columns one tile covers: a matrix-vector product on a 4-lane tier.
const MV_VECTORS: usize = 8;

/// Width of the tail panel of `n` columns (0 when `n` is a multiple of [`PANEL`]).
pub const fn tail_width(n: usize) -> usize {
    (n % PANEL).div_ceil(4) * 4
}

/// Length of packed `B` for `k x n`.
pub const fn packed_len(k: usize, n: usize) -> usize {
    (n / PANEL * PANEL + tail_width(n)) * k
}

/// Packs `b(p, j)` (`p < k`, `j < n`) into `out[..packed_len(k, n)]`.
pub fn pack(k: usize, n: usize, b: impl Fn(usize, usize) -> f32, out: &mut [f32]) {
    let out = &mut out[..packed_len(k, n)];
    let full = n / PANEL;
    let mut at = 0;
    for panel in 0..full {
        for p in 0..k {
            for j in 0..PANEL {
                out[at] = b(p, panel * PANEL + j);
                at += 1;
            }
        }
    }
    let tw = tail_width(n);
    for p in 0..k {
        for j in 0..tw {
            let col = full * PANEL + j;
            out[at] = if col < n { b(p, col) } else { 0.0 };
            at += 1;
        }
    }
}

/// Length of packed bfloat16 `B` for `k x n`, in dwords (= `f32` slots of the blob).
pub const fn packed_len_bf16(k: usize, n: usize) -> usize {
    packed_len(k.div_ceil(2), n)
}

/// Packs `b(p, j)` rounded to bfloat16 into `out[..packed_len_bf16(k, n)]`, as dword bit
/// patterns stored in `f32` slots.
pub fn pack_bf16(k: usize, n: usize, b: impl Fn(usize, usize) -> f32, out: &mut [f32]) {
    let half = |p: usize, j: usize| if p < k { bf16_bits(b(p, j)) as u32 } else { 0 };
    pack(k.div_ceil(2), n, |q, j| f32::from_bits(half(2 * q, j) | (half(2 * q + 1, j) << 16)), out);
}

/// Offset of packed element `(p, j)`.
fn packed_index(k: usize, n: usize, p: usize, j: usize) -> usize {
    let panel = j / PANEL;
    if panel < n / PANEL {
        panel * PANEL * k + p * PANEL + j % PANEL
    } else {
        n / PANEL * PANEL * k + p * tail_width(n) + j % PANEL
    }
}

/// Checks every range `g` touches and returns the base pointers, in order: `A`, `C`,
/// residual, raw, scale (null when absent), `B`, bias.
///
/// # Panics
/// If a range leaves the arena or the weights.
fn pointers(arena: &Arena<'_>, weights: &[f32], g: &Gemm, bf16: bool) -> [*const f32; 7] {
    let wend = |off: usize, len: usize| off.checked_add(len).is_some_and(|e| e <= weights.len());
    let blen = if bf16 { packed_len_bf16(g.k, g.n) } else { packed_len(g.k, g.n) };
    assert!(wend(g.b, blen) && wend(g.bias, g.n), "gemm weights outside the blob");
    let opt = |v: Option<View>| v.map_or(core::ptr::null(), |v| arena.at(v.off, extent(g.m, v.ld, g.n)) as *const f32);
    if let Some(gate) = g.gate {
        assert!(gate.h > 0 && gate.w > 0 && gate.oh * gate.ow >= g.m, "gate map does not cover the rows");
        arena.at(gate.off, gate.extent(g.n));
    }
    [
        arena.at(g.a.off, extent(g.m, g.a.ld, g.k)),
        arena.at(g.c.off, extent(g.m, g.c.ld, g.n)),
        opt(g.residual),
        opt(g.raw),
        g.scale.map_or(core::ptr::null(), |s| arena.at(s, g.k) as *const f32),
        weights[g.b..].as_ptr(),
        weights[g.bias..].as_ptr(),
    ]
}

/// Runs `g`'s part `part` on tier `isa`.
///
/// # Panics
/// If `isa` is not compiled in, or a range is outside the arena or the weights.
pub fn gemm(isa: Isa, arena: Arena<'_>, weights: &[f32], g: &Gemm, part: Part) {
    match isa.base() {
        Isa::Scalar => scalar(arena, weights, g, part),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(super::x86::has_avx2(), "the CPU lacks AVX2+FMA");
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            unsafe { super::x86::avx2_gemm_f32_6x16(arena, weights, g, part) }
        }
        // At most 8 columns, a 16-lane vector would be half empty: the AVX-512 tier runs
        // the 8-lane body there (measured faster on GhostNet's first block).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if g.n <= 8 && super::x86::has_avx2() => {
            assert!(super::x86::has_avx512(), "the CPU lacks AVX-512F");
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            unsafe { super::x86::avx2_gemm_f32_6x16(arena, weights, g, part) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(super::x86::has_avx512(), "the CPU lacks AVX-512F");
            // SAFETY: the CPU supports AVX-512F (checked above).
            unsafe { super::x86::avx512_gemm_f32_12x32(arena, weights, g, part) }
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: Advanced SIMD is part of every AArch64 CPU.
        Isa::Neon => unsafe { super::neon::neon_gemm_f32_6x16(arena, weights, g, part) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        // SAFETY: the build enables simd128, so the engine running it has it.
        Isa::Simd128 => unsafe { super::wasm::simd128_gemm_f32_4x8(arena, weights, g, part) },
        #[allow(unreachable_patterns)]
        other => panic!("kernel tier {} is not compiled into this build", other.name()),
    }
}

/// Runs `g`, whose `B` is packed by [`pack_bf16`], part `part` on tier `isa`.
///
/// # Panics
/// If `isa` is not compiled in, or a range is outside the arena or the weights.
pub fn gemm_bf16(isa: Isa, arena: Arena<'_>, weights: &[f32], g: &Gemm, part: Part) {
    match isa.base() {
        Isa::Scalar => reference::<true>(arena, weights, g, part),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(super::x86::has_avx2(), "the CPU lacks AVX2+FMA");
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            unsafe { super::x86::avx2_gemm_bf16_6x16(arena, weights, g, part) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if g.n <= 8 && super::x86::has_avx2() => {
            assert!(super::x86::has_avx512(), "the CPU lacks AVX-512F");
            // SAFETY: the CPU supports AVX2 and FMA (checked above).
            unsafe { super::x86::avx2_gemm_bf16_6x16(arena, weights, g, part) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            assert!(super::x86::has_avx512(), "the CPU lacks AVX-512F");
            // SAFETY: the CPU supports AVX-512F (checked above).
            unsafe { super::x86::avx512_gemm_bf16_12x32(arena, weights, g, part) }
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: Advanced SIMD is part of every AArch64 CPU.
        Isa::Neon => unsafe { super::neon::neon_gemm_bf16_6x16(arena, weights, g, part) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        // SAFETY: the build enables simd128, so the engine running it has it.
        Isa::Simd128 => unsafe { super::wasm::simd128_gemm_bf16_4x8(arena, weights, g, part) },
        #[allow(unreachable_patterns)]
        other => panic!("kernel tier {} is not compiled into this build", other.name()),
    }
}

/// The reference: plain loops in the order of the definition.
pub fn scalar(arena: Arena<'_>, weights: &[f32], g: &Gemm, part: Part) {
    reference::<false>(arena, weights, g, part)
}

/// [`scalar`] for `f32` or (`BF16`) bfloat16 `B`.
fn reference<const BF16: bool>(arena: Arena<'_>, weights: &[f32], g: &Gemm, part: Part) {
    let [a, c, res, raw, scale, b, bias] = pointers(&arena, weights, g, BF16);
    let (rows, cols) = split(g.m, g.n, 1, PANEL, part);
    // SAFETY: `pointers` checked that every row and column read or written is inside its
    // buffer; this part writes only its own rows and columns of `C` and `raw`.
    unsafe {
        for i in rows {
            for j in cols.clone() {
                let mut s = 0f32;
                for p in 0..g.k {
                    let sc = if scale.is_null() { 1.0 } else { *scale.add(p) };
                    let w = if BF16 {
                        let d = (*b.add(packed_index(g.k.div_ceil(2), g.n, p / 2, j))).to_bits();
                        bf16_value((d >> (16 * (p % 2))) as u16)
                    } else {
                        *b.add(packed_index(g.k, g.n, p, j))
                    };
                    s += *a.add(i * g.a.ld + p) * (w * sc);
                }
                let v = g.act.apply(s + *bias.add(j));
                if !raw.is_null() {
                    *(raw as *mut f32).add(i * g.raw.unwrap().ld + j) = v;
                }
                let gv = g.gate.map_or(1.0, |gt| *arena.at(gt.at(i) + j, 1));
                let r = if res.is_null() { 0.0 } else { *res.add(i * g.residual.unwrap().ld + j) };
                *(c as *mut f32).add(i * g.c.ld + j) = v * gv + r;
            }
        }
    }
}

/// The rows and columns part `part` computes: row tiles of `mr` when there are enough of
/// them, else column ranges in multiples of `grain` columns.
pub(super) fn split(m: usize, n: usize, mr: usize, grain: usize, part: Part) -> (core::ops::Range<usize>, core::ops::Range<usize>) {
    if part.count <= 1 {
        (0..m, 0..n)
    } else if m.div_ceil(mr) >= 2 * part.count || n <= grain {
        (part.range(m, mr), 0..n)
    } else {
        (0..m, part.range(n, grain))
    }
}

/// The SIMD body: `MR` rows by `NV` vectors of columns per tile.
///
/// # Safety
/// The CPU supports `S`'s tier.
#[inline(always)]
pub(super) unsafe fn body<S: Simd, const MR: usize, const NV: usize>(arena: Arena<'_>, weights: &[f32], g: &Gemm, part: Part) {
    // SAFETY: forwarded contract.
    unsafe { driver::<S, MR, NV, false>(arena, weights, g, part) }
}

/// [`body`] for bfloat16 `B` ([`pack_bf16`]).
///
/// # Safety
/// The CPU supports `S`'s tier.
#[inline(always)]
pub(super) unsafe fn body_bf16<S: Simd, const MR: usize, const NV: usize>(arena: Arena<'_>, weights: &[f32], g: &Gemm, part: Part) {
    // SAFETY: forwarded contract.
    unsafe { driver::<S, MR, NV, true>(arena, weights, g, part) }
}

/// The tiling shared by [`body`] and [`body_bf16`].
///
/// # Safety
/// The CPU supports `S`'s tier.
#[inline(always)]
unsafe fn driver<S: Simd, const MR: usize, const NV: usize, const BF16: bool>(arena: Arena<'_>, weights: &[f32], g: &Gemm, part: Part) {
    let [a, c, res, raw, scale, b, bias] = pointers(&arena, weights, g, BF16);
    // Rows of a packed panel: `k`, or `ceil(k / 2)` rows of bfloat16 pairs.
    let kp = if BF16 { g.k.div_ceil(2) } else { g.k };
    // One row (a matrix-vector product) is bound by reading B: several B panels at once,
    // each a stream of its own (four vectors, or eight on 4-lane tiers: two panels).
    let group = if g.m == 1 { if S::LANES == 4 { MV_VECTORS * 4 } else { 4 * S::LANES } } else { NV * S::LANES };
    let (rows, cols) = split(g.m, g.n, MR, group.max(PANEL), part);
    if rows.is_empty() || cols.is_empty() {
        return;
    }
    let full = g.n / PANEL * PANEL;
    // SAFETY: the tier is supported (our contract).
    let ep = unsafe { Ep::<S>::new(g.act) };
    let out = Out {
        c: c as *mut f32,
        ldc: g.c.ld,
        res,
        ldr: g.residual.map_or(0, |v| v.ld),
        raw: raw as *mut f32,
        ldw: g.raw.map_or(0, |v| v.ld),
        base: arena.at(0, 0),
        gate: g.gate,
    };
    // Column chunks: groups of NV vectors over full panels, then what is left of the full
    // panels, then the tail panel.
    let mut j = cols.start;
    while j < cols.end {
        // A chunk of up to `group` columns; its vectors may come from full panels (rows
        // PANEL apart) and the tail panel (rows `tail_width(n)` apart) alike. A vector never
        // straddles the two: `full` is a multiple of PANEL, itself a multiple of LANES.
        // A chunk has the group's vector count (the last vector maybe partial), or one
        // vector: the tile kernels exist for those two widths only, which keeps the
        // instantiations few.
        let left = cols.end - j;
        let width = if left > group - S::LANES { group.min(left) } else { S::LANES.min(left) };
        let nvec = width.div_ceil(S::LANES);
        let last = width - (nvec - 1) * S::LANES;
        let mut bp = [core::ptr::null(); MV_VECTORS];
        let mut bstride = [0; MV_VECTORS];
        for v in 0..nvec {
            let col = j + v * S::LANES;
            // SAFETY: `col < n`, so the panel and offset are inside packed B (checked in `pointers`).
            unsafe {
                if col < full {
                    bp[v] = b.add(col / PANEL * PANEL * kp + col % PANEL);
                    bstride[v] = PANEL;
                } else {
                    bp[v] = b.add(full * kp + col % PANEL);
                    bstride[v] = tail_width(g.n);
                }
            }
        }
        let mut i = rows.start;
        while i < rows.end {
            let left = rows.end - i;
            let t = Tile { ep, k: g.k, a, lda: g.a.ld, row: i, bp, bstride, scale, bias: bias.wrapping_add(j), col: j, last };
            // SAFETY: the tier is supported (our contract); all pointers were range-checked.
            unsafe {
                if g.m == 1 {
                    if S::LANES == 4 {
                        dispatch::<S, 1, MV_VECTORS, BF16>(&t, 1, nvec, &out);
                    } else {
                        dispatch::<S, 1, 4, BF16>(&t, 1, nvec, &out);
                    }
                    i += 1;
                } else if left < 3 {
                    dispatch::<S, 1, NV, BF16>(&t, 1, nvec, &out);
                    i += 1;
                } else if left < MR / 2 {
                    let r = left.min(4);
                    dispatch::<S, 4, NV, BF16>(&t, r, nvec, &out);
                    i += r;
                } else {
                    let r = left.min(MR);
                    dispatch::<S, MR, NV, BF16>(&t, r, nvec, &out);
                    i += r;
                }
            }
        }
        j += width;
    }
}

/// Where and how a tile's results are stored.
pub(super) struct Out {
    pub(super) c: *mut f32,
    pub(super) ldc: usize,
    pub(super) res: *const f32,
    pub(super) ldr: usize,
    pub(super) raw: *mut f32,
    pub(super) ldw: usize,
    /// The arena base, for gate lookups.
    pub(super) base: *const f32,
    pub(super) gate: Option<Gate>,
}

/// Which outputs a tile's sums go to: rows from `row`, columns from `col` (the last vector
/// with `last` lanes), and the activation.
pub(super) struct Place<S: Simd> {
    pub(super) ep: Ep<S>,
    pub(super) row: usize,
    pub(super) col: usize,
    pub(super) last: usize,
}

/// One tile's inputs: rows from `row`, the B vector pointers, and the columns from `col`.
struct Tile<S: Simd> {
    ep: Ep<S>,
    k: usize,
    a: *const f32,
    lda: usize,
    row: usize,
    bp: [*const f32; MV_VECTORS],
    /// Distance between consecutive rows of each B vector.
    bstride: [usize; MV_VECTORS],
    scale: *const f32,
    bias: *const f32,
    col: usize,
    /// Lanes used in the last vector.
    last: usize,
}

/// Picks the instantiation for `nvec` (1 or `NV`) vectors and the scale flag.
///
/// # Safety
/// The tier is supported and every pointer in `t` and `o` is valid for the tile.
#[inline(always)]
unsafe fn dispatch<S: Simd, const MR: usize, const NV: usize, const BF16: bool>(t: &Tile<S>, rows: usize, nvec: usize, o: &Out) {
    let scaled = !t.scale.is_null();
    // SAFETY: forwarded contract.
    unsafe {
        debug_assert!(nvec == 1 || nvec == NV);
        match (nvec, scaled) {
            (1, false) => tile::<S, MR, 1, false, BF16>(t, rows, o),
            (1, true) => tile::<S, MR, 1, true, BF16>(t, rows, o),
            (_, false) => tile::<S, MR, NV, false, BF16>(t, rows, o),
            (_, true) => tile::<S, MR, NV, true, BF16>(t, rows, o),
        }
    }
}

/// The microkernel: `MR x NV` accumulators over the whole `k`, then the epilogue for the
/// first `rows` rows. Rows past `rows` read row `rows - 1` and are not stored.
///
/// Every loop over registers has a constant trip count (`MR`, `NV`), so that LLVM unrolls
/// it and keeps the accumulators in registers; a loop bounded by `rows` would index the
/// accumulator array dynamically and force it into memory.
///
/// # Safety
/// As [`dispatch`].
#[inline(always)]
unsafe fn tile<S: Simd, const MR: usize, const NV: usize, const SCALE: bool, const BF16: bool>(t: &Tile<S>, rows: usize, o: &Out) {
    // SAFETY: pointers are in range for `rows` rows, `k` values each, and the columns of
    // this chunk (checked by the driver); the tier is supported.
    unsafe {
        let mut ap = [t.a; MR];
        for (r, p) in ap.iter_mut().enumerate() {
            *p = t.a.add((t.row + r.min(rows - 1)) * t.lda);
        }
        let mut bp = [t.bp[0]; NV];
        bp.copy_from_slice(&t.bp[..NV]);
        let mut bstride = [0; NV];
        bstride.copy_from_slice(&t.bstride[..NV]);
        let (last, scale) = (t.last, t.scale);
        let mut acc = [[S::zero(); NV]; MR];
        match (BF16, last < S::LANES) {
            (false, true) => kloop::<S, MR, NV, SCALE, true>(t.k, &ap, &mut bp, &bstride, last, scale, &mut acc),
            (false, false) => kloop::<S, MR, NV, SCALE, false>(t.k, &ap, &mut bp, &bstride, last, scale, &mut acc),
            (true, true) => kloop_bf16::<S, MR, NV, SCALE, true>(t.k, &ap, &mut bp, &bstride, last, scale, &mut acc),
            (true, false) => kloop_bf16::<S, MR, NV, SCALE, false>(t.k, &ap, &mut bp, &bstride, last, scale, &mut acc),
        }
        epilogue::<S, MR, NV>(&Place { ep: t.ep, row: t.row, col: t.col, last }, rows, &acc, t.bias, o);
    }
}

/// `c = act(acc + bias)`, then the gate, the raw copy and the residual, for the first `rows`
/// rows of a tile; `bias` points at the tile's first column.
///
/// # Safety
/// The tier is supported; the rows, the tile's columns and `bias` are in range for `o`.
#[inline(always)]
pub(super) unsafe fn epilogue<S: Simd, const MR: usize, const NV: usize>(
    t: &Place<S>,
    rows: usize,
    acc: &[[S::V; NV]; MR],
    bias: *const f32,
    o: &Out,
) {
    // SAFETY: the caller's contract.
    unsafe {
        let last = t.last;
        let mut bias_v = [S::zero(); NV];
        for v in 0..NV {
            bias_v[v] = S::load_n(bias.add(v * S::LANES), if v == NV - 1 { last } else { S::LANES });
        }
        // The sums plus bias, copied out with constant indices: the epilogues below index
        // by row, and where LLVM does not unroll them (it does not for wasm32) they would
        // keep `acc` itself in memory, stored on every step of the k loop.
        let mut sums = [[S::zero(); NV]; MR];
        for r in 0..MR {
            for v in 0..NV {
                sums[r][v] = S::add(acc[r][v], bias_v[v]);
            }
        }
        if S::LANES * MR * NV <= 96 && rows == MR && o.raw.is_null() && o.gate.is_none() && t.ep.kind() != EpKind::Sigmoid {
            // The common full tile, with the activation and the tail mask as constants so
            // that the unrolled stores keep the sums in registers. (With more sums than
            // half the register file, the unrolled epilogue makes LLVM spill sums inside
            // the k loop; those tiles take the loop below.)
            let partial = last < S::LANES;
            match (t.ep.kind(), partial) {
                (EpKind::Identity, false) => store_tile::<S, MR, NV, { EpKind::Identity as u8 }, false>(t, &sums, o),
                (EpKind::Identity, true) => store_tile::<S, MR, NV, { EpKind::Identity as u8 }, true>(t, &sums, o),
                (EpKind::Relu, false) => store_tile::<S, MR, NV, { EpKind::Relu as u8 }, false>(t, &sums, o),
                (EpKind::Relu, true) => store_tile::<S, MR, NV, { EpKind::Relu as u8 }, true>(t, &sums, o),
                (_, false) => store_tile::<S, MR, NV, { EpKind::Affine as u8 }, false>(t, &sums, o),
                (_, true) => store_tile::<S, MR, NV, { EpKind::Affine as u8 }, true>(t, &sums, o),
            }
            return;
        }
        for r in 0..MR {
            if r >= rows {
                break;
            }
            let i = t.row + r;
            for v in 0..NV {
                let lanes = if v == NV - 1 { last } else { S::LANES };
                let col = t.col + v * S::LANES;
                let mut y = t.ep.apply(sums[r][v]);
                if !o.raw.is_null() {
                    S::store_n(o.raw.add(i * o.ldw + col), y, lanes);
                }
                if let Some(gate) = o.gate {
                    y = S::mul(y, S::load_n(o.base.add(gate.at(i) + col), lanes));
                }
                if !o.res.is_null() {
                    y = S::add(y, S::load_n(o.res.add(i * o.ldr + col), lanes));
                }
                S::store_n(o.c.add(i * o.ldc + col), y, lanes);
            }
        }
    }
}

/// The epilogue of a full tile without gate or raw output: `c = act(sums) (+ r)`, the sums
/// with the bias added.
/// `KIND` is an [`EpKind`] other than sigmoid (identity and ReLU inline, else [`Ep::affine`]);
/// `PARTIAL` says the last vector has `t.last < LANES` lanes.
///
/// # Safety
/// As [`tile`], with all `MR` rows in range.
#[inline(always)]
unsafe fn store_tile<S: Simd, const MR: usize, const NV: usize, const KIND: u8, const PARTIAL: bool>(t: &Place<S>, sums: &[[S::V; NV]; MR], o: &Out) {
    // SAFETY: forwarded from `tile`: the rows and this chunk's columns are in range.
    unsafe {
        let zero = S::zero();
        for (r, row) in sums.iter().enumerate() {
            let i = t.row + r;
            for v in 0..NV {
                let col = t.col + v * S::LANES;
                let mut y = row[v];
                y = match KIND {
                    k if k == EpKind::Identity as u8 => y,
                    k if k == EpKind::Relu as u8 => S::max(y, zero),
                    _ => t.ep.affine(y),
                };
                let tail = PARTIAL && v == NV - 1;
                if !o.res.is_null() {
                    let rp = o.res.add(i * o.ldr + col);
                    y = S::add(y, if tail { S::load_part(rp, t.last) } else { S::load(rp) });
                }
                let cp = o.c.add(i * o.ldc + col);
                if tail {
                    S::store_part(cp, y, t.last)
                } else {
                    S::store(cp, y)
                }
            }
        }
    }
}

/// The k loop of [`tile`]: `acc[r][v] += a[r][p] * (s[p] *) b[p][v]` for every `p`. The B
/// pointers advance by their row strides; `PARTIAL` loads only `last` lanes of the last
/// vector (the tail panel), so the loop body has no branch.
///
/// On WebAssembly it is a function of its own: compiled together with the epilogues, V8
/// kept the accumulators in stack slots and stored them on every step (simd128 GEMM 14
/// GF/s, against 25-30 out of line).
///
/// # Safety
/// As [`tile`].
#[cfg_attr(not(target_family = "wasm"), inline(always))]
#[cfg_attr(target_family = "wasm", inline(never))]
#[allow(clippy::too_many_arguments)]
unsafe fn kloop<S: Simd, const MR: usize, const NV: usize, const SCALE: bool, const PARTIAL: bool>(
    k: usize,
    ap: &[*const f32; MR],
    bp: &mut [*const f32; NV],
    bstride: &[usize; NV],
    last: usize,
    scale: *const f32,
    acc: &mut [[S::V; NV]; MR],
) {
    // SAFETY: forwarded from `tile`: `k` rows of every B vector and A row are readable.
    unsafe {
        for p in 0..k {
            let mut bv = [S::zero(); NV];
            for v in 0..NV {
                bv[v] = if PARTIAL && v == NV - 1 { S::load_part(bp[v], last) } else { S::load(bp[v]) };
                bp[v] = bp[v].add(bstride[v]);
            }
            if SCALE {
                let s = S::splat(*scale.add(p));
                for b in &mut bv {
                    *b = S::mul(*b, s);
                }
            }
            for r in 0..MR {
                let x = S::splat(*ap[r].add(p));
                for v in 0..NV {
                    acc[r][v] = S::fma(x, bv[v], acc[r][v]);
                }
            }
        }
    }
}

/// [`kloop`] over bfloat16 pairs: each dword row of B feeds two `k` steps, `acc += a[2q] *
/// lo(b[q]) + a[2q + 1] * hi(b[q])` (a last odd `k` uses the low halves only). The widening is
/// exact, so the sums are those of [`kloop`] over the rounded weights, in the same order.
///
/// # Safety
/// As [`tile`], with `bp` pointing at packed bfloat16 panels of `ceil(k / 2)` rows.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn kloop_bf16<S: Simd, const MR: usize, const NV: usize, const SCALE: bool, const PARTIAL: bool>(
    k: usize,
    ap: &[*const f32; MR],
    bp: &mut [*const f32; NV],
    bstride: &[usize; NV],
    last: usize,
    scale: *const f32,
    acc: &mut [[S::V; NV]; MR],
) {
    // Local copies: LLVM keeps them in registers across the loop (with the references it
    // stored the sums back to memory on every step).
    let (mut sums, mut b) = (*acc, *bp);
    // SAFETY: forwarded from `tile`: `ceil(k / 2)` dword rows of every B vector and `k`
    // values of every A row are readable; the odd step reads A only below `k`.
    unsafe {
        for q in 0..k / 2 {
            let (mut lo, mut hi) = load_pairs::<S, NV, PARTIAL>(&mut b, bstride, last);
            if SCALE {
                let (s0, s1) = (S::splat(*scale.add(2 * q)), S::splat(*scale.add(2 * q + 1)));
                for v in 0..NV {
                    lo[v] = S::mul(lo[v], s0);
                    hi[v] = S::mul(hi[v], s1);
                }
            }
            for r in 0..MR {
                let x0 = S::splat(*ap[r].add(2 * q));
                for v in 0..NV {
                    sums[r][v] = S::fma(x0, lo[v], sums[r][v]);
                }
                let x1 = S::splat(*ap[r].add(2 * q + 1));
                for v in 0..NV {
                    sums[r][v] = S::fma(x1, hi[v], sums[r][v]);
                }
            }
        }
        if k % 2 == 1 {
            let p = k - 1;
            let (mut lo, _) = load_pairs::<S, NV, PARTIAL>(&mut b, bstride, last);
            if SCALE {
                let s0 = S::splat(*scale.add(p));
                for l in &mut lo {
                    *l = S::mul(*l, s0);
                }
            }
            for r in 0..MR {
                let x0 = S::splat(*ap[r].add(p));
                for v in 0..NV {
                    sums[r][v] = S::fma(x0, lo[v], sums[r][v]);
                }
            }
        }
    }
    (*acc, *bp) = (sums, b);
}

/// The next dword row of every B vector of [`kloop_bf16`], widened; advances the pointers.
///
/// # Safety
/// As [`kloop_bf16`].
#[inline(always)]
unsafe fn load_pairs<S: Simd, const NV: usize, const PARTIAL: bool>(
    b: &mut [*const f32; NV],
    bstride: &[usize; NV],
    last: usize,
) -> ([S::V; NV], [S::V; NV]) {
    // SAFETY: the caller's contract: a dword row of every B vector is readable.
    unsafe {
        let mut lo = [S::zero(); NV];
        let mut hi = [S::zero(); NV];
        for v in 0..NV {
            let p = b[v] as *const u32;
            (lo[v], hi[v]) = if PARTIAL && v == NV - 1 { S::load_bf16_pairs_part(p, last) } else { S::load_bf16_pairs(p) };
            b[v] = b[v].add(bstride[v]);
        }
        (lo, hi)
    }
}
