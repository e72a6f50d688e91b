//! The layout changes at the network's edges (the NCHW input into the arena as NHWC, the
//! outputs back) and the binary operations of the general kernels ([`super::nd`]).

use super::isa::{extent, Arena};

/// A binary operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
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
