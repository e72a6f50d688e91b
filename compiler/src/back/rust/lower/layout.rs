//! Where each tensor's elements are: the layout description the general kernels read
//! every tensor through, whatever its rank, and the choice of running the steps once per
//! image or once for the whole batch.
//!
//! A tensor's *program dims* are its shape as the steps see it: with the batch as its
//! first axis replaced by 1 when the steps run once per image ([`Mode::PerImage`]), its
//! whole shape when they run once for the batch ([`Mode::Whole`]). In the arena, a rank-4
//! tensor is NHWC (channels fastest, each image a block), every other rank row-major; both
//! are one dense buffer. The fused kernels read rank-4 and rank-2 tensors as they always
//! did; the general kernels read any tensor through its strides ([`Layouts::strides`]).

use crate::ir::{numel, Graph, Node, Op, ResizeMode, TensorId};

/// How often the steps run per forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// Once per image, on one image's buffers: every activation has the batch as its first
    /// axis and no op mixes images (every network with batch 1, GhostNet at any batch).
    PerImage,
    /// Once, on the whole batch: some op mixes images or drops the batch axis.
    Whole,
}

pub(super) struct Layouts {
    pub mode: Mode,
    /// By tensor index.
    dims: Vec<Vec<usize>>,
}

impl Layouts {
    pub fn new(g: &Graph) -> Self {
        let mode = if per_image(g) { Mode::PerImage } else { Mode::Whole };
        let dims = g
            .tensors
            .iter()
            .map(|t| match (mode, t.is_const()) {
                (Mode::PerImage, false) if !t.shape.is_empty() => {
                    let mut d = t.shape.clone();
                    d[0] = 1;
                    d
                }
                _ => t.shape.clone(),
            })
            .collect();
        Layouts { mode, dims }
    }

    /// The program dims of `t`.
    pub fn dims(&self, t: TensorId) -> &[usize] {
        &self.dims[t.index()]
    }

    /// Elements of `t`'s buffer.
    pub fn size(&self, t: TensorId) -> usize {
        numel(self.dims(t))
    }

    /// Images (first-axis entries) in `t`'s buffer: 1 per image, the batch for the whole.
    pub fn images(&self, t: TensorId) -> usize {
        self.dims(t).first().copied().unwrap_or(1)
    }

    /// Elements of one image of `t` (its first axis dropped).
    pub fn image_len(&self, t: TensorId) -> usize {
        numel(self.dims(t).get(1..).unwrap_or(&[]))
    }

    /// The strides of `t` in the arena: NHWC for rank 4, row-major otherwise.
    pub fn strides(&self, t: TensorId) -> Vec<isize> {
        arena_strides(self.dims(t))
    }
}

/// Strides of a dense buffer of `dims`: NHWC for rank 4, row-major otherwise.
pub(super) fn arena_strides(dims: &[usize]) -> Vec<isize> {
    if let &[_, c, h, w] = dims {
        let (c, h, w) = (c as isize, h as isize, w as isize);
        return vec![c * h * w, 1, w * c, c];
    }
    row_major(dims)
}

/// Row-major strides of `dims`.
pub(super) fn row_major(dims: &[usize]) -> Vec<isize> {
    let mut s = vec![1isize; dims.len()];
    for d in (0..dims.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * dims[d + 1] as isize;
    }
    s
}

/// Whether a dense buffer of `dims` holds its elements in row-major order (axes of length
/// 1 do not matter): then a reshape is the same buffer.
pub(super) fn is_row_major(dims: &[usize]) -> bool {
    let s = arena_strides(dims);
    let r = row_major(dims);
    dims.iter().zip(s.iter().zip(&r)).all(|(&d, (a, b))| d == 1 || a == b)
}

/// `strides` (of a tensor of `from` dims) as the strides of its broadcast to `to` (NumPy
/// rules: axes aligned at the end, missing and length-1 axes read with stride 0).
pub(super) fn broadcast(from: &[usize], strides: &[isize], to: &[usize]) -> Vec<isize> {
    let skip = to.len() - from.len();
    (0..to.len())
        .map(|d| match d.checked_sub(skip) {
            Some(k) if from[k] != 1 || to[d] == 1 => strides[k],
            _ => 0,
        })
        .collect()
}

/// Drops axes of length 1 and merges neighbouring axes that every view walks as one
/// (`s[d] == s[d + 1] * dims[d + 1]` in all), so that the kernels' inner loop is as long as
/// possible. Returns the new dims; `views` are rewritten in place.
pub(super) fn coalesce(dims: &[usize], views: &mut [&mut Vec<isize>]) -> Vec<usize> {
    let mut out_dims: Vec<usize> = Vec::new();
    let mut out: Vec<Vec<isize>> = vec![Vec::new(); views.len()];
    for (d, &n) in dims.iter().enumerate() {
        if n == 1 {
            continue;
        }
        let mergeable = out_dims.last().is_some() && views.iter().zip(&out).all(|(v, o)| *o.last().unwrap() == v[d] * n as isize);
        if mergeable {
            let last = out_dims.len() - 1;
            out_dims[last] *= n;
            for (v, o) in views.iter().zip(&mut out) {
                *o.last_mut().unwrap() = v[d];
            }
        } else {
            out_dims.push(n);
            for (v, o) in views.iter().zip(&mut out) {
                o.push(v[d]);
            }
        }
    }
    for (v, o) in views.iter_mut().zip(out) {
        **v = o;
    }
    out_dims
}

/// Whether the steps can run once per image (see [`Mode::PerImage`]).
fn per_image(g: &Graph) -> bool {
    let Some(&n) = g.inputs.first().and_then(|&i| g.shape(i).first()) else { return false };
    let batch_first = |t: TensorId| g.shape(t).first() == Some(&n);
    for node in &g.nodes {
        if node.inputs.iter().chain([&node.output]).any(|&t| !g.tensor(t).is_const() && !batch_first(t)) {
            return false;
        }
    }
    // Outputs that are constants are the same for every image only in a batch of one.
    if g.outputs.iter().any(|&o| !batch_first(o) || (g.tensor(o).is_const() && n != 1)) {
        return false;
    }
    n == 1 || g.nodes.iter().all(|node| keeps_images_apart(g, node, n))
}

/// Whether image `i` of `node`'s output depends on image `i` of its activation inputs
/// alone, and on constants that are the same for every image (`n > 1`; every activation
/// has the batch first, checked before).
fn keeps_images_apart(g: &Graph, node: &Node, n: usize) -> bool {
    let is_const = |t: TensorId| g.tensor(t).is_const();
    let out_rank = g.shape(node.output).len();
    // A constant read elementwise: it must broadcast over the batch axis.
    let shared = |t: TensorId| {
        let s = g.shape(t);
        s.len() < out_rank || s.first() == Some(&1)
    };
    let weights_only = |extra: &[usize]| extra.iter().all(|&i| !is_const(node.inputs[i]));
    match &node.op {
        Op::Conv(c) => weights_only(&[c.residual_input(), c.scale_input()].into_iter().flatten().collect::<Vec<_>>()),
        Op::Ghost { .. } => weights_only(&(5..node.inputs.len()).collect::<Vec<_>>()),
        Op::SqueezeExcite { .. } | Op::BatchNorm { .. } => true,
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            node.inputs.iter().all(|&t| if is_const(t) { shared(t) } else { g.shape(t).len() == out_rank })
        }
        Op::Activation(_) | Op::Identity | Op::Reshape { .. } | Op::FakeQuant(_) => true,
        Op::GlobalAveragePool | Op::GlobalMaxPool | Op::AveragePool(_) | Op::MaxPool(_) => true,
        Op::Concat { axis } => *axis != 0 && node.inputs.iter().all(|&t| !is_const(t)),
        Op::Slice { axes } => axes.iter().all(|a| a.axis != 0 || a.is_whole(n)),
        Op::Transpose { perm } => perm.first() == Some(&0),
        Op::Pad { pads, .. } => pads.first() == Some(&[0, 0]),
        Op::Resize(r) => {
            let x = g.shape(node.inputs[0]);
            r.sizes[0] == n
                && match r.mode {
                    ResizeMode::Linear => r.scales[0] == 1.0,
                    ResizeMode::Nearest(_) => (0..n).all(|i| r.nearest_index(0, i, x[0]) == i),
                }
        }
        Op::ReduceMean { axes, .. } => !axes.contains(&0),
        Op::Gemm { trans_a, .. } => {
            !trans_a && is_const(node.inputs[1]) && node.inputs.get(2).is_none_or(|&c| !is_const(c) || shared(c))
        }
        Op::MatMul => {
            let (a, b) = (node.inputs[0], node.inputs[1]);
            let (ra, rb) = (g.shape(a).len(), g.shape(b).len());
            let a_ok = !is_const(a) && ra >= 2;
            match (is_const(b), rb) {
                // A matrix (or vector) of weights: each image's rows times the same matrix.
                (true, 1 | 2) => a_ok,
                (true, _) => a_ok && (rb < ra || g.shape(b)[0] == 1),
                (false, 1 | 2) => false,
                (false, _) => (a_ok && ra == rb) || (is_const(a) && (ra < rb || g.shape(a)[0] == 1)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhwc_for_rank_four_row_major_otherwise() {
        assert_eq!(arena_strides(&[2, 3, 4, 5]), [60, 1, 15, 3]);
        assert_eq!(arena_strides(&[2, 3, 4]), [12, 4, 1]);
        assert!(is_row_major(&[1, 8, 1, 1]) && is_row_major(&[1, 1, 4, 4]) && is_row_major(&[3, 7]));
        assert!(!is_row_major(&[1, 2, 2, 2]));
    }

    #[test]
    fn broadcast_reads_missing_and_unit_axes_with_stride_zero() {
        assert_eq!(broadcast(&[3, 1], &[1, 1], &[2, 3, 4]), [0, 1, 0]);
        assert_eq!(broadcast(&[], &[], &[2, 3]), [0, 0]);
        assert_eq!(broadcast(&[1, 1], &[1, 1], &[1, 1]), [1, 1]);
    }

    #[test]
    fn coalesce_merges_what_every_view_walks_as_one() {
        // A contiguous copy of 2x3x4 is one run of 24.
        let (mut a, mut b) = (row_major(&[2, 3, 4]), row_major(&[2, 3, 4]));
        assert_eq!(coalesce(&[2, 3, 4], &mut [&mut a, &mut b]), [24]);
        assert_eq!((a, b), (vec![1], vec![1]));
        // A transpose of the last two axes keeps them apart.
        let (mut a, mut b) = (vec![12, 1, 4], row_major(&[2, 4, 3]));
        assert_eq!(coalesce(&[2, 4, 3], &mut [&mut a, &mut b]), [2, 4, 3]);
        // Unit axes go.
        let (mut a, mut b) = (vec![5, 1, 1], vec![0, 0, 1]);
        assert_eq!(coalesce(&[1, 1, 5], &mut [&mut a, &mut b]), [5]);
        assert_eq!((a, b), (vec![1], vec![1]));
    }
}
