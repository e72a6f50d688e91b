//! Element-wise operations and layout changes that the fusion passes could not fold into
//! a kernel's epilogue. Plain loops: none of them is on GhostNet's hot path.

use super::isa::{extent, Act, Arena, Part};

/// A strided matrix read in the arena: element `(i, j)` at `off + i * rs + j * cs`.
/// A zero stride broadcasts along that axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mat {
    pub off: usize,
    pub rs: usize,
    pub cs: usize,
}

impl Mat {
    fn extent(&self, rows: usize, cols: usize) -> usize {
        if rows == 0 || cols == 0 { 0 } else { (rows - 1) * self.rs + (cols - 1) * self.cs + 1 }
    }
}

/// A binary operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// `y[i][j] = act(a[i][j] op b[i][j])` for `i < rows`, `j < cols`; part `part` does a range
/// of rows. `y` may be `a` itself.
#[allow(clippy::too_many_arguments)]
pub fn binary(arena: Arena<'_>, op: BinOp, a: Mat, b: Mat, y: Mat, rows: usize, cols: usize, act: Act, part: Part) {
    let pa = arena.at(a.off, a.extent(rows, cols));
    let pb = arena.at(b.off, b.extent(rows, cols));
    let py = arena.at(y.off, y.extent(rows, cols));
    // SAFETY: all three ranges were checked; this part writes only its rows.
    unsafe {
        for i in part.range(rows, 1) {
            for j in 0..cols {
                let (x, z) = (*pa.add(i * a.rs + j * a.cs), *pb.add(i * b.rs + j * b.cs));
                let v = match op {
                    BinOp::Add => x + z,
                    BinOp::Sub => x - z,
                    BinOp::Mul => x * z,
                    BinOp::Div => x / z,
                };
                *py.add(i * y.rs + j * y.cs) = act.apply(v);
            }
        }
    }
}

/// `y[i][j] = act(x[i][j])`; also a strided copy (with `Act::None`), which is how channel
/// concatenation and slicing are done when they could not be fused away.
pub fn unary(arena: Arena<'_>, x: Mat, y: Mat, rows: usize, cols: usize, act: Act, part: Part) {
    let px = arena.at(x.off, x.extent(rows, cols));
    let py = arena.at(y.off, y.extent(rows, cols));
    // SAFETY: both ranges were checked; this part writes only its rows.
    unsafe {
        for i in part.range(rows, 1) {
            for j in 0..cols {
                *py.add(i * y.rs + j * y.cs) = act.apply(*px.add(i * x.rs + j * x.cs));
            }
        }
    }
}

/// Copies `n` values from the caller's `src[src_off..]` into the arena at `dst`, placing
/// value `c * hw + p` (NCHW order, `c < channels`) at `dst + p * ld + c` (NHWC).
pub fn nchw_to_nhwc(src: &[f32], src_off: usize, arena: Arena<'_>, dst: usize, ld: usize, channels: usize, hw: usize) {
    let s = &src[src_off..src_off + channels * hw];
    let d = arena.at(dst, extent(hw, ld, channels));
    for c in 0..channels {
        for p in 0..hw {
            // SAFETY: `p * ld + c < extent(hw, ld, channels)`, checked above.
            unsafe { *d.add(p * ld + c) = s[c * hw + p] };
        }
    }
}

/// The inverse of [`nchw_to_nhwc`]: arena NHWC at `src` to the caller's NCHW `dst`.
pub fn nhwc_to_nchw(arena: Arena<'_>, src: usize, ld: usize, channels: usize, hw: usize, dst: &mut [f32]) {
    let s = arena.at(src, extent(hw, ld, channels));
    let d = &mut dst[..channels * hw];
    for c in 0..channels {
        for p in 0..hw {
            // SAFETY: `p * ld + c < extent(hw, ld, channels)`, checked above.
            d[c * hw + p] = unsafe { *s.add(p * ld + c) };
        }
    }
}
