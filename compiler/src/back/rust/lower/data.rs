//! Ops that move data: reshapes (the same buffer when the element order allows it, a
//! copy otherwise), transposes, slices (any step), concatenation along any axis, padding
//! and resizing; all on the general kernels, which read and write any layout.

use ghostnet_runtime as rt;
use rt::isa::Src;
use rt::nd;

use super::emit::{shifted, Emit};
use super::layout::{is_row_major, row_major, Layouts};
use super::{How, Kind, Operand};
use crate::ir::{CoordMode, Graph, NearestMode, Node, Op, PadMode, ResizeMode};

pub(super) fn classify(graph: &Graph, layouts: &Layouts, n: &Node) -> How {
    let x = n.inputs[0];
    let in_arena = !graph.tensor(x).is_const() && !graph.inputs.contains(&x);
    match &n.op {
        Op::Identity if in_arena => How::Alias,
        Op::Reshape { .. } if in_arena && is_row_major(layouts.dims(x)) && is_row_major(layouts.dims(n.output)) => How::Alias,
        _ => How::General,
    }
}

/// Scratch a general data op needs: a reshape between two layouts that are not row-major
/// goes through a row-major copy.
pub(super) fn scratch(graph: &Graph, layouts: &Layouts, n: &Node) -> Vec<usize> {
    let x = n.inputs[0];
    let in_arena = !graph.tensor(x).is_const() && !graph.inputs.contains(&x);
    match n.op {
        Op::Reshape { .. } if in_arena && !is_row_major(layouts.dims(x)) && !is_row_major(layouts.dims(n.output)) => {
            vec![layouts.size(n.output)]
        }
        _ => vec![],
    }
}

pub(super) fn emit(e: &mut Emit<'_>, i: usize, n: &Node, how: How) {
    if how == How::Alias {
        return;
    }
    let (x, y) = (n.inputs[0], n.output);
    let (xd, yd) = (e.dims(x), e.dims(y));
    let (xv, yv) = (e.view(x), e.view(y));
    let name = n.name.as_str();
    match &n.op {
        Op::Identity => e.copy(name, &yd, xv, yv),
        Op::Reshape { .. } => {
            // Through the row-major order of the elements: a row-major side is read (or
            // written) as if it had the other side's shape.
            // The input and constants are read row-major.
            if !matches!(xv.src, Src::Arena(_)) || is_row_major(&xd) {
                e.copy(name, &yd, Operand { src: xv.src, strides: row_major(&yd) }, yv);
            } else if is_row_major(&yd) {
                e.copy(name, &xd, xv, Operand { src: yv.src, strides: row_major(&xd) });
            } else {
                let temp = Src::Arena(e.plan.scratch[&i][0]);
                e.copy(name, &xd, xv, Operand { src: temp, strides: row_major(&xd) });
                e.copy(name, &yd, Operand { src: temp, strides: row_major(&yd) }, yv);
            }
        }
        Op::Transpose { perm } => {
            let strides = perm.iter().map(|&p| xv.strides[p]).collect();
            e.copy(name, &yd, Operand { src: xv.src, strides }, yv);
        }
        Op::Slice { axes } => {
            let mut strides = xv.strides.clone();
            let mut delta = 0usize;
            for a in axes {
                delta += a.start * xv.strides[a.axis] as usize;
                strides[a.axis] *= a.step;
            }
            e.copy(name, &yd, Operand { src: shifted(xv.src, delta), strides }, yv);
        }
        Op::Concat { axis } => {
            let mut at = 0usize;
            for &t in &n.inputs {
                let (tv, td) = (e.view(t), e.dims(t));
                let part = Operand { src: shifted(yv.src, at * yv.strides[*axis] as usize), strides: yv.strides.clone() };
                e.copy(name, &td, tv, part);
                at += td[*axis];
            }
        }
        Op::Pad { pads, mode } => {
            let mode = match *mode {
                PadMode::Constant(v) => nd::PadMode::Constant(v),
                PadMode::Reflect => nd::PadMode::Reflect,
                PadMode::Edge => nd::PadMode::Edge,
                PadMode::Wrap => nd::PadMode::Wrap,
            };
            let before = pads.iter().map(|p| p[0]).collect();
            e.push(name, Kind::Pad { dims: yd, x_dims: xd, before, mode, x: xv, y: yv });
        }
        Op::Resize(r) => {
            let interp = match r.mode {
                ResizeMode::Linear => nd::Interp::Linear,
                ResizeMode::Nearest(NearestMode::RoundPreferFloor) => nd::Interp::RoundPreferFloor,
                ResizeMode::Nearest(NearestMode::RoundPreferCeil) => nd::Interp::RoundPreferCeil,
                ResizeMode::Nearest(NearestMode::Floor) => nd::Interp::Floor,
                ResizeMode::Nearest(NearestMode::Ceil) => nd::Interp::Ceil,
            };
            let coord = match r.coord {
                CoordMode::HalfPixel => nd::Coord::HalfPixel,
                CoordMode::HalfPixelSymmetric => nd::Coord::HalfPixelSymmetric,
                CoordMode::PytorchHalfPixel => nd::Coord::PytorchHalfPixel,
                CoordMode::AlignCorners => nd::Coord::AlignCorners,
                CoordMode::Asymmetric => nd::Coord::Asymmetric,
                CoordMode::TfHalfPixelForNn => nd::Coord::TfHalfPixelForNn,
            };
            e.push(name, Kind::Resize { dims: yd, x_dims: xd, scales: r.scales.clone(), interp, coord, x: xv, y: yv });
        }
        op => unreachable!("{} is not a data op", op.name()),
    }
}
