//! General kernels: plain loops over strided N-dimensional views, for the ops around a CNN
//! that no fused kernel covers (broadcast arithmetic, copies that transpose, slice or
//! concatenate, padding, resizing, pooling, reductions, matrix products, grouped and
//! dilated convolutions). None is on GhostNet's hot path; each reads and writes any layout.
//!
//! An operand is an [`Nd`]: element `i` (a multi-index) is at `off + sum(i[d] * strides[d])`
//! of its buffer (the arena, the weight blob or the caller's input). A stride may be 0 (the
//! operand is broadcast along that axis) or negative (read backwards). Outputs are in the
//! arena. Every range is checked before the loops, so a planning mistake panics instead of
//! touching memory it should not. Part `part` of a call computes a range of the output's
//! rows (all axes but the last), so threads never write the same element.

use super::isa::{Act, Arena, Part, Src};
use super::ops::BinOp;

/// A strided view: element `i` at `src`'s offset plus `sum(i[d] * strides[d])`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nd<'a> {
    pub src: Src,
    pub strides: &'a [isize],
}

/// The buffers a kernel may read: the arena (also written), the packed weights, the input.
#[derive(Clone, Copy)]
pub struct Bufs<'a> {
    pub arena: Arena<'a>,
    pub weights: &'a [f32],
    pub input: &'a [f32],
}

/// Lowest and highest offset (relative to the origin) `strides` reach over `dims`; `None`
/// when `dims` is empty of elements.
fn reach(dims: &[usize], strides: &[isize]) -> Option<(isize, isize)> {
    assert_eq!(dims.len(), strides.len(), "a view needs one stride per axis");
    if dims.contains(&0) {
        return None;
    }
    let (mut lo, mut hi) = (0isize, 0isize);
    for (&d, &s) in dims.iter().zip(strides) {
        let far = (d as isize - 1).checked_mul(s).expect("view extent overflows");
        if far < 0 {
            lo += far;
        } else {
            hi += far;
        }
    }
    Some((lo, hi))
}

impl Bufs<'_> {
    /// The origin of `v` over `dims`, after checking that every element is inside its buffer.
    ///
    /// # Panics
    /// If an element is outside: a planning bug, never memory unsafety.
    fn read(&self, v: &Nd<'_>, dims: &[usize]) -> *const f32 {
        let (off, base, len) = match v.src {
            Src::Arena(o) => (o, self.arena.at(0, 0).cast_const(), self.arena.len()),
            Src::Weights(o) => (o, self.weights.as_ptr(), self.weights.len()),
            Src::Input(o) => (o, self.input.as_ptr(), self.input.len()),
        };
        if let Some((lo, hi)) = reach(dims, v.strides) {
            let inside = (off as isize).checked_add(lo).is_some_and(|a| a >= 0) && (off as isize).checked_add(hi).is_some_and(|b| (b as usize) < len);
            assert!(inside, "view at {:?} with strides {:?} over {dims:?} leaves its buffer of {len}", v.src, v.strides);
        }
        // `off` is inside the buffer, or the view is empty and nothing is read through the
        // pointer; `wrapping_add` keeps its computation defined either way.
        base.wrapping_add(off)
    }

    /// Like [`Bufs::read`], for an output, which must be in the arena.
    fn write(&self, v: &Nd<'_>, dims: &[usize]) -> *mut f32 {
        assert!(matches!(v.src, Src::Arena(_)), "outputs are written to the arena");
        self.read(v, dims).cast_mut()
    }
}

/// Offsets of row `row` (a flat index over every axis but the last) in each of `strides`.
#[inline]
fn row_offsets<const K: usize>(dims: &[usize], strides: [&[isize]; K], row: usize) -> [isize; K] {
    let mut offs = [0isize; K];
    let mut q = row;
    for d in (0..dims.len().saturating_sub(1)).rev() {
        let i = (q % dims[d]) as isize;
        q /= dims[d];
        for k in 0..K {
            offs[k] += i * strides[k][d];
        }
    }
    offs
}

/// Rows (all axes but the last) and the length of the last axis.
fn rows(dims: &[usize]) -> (usize, usize) {
    match dims.split_last() {
        Some((&last, lead)) => (lead.iter().product(), last),
        None => (1, 1),
    }
}

fn last(strides: &[isize]) -> isize {
    strides.last().copied().unwrap_or(0)
}

/// `y = act(x)` elementwise: copies (transposes, slices, concatenation parts) with `Act::None`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Map<'a> {
    pub dims: &'a [usize],
    pub x: Nd<'a>,
    pub y: Nd<'a>,
    pub act: Act,
}

pub fn map(b: Bufs<'_>, m: &Map<'_>, part: Part) {
    let (x, y) = (b.read(&m.x, m.dims), b.write(&m.y, m.dims));
    let (n, w) = rows(m.dims);
    let (sx, sy) = (last(m.x.strides), last(m.y.strides));
    for r in part.range(n, 1) {
        let [ox, oy] = row_offsets(m.dims, [m.x.strides, m.y.strides], r);
        for j in 0..w as isize {
            // SAFETY: the offsets are of elements of the views, all checked by `read` and
            // `write`; this part writes only its rows.
            unsafe { *y.offset(oy + j * sy) = m.act.apply(*x.offset(ox + j * sx)) };
        }
    }
}

/// `y = act(a op b)` elementwise, either operand broadcast through zero strides.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Zip<'a> {
    pub op: BinOp,
    pub dims: &'a [usize],
    pub a: Nd<'a>,
    pub b: Nd<'a>,
    pub y: Nd<'a>,
    pub act: Act,
}

pub fn zip(b: Bufs<'_>, z: &Zip<'_>, part: Part) {
    let (pa, pb, py) = (b.read(&z.a, z.dims), b.read(&z.b, z.dims), b.write(&z.y, z.dims));
    let (n, w) = rows(z.dims);
    let (sa, sb, sy) = (last(z.a.strides), last(z.b.strides), last(z.y.strides));
    for r in part.range(n, 1) {
        let [oa, ob, oy] = row_offsets(z.dims, [z.a.strides, z.b.strides, z.y.strides], r);
        for j in 0..w as isize {
            // SAFETY: the offsets are of elements of the three views, all checked; this part
            // writes only its rows.
            unsafe {
                let (x, v) = (*pa.offset(oa + j * sa), *pb.offset(ob + j * sb));
                let out = match z.op {
                    BinOp::Add => x + v,
                    BinOp::Sub => x - v,
                    BinOp::Mul => x * v,
                    BinOp::Div => x / v,
                };
                *py.offset(oy + j * sy) = z.act.apply(out);
            }
        }
    }
}

/// How [`pad`] fills the border.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode {
    Constant(f32),
    /// Mirrored, the edge not repeated.
    Reflect,
    /// The edge repeated.
    Edge,
    /// The other end of the axis.
    Wrap,
}

/// `y` is `x` with `before[d]` elements added before axis `d` (and what is left of
/// `dims[d]` after it), filled as `mode` says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pad<'a> {
    pub dims: &'a [usize],
    pub x_dims: &'a [usize],
    pub before: &'a [usize],
    pub mode: PadMode,
    pub x: Nd<'a>,
    pub y: Nd<'a>,
}

/// The source index of padded index `i` along an axis of length `n` padded by `before`,
/// or `None` for a constant.
#[inline]
fn pad_source(i: usize, n: usize, before: usize, mode: PadMode) -> Option<usize> {
    let (n, i) = (n as isize, i as isize - before as isize);
    let s = match mode {
        _ if (0..n).contains(&i) => i,
        PadMode::Constant(_) => return None,
        PadMode::Edge => i.clamp(0, n - 1),
        PadMode::Reflect => (if i < 0 { -i } else { 2 * (n - 1) - i }).clamp(0, n - 1),
        PadMode::Wrap => i.rem_euclid(n),
    };
    Some(s as usize)
}

pub fn pad(b: Bufs<'_>, p: &Pad<'_>, part: Part) {
    assert!(p.x_dims.len() == p.dims.len() && p.before.len() == p.dims.len(), "pad ranks differ");
    let (x, y) = (b.read(&p.x, p.x_dims), b.write(&p.y, p.dims));
    let (n, w) = rows(p.dims);
    let r_last = p.dims.len().saturating_sub(1);
    for r in part.range(n, 1) {
        // The row's source offset, or `None` if a leading axis is in constant padding.
        let mut src = Some(0isize);
        let mut q = r;
        let mut oy = 0isize;
        for d in (0..r_last).rev() {
            let i = q % p.dims[d];
            q /= p.dims[d];
            oy += i as isize * p.y.strides[d];
            src = src.zip(pad_source(i, p.x_dims[d], p.before[d], p.mode)).map(|(o, s)| o + s as isize * p.x.strides[d]);
        }
        for j in 0..w {
            let from = match (src, p.dims.is_empty()) {
                (Some(o), true) => Some(o),
                (Some(o), false) => pad_source(j, p.x_dims[r_last], p.before[r_last], p.mode).map(|s| o + s as isize * p.x.strides[r_last]),
                (None, _) => None,
            };
            let at = oy + j as isize * last(p.y.strides);
            // SAFETY: `from` is the offset of an element of `x` (its index is inside
            // `x_dims`) and `at` of an element of `y`, both views checked; this part writes
            // only its rows.
            unsafe { *y.offset(at) = from.map_or(constant(p.mode), |o| *x.offset(o)) };
        }
    }
}

fn constant(mode: PadMode) -> f32 {
    match mode {
        PadMode::Constant(v) => v,
        _ => 0.0,
    }
}


/// Resize's coordinate transformation (ONNX `coordinate_transformation_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coord {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfHalfPixelForNn,
}

/// Resize's interpolation; nearest with its rounding (ONNX `nearest_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interp {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
    Linear,
}

/// Resize of every axis: `y` (`dims`) from `x` (`x_dims`), each axis mapped through
/// `coord` with its `scales` entry, as ONNX Runtime computes it in `f32`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resize<'a> {
    pub dims: &'a [usize],
    pub x_dims: &'a [usize],
    pub scales: &'a [f32],
    pub interp: Interp,
    pub coord: Coord,
    pub x: Nd<'a>,
    pub y: Nd<'a>,
}

/// The input coordinate of output index `x` along an axis of `len` inputs and `out` outputs.
pub fn resize_source(coord: Coord, x: usize, scale: f32, len: usize, out: usize) -> f32 {
    let (x, len) = (x as f32, len as f32);
    match coord {
        Coord::HalfPixel => (x + 0.5) / scale - 0.5,
        Coord::HalfPixelSymmetric => {
            let adjustment = out as f32 / (scale * len);
            let center = len / 2.0;
            let offset = center * (1.0 - adjustment);
            offset + (x + 0.5) / scale - 0.5
        }
        Coord::PytorchHalfPixel => {
            if out > 1 {
                (x + 0.5) / scale - 0.5
            } else {
                0.0
            }
        }
        Coord::AlignCorners => {
            if out == 1 {
                0.0
            } else {
                x * (len - 1.0) / (out as f32 - 1.0)
            }
        }
        Coord::Asymmetric => x / scale,
        Coord::TfHalfPixelForNn => (x + 0.5) / scale,
    }
}

/// `floor` and `ceil` without `std`, for the coordinates (|x| far below 2^23).
fn floor(x: f32) -> f32 {
    let t = x as i64 as f32;
    if t > x { t - 1.0 } else { t }
}

fn ceil(x: f32) -> f32 {
    let t = x as i64 as f32;
    if t < x { t + 1.0 } else { t }
}

/// The two input indices linear resizing blends for output index `x`, and their weights.
#[inline]
fn linear_taps(r: &Resize<'_>, d: usize, x: usize) -> ([usize; 2], [f32; 2]) {
    let len = r.x_dims[d];
    let s = resize_source(r.coord, x, r.scales[d], len, r.dims[d]).max(0.0).min(len as f32 - 1.0);
    let i0 = (s as usize).min(len - 1);
    let i1 = (i0 + 1).min(len - 1);
    if i0 == i1 {
        return ([i0, i1], [0.5, 0.5]);
    }
    ([i0, i1], [(i1 as f32 - s).abs(), (s - i0 as f32).abs()])
}

/// Whether axis `d` keeps its size and scale 1: linear resizing reads it unblended.
#[inline]
fn kept(r: &Resize<'_>, d: usize) -> bool {
    r.dims[d] == r.x_dims[d] && r.scales[d] == 1.0
}

/// The input index nearest resizing reads for output index `x` (an axis of scale 1 as
/// it is, as ONNX Runtime does).
#[inline]
fn nearest(r: &Resize<'_>, d: usize, x: usize) -> usize {
    let len = r.x_dims[d];
    if r.scales[d] == 1.0 {
        return x.min(len - 1);
    }
    let s = resize_source(r.coord, x, r.scales[d], len, r.dims[d]);
    let half = floor(s) + 0.5 == s;
    let v = match r.interp {
        Interp::Floor => floor(s),
        Interp::Ceil => ceil(s),
        Interp::RoundPreferFloor if half => floor(s),
        Interp::RoundPreferCeil if half => ceil(s),
        // Half away from zero, as `f32::round`.
        _ => {
            if s >= 0.0 {
                floor(s + 0.5)
            } else {
                ceil(s - 0.5)
            }
        }
    };
    (v.max(0.0) as usize).min(len - 1)
}

pub fn resize(b: Bufs<'_>, r: &Resize<'_>, part: Part) {
    let rank = r.dims.len();
    assert!(r.x_dims.len() == rank && r.scales.len() == rank && rank <= 16, "resize ranks differ or exceed 16");
    let (x, y) = (b.read(&r.x, r.x_dims), b.write(&r.y, r.dims));
    let total: usize = r.dims.iter().product();
    for e in part.range(total, r.dims.last().copied().unwrap_or(1)) {
        // The multi-index of element `e`, last axis fastest.
        let mut q = e;
        let mut idx = [0usize; 16];
        let mut oy = 0isize;
        for d in (0..rank).rev() {
            idx[d] = q % r.dims[d];
            q /= r.dims[d];
            oy += idx[d] as isize * r.y.strides[d];
        }
        // SAFETY: every index read is clamped into `x_dims` (`nearest`, `linear_taps`), and
        // `oy` is an element of `y`; both views were checked; this part writes only its
        // elements.
        unsafe {
            *y.offset(oy) = if r.interp == Interp::Linear {
                // Axes kept as they are read one index; the others blend two.
                let (mut base, mut axes, mut taps) = (0isize, [0usize; 16], [([0usize; 2], [0f32; 2]); 16]);
                let mut resized = 0;
                for d in 0..rank {
                    if kept(r, d) {
                        base += idx[d] as isize * r.x.strides[d];
                    } else {
                        axes[resized] = d;
                        taps[resized] = linear_taps(r, d, idx[d]);
                        resized += 1;
                    }
                }
                let mut sum = 0f32;
                for corner in 0..1usize << resized {
                    let (mut o, mut w) = (base, 1f32);
                    for k in 0..resized {
                        let (i, wt) = taps[k];
                        let bit = (corner >> k) & 1;
                        o += i[bit] as isize * r.x.strides[axes[k]];
                        w *= wt[bit];
                    }
                    sum += w * *x.offset(o);
                }
                sum
            } else {
                *x.offset((0..rank).map(|d| nearest(r, d, idx[d]) as isize * r.x.strides[d]).sum::<isize>())
            };
        }
    }
}

/// Average or max pooling of `n x c` maps of `h x w` to `oh x ow`: window `(oy, ox)` reads
/// rows `oy * sh - pads[0] + ky * dh` (`ky < kh`; columns alike) that are inside the input;
/// an average divides by the taps inside the input, or inside the padded input when
/// `count_include_pad`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub max: bool,
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub dh: usize,
    pub dw: usize,
    /// Top, left, bottom, right.
    pub pads: [usize; 4],
    pub count_include_pad: bool,
}

/// A [`Window`] over `x` into `y` (strides over N, C, H, W).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool<'a> {
    pub window: Window,
    pub x: Nd<'a>,
    pub y: Nd<'a>,
}

pub fn pool(b: Bufs<'_>, pool: &Pool<'_>, part: Part) {
    let p = &pool.window;
    let (x, y) = (b.read(&pool.x, &[p.n, p.c, p.h, p.w]), b.write(&pool.y, &[p.n, p.c, p.oh, p.ow]));
    let [sn, sc, sh, sw] = [pool.x.strides[0], pool.x.strides[1], pool.x.strides[2], pool.x.strides[3]];
    let [tn, tc, th, tw] = [pool.y.strides[0], pool.y.strides[1], pool.y.strides[2], pool.y.strides[3]];
    // A tap's position, whether it is inside the input, and inside the padded input.
    let tap = |o: usize, k: usize, s: usize, d: usize, lo: usize, hi: usize, len: usize| {
        let i = (o * s + k * d) as isize - lo as isize;
        (i, (0..len as isize).contains(&i), (-(lo as isize)..(len + hi) as isize).contains(&i))
    };
    for row in part.range(p.n * p.c * p.oh, 1) {
        let (nc, oy) = (row / p.oh, row % p.oh);
        let (ni, ci) = ((nc / p.c) as isize, (nc % p.c) as isize);
        for ox in 0..p.ow {
            let (mut sum, mut most, mut inside, mut padded) = (0f32, f32::MIN, 0usize, 0usize);
            for ky in 0..p.kh {
                let (iy, in_y, pad_y) = tap(oy, ky, p.sh, p.dh, p.pads[0], p.pads[2], p.h);
                for kx in 0..p.kw {
                    let (ix, in_x, pad_x) = tap(ox, kx, p.sw, p.dw, p.pads[1], p.pads[3], p.w);
                    padded += (pad_y && pad_x) as usize;
                    if in_y && in_x {
                        // SAFETY: the tap is inside the input, a checked view.
                        let v = unsafe { *x.offset(ni * sn + ci * sc + iy * sh + ix * sw) };
                        sum += v;
                        most = most.max(v);
                        inside += 1;
                    }
                }
            }
            let count = if p.count_include_pad { padded } else { inside };
            let v = if p.max { most } else { sum / count.max(1) as f32 };
            // SAFETY: an element of `y`, a checked view; this part writes only its rows.
            unsafe { *y.offset(ni * tn + ci * tc + oy as isize * th + ox as isize * tw) = v };
        }
    }
}

/// Mean or max over the `inner` axes of `x` for every index of the `dims` axes:
/// `y[i] = reduce_j x[i, j]` (`x` strides over `dims` then `inner`, `y` over `dims`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reduce<'a> {
    pub max: bool,
    pub dims: &'a [usize],
    pub inner: &'a [usize],
    pub x: Nd<'a>,
    pub y: Nd<'a>,
}

pub fn reduce(b: Bufs<'_>, r: &Reduce<'_>, part: Part) {
    let (no, ni) = (r.dims.len(), r.inner.len());
    assert!(no <= 16 && ni <= 16 && r.x.strides.len() == no + ni, "reduction axes exceed 16 or strides do not match");
    let mut all = [0usize; 32];
    all[..no].copy_from_slice(r.dims);
    all[no..no + ni].copy_from_slice(r.inner);
    let x = b.read(&r.x, &all[..no + ni]);
    let y = b.write(&r.y, r.dims);
    let (outer, inner) = r.x.strides.split_at(no);
    let count: usize = r.inner.iter().product();
    let (rows_in, width) = rows(r.inner);
    let step = last(inner);
    let total: usize = r.dims.iter().product();
    for e in part.range(total, 1) {
        let [ox, oy] = row_offsets_all(r.dims, [outer, r.y.strides], e);
        let (mut sum, mut most) = (0f32, f32::NEG_INFINITY);
        for ir in 0..rows_in {
            let [oi] = row_offsets(r.inner, [inner], ir);
            for j in 0..width as isize {
                // SAFETY: an element of `x` over `dims` and `inner`, a checked view.
                let v = unsafe { *x.offset(ox + oi + j * step) };
                sum += v;
                most = most.max(v);
            }
        }
        // SAFETY: an element of `y`, a checked view; this part writes only its elements.
        unsafe { *y.offset(oy) = if r.max { most } else { sum / count.max(1) as f32 } };
    }
}

/// Offsets of element `e` (a flat index over every axis) in each of `strides`.
#[inline]
fn row_offsets_all<const K: usize>(dims: &[usize], strides: [&[isize]; K], e: usize) -> [isize; K] {
    let mut offs = [0isize; K];
    let mut q = e;
    for d in (0..dims.len()).rev() {
        let i = (q % dims[d]) as isize;
        q /= dims[d];
        for k in 0..K {
            offs[k] += i * strides[k][d];
        }
    }
    offs
}

/// Matrix products over `batch` axes: `y[b] = alpha * a[b] x b[b] + beta * c[b]`, `a` of
/// `m x k`, `b` of `k x n` (strides over the batch axes, then the two matrix axes; a
/// transposed operand is one with swapped strides).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatMul<'a> {
    pub batch: &'a [usize],
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub alpha: f32,
    pub beta: f32,
    pub a: Nd<'a>,
    pub b: Nd<'a>,
    pub c: Option<Nd<'a>>,
    pub y: Nd<'a>,
}

/// `dims` followed by two more.
fn with2<'d>(buf: &'d mut [usize; 18], dims: &[usize], a: usize, b: usize) -> &'d [usize] {
    assert!(dims.len() <= 16, "more than 16 batch axes");
    buf[..dims.len()].copy_from_slice(dims);
    buf[dims.len()] = a;
    buf[dims.len() + 1] = b;
    &buf[..dims.len() + 2]
}

pub fn matmul(bufs: Bufs<'_>, g: &MatMul<'_>, part: Part) {
    let mut da = [0; 18];
    let mut db = [0; 18];
    let mut dy = [0; 18];
    let (a, b) = (bufs.read(&g.a, with2(&mut da, g.batch, g.m, g.k)), bufs.read(&g.b, with2(&mut db, g.batch, g.k, g.n)));
    let dims_y = with2(&mut dy, g.batch, g.m, g.n);
    let y = bufs.write(&g.y, dims_y);
    let c = g.c.map(|c| bufs.read(&c, dims_y));
    let nb = g.batch.len();
    let [am, ak] = [g.a.strides[nb], g.a.strides[nb + 1]];
    let [bk, bn] = [g.b.strides[nb], g.b.strides[nb + 1]];
    let [ym, yn] = [g.y.strides[nb], g.y.strides[nb + 1]];
    let batches: usize = g.batch.iter().product();
    for row in part.range(batches * g.m, 1) {
        let (bi, i) = (row / g.m, (row % g.m) as isize);
        let [oa, ob, oy] = row_offsets_all(g.batch, [g.a.strides, g.b.strides, g.y.strides], bi);
        let oc = g.c.map(|c| row_offsets_all(g.batch, [c.strides], bi)[0] + i * c.strides[nb]);
        for j in 0..g.n as isize {
            // SAFETY: `i < m`, `j < n`, `p < k` and the batch index is inside `batch`: every
            // offset is of an element of a checked view; this part writes only its rows.
            unsafe {
                let mut s = 0f32;
                for p in 0..g.k as isize {
                    s += *a.offset(oa + i * am + p * ak) * *b.offset(ob + p * bk + j * bn);
                }
                let mut v = g.alpha * s;
                if let (Some(c), Some(cv), Some(oc)) = (c, g.c, oc) {
                    v += g.beta * *c.offset(oc + j * cv.strides[nb + 1]);
                }
                *y.offset(oy + i * ym + j * yn) = v;
            }
        }
    }
}

/// The sizes of a 2-D convolution of any grouping and dilation: `n` images of `c x h x w`
/// to `m x oh x ow` through `kh x kw` filters, strides `sh, sw`, dilations `dh, dw`, padding
/// `pt, pl` above and left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub m: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub groups: usize,
    pub sh: usize,
    pub sw: usize,
    pub dh: usize,
    pub dw: usize,
    pub pt: usize,
    pub pl: usize,
}

/// `y = act(conv(x * s, w) + bias) + r` with its weights anywhere (`x` strides over N, C,
/// H, W; `weights` over M, C/groups, kh, kw; `scale` over N, C; `bias` over M; `residual`
/// and `y` over N, M, OH, OW).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv<'a> {
    pub shape: ConvShape,
    pub act: Act,
    pub x: Nd<'a>,
    pub weights: Nd<'a>,
    pub bias: Option<Nd<'a>>,
    pub scale: Option<Nd<'a>>,
    pub residual: Option<Nd<'a>>,
    pub y: Nd<'a>,
}

pub fn conv(b: Bufs<'_>, conv: &Conv<'_>, part: Part) {
    let cv = &conv.shape;
    assert!(cv.groups > 0 && cv.c.is_multiple_of(cv.groups) && cv.m.is_multiple_of(cv.groups), "groups must divide the channels");
    let cg = cv.c / cv.groups;
    let mg = cv.m / cv.groups;
    let x = b.read(&conv.x, &[cv.n, cv.c, cv.h, cv.w]);
    let w = b.read(&conv.weights, &[cv.m, cg, cv.kh, cv.kw]);
    let bias = conv.bias.map(|v| b.read(&v, &[cv.m]));
    let scale = conv.scale.map(|v| b.read(&v, &[cv.n, cv.c]));
    let out = [cv.n, cv.m, cv.oh, cv.ow];
    let res = conv.residual.map(|v| b.read(&v, &out));
    let y = b.write(&conv.y, &out);
    let xs = conv.x.strides;
    let ws = conv.weights.strides;
    for row in part.range(cv.n * cv.m * cv.oh, 1) {
        let oy = row % cv.oh;
        let nm = row / cv.oh;
        let (ni, o) = (nm / cv.m, nm % cv.m);
        let g = o / mg;
        for ox in 0..cv.ow {
            let mut s = 0f32;
            for i in 0..cg {
                let ci = g * cg + i;
                let sc = match (scale, conv.scale) {
                    // SAFETY: `ni < n` and `ci < c`: an element of the checked scale view.
                    (Some(p), Some(v)) => unsafe { *p.offset(ni as isize * v.strides[0] + ci as isize * v.strides[1]) },
                    _ => 1.0,
                };
                for ky in 0..cv.kh {
                    let iy = (oy * cv.sh + ky * cv.dh) as isize - cv.pt as isize;
                    if !(0..cv.h as isize).contains(&iy) {
                        continue;
                    }
                    for kx in 0..cv.kw {
                        let ix = (ox * cv.sw + kx * cv.dw) as isize - cv.pl as isize;
                        if !(0..cv.w as isize).contains(&ix) {
                            continue;
                        }
                        // SAFETY: the tap is inside the input and the weight index inside
                        // `m x c/groups x kh x kw`: elements of checked views.
                        let (xv, wv) = unsafe {
                            (
                                *x.offset(ni as isize * xs[0] + ci as isize * xs[1] + iy * xs[2] + ix * xs[3]),
                                *w.offset(o as isize * ws[0] + i as isize * ws[1] + ky as isize * ws[2] + kx as isize * ws[3]),
                            )
                        };
                        s += xv * sc * wv;
                    }
                }
            }
            if let (Some(p), Some(v)) = (bias, conv.bias) {
                // SAFETY: `o < m`: an element of the checked bias view.
                s += unsafe { *p.offset(o as isize * v.strides[0]) };
            }
            let mut v = conv.act.apply(s);
            let at = |st: &[isize]| ni as isize * st[0] + o as isize * st[1] + oy as isize * st[2] + ox as isize * st[3];
            if let (Some(p), Some(r)) = (res, conv.residual) {
                // SAFETY: an element of the checked residual view.
                v += unsafe { *p.offset(at(r.strides)) };
            }
            // SAFETY: an element of `y`, a checked view; this part writes only its rows.
            unsafe { *y.offset(at(conv.y.strides)) = v };
        }
    }
}
