//! Compile-time evaluation of ONNX nodes whose inputs are all known: the shape arithmetic
//! (Shape, Gather, Cast, Unsqueeze, Concat, ...) that exporters put in front of Reshape and
//! Resize, and constant expressions over weights.

use super::attr::NodeView;
use super::tensor::{dtype, HostData, HostTensor};
use crate::ir::{broadcast, checked_numel, for_each_index, numel, strides, Shape, ShapeDisplay};
use crate::Limits;

/// Ops this module evaluates when every input is a constant.
pub const FOLDABLE: &[&str] = &[
    "Identity", "Cast", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Add", "Sub", "Mul", "Div", "Reshape",
    "Flatten", "ConstantOfShape", "Range", "Neg", "Sqrt", "Dropout",
];

/// The element count of a result of `shape`, refused before anything is allocated when it
/// overflows or is over `--max-tensor-elements`.
pub fn check_size(shape: &[usize], limits: &Limits) -> Result<usize, String> {
    match checked_numel(shape) {
        Some(n) if n as u64 <= limits.max_tensor_elements => Ok(n),
        Some(n) => Err(format!(
            "the result has shape {} ({n} elements), over the limit of {} elements (raise it with --max-tensor-elements)",
            ShapeDisplay(shape),
            limits.max_tensor_elements
        )),
        None => Err(format!("the result has shape {shape:?}, whose size overflows")),
    }
}

/// Evaluates `node` on constant `inputs` (absent optional inputs are `None`). Results over
/// the tensor-size limit are refused before they are allocated.
pub fn eval(node: &NodeView<'_>, inputs: &[Option<&HostTensor>], opset: i64, limits: &Limits) -> Result<HostTensor, String> {
    let input = |i: usize| -> Result<&HostTensor, String> {
        inputs.get(i).copied().flatten().ok_or_else(|| format!("input {i} is missing"))
    };
    let ints = |i: usize| -> Result<Option<Vec<i64>>, String> {
        inputs.get(i).copied().flatten().map(|t| t.as_i64s()).transpose()
    };
    match node.op_type() {
        "Identity" | "Dropout" => Ok(input(0)?.clone()),
        "Cast" => {
            let to = node.int("to", 1);
            let x = input(0)?;
            Ok(match to as i32 {
                dtype::FLOAT | dtype::DOUBLE | dtype::FLOAT16 | dtype::BFLOAT16 => HostTensor::f32(x.shape.clone(), x.as_f32s()),
                dtype::BOOL => HostTensor::i64(x.shape.clone(), x.as_f32s().iter().map(|&v| (v != 0.0) as i64).collect()),
                // Integer to integer keeps every bit (through f32 it would round above 2^24).
                _ if matches!(x.data, HostData::I64(_)) => x.clone(),
                _ => HostTensor::i64(x.shape.clone(), x.as_f32s().iter().map(|&v| v.trunc() as i64).collect()),
            })
        }
        "Gather" => {
            let (x, idx) = (input(0)?, input(1)?);
            let axis = norm_axis(node.int("axis", 0), x.shape.len())?;
            let dim = x.shape[axis] as i64;
            let indices = idx.as_i64s()?;
            let mut picks = Vec::with_capacity(indices.len());
            for &i in &indices {
                let j = if i < 0 { i + dim } else { i };
                if !(0..dim).contains(&j) {
                    return Err(format!("index {i} is out of range for axis {axis} of size {dim}"));
                }
                picks.push(j as usize);
            }
            let outer = numel(&x.shape[..axis]);
            let inner = numel(&x.shape[axis + 1..]);
            let mut shape: Shape = x.shape[..axis].to_vec();
            shape.extend(&idx.shape);
            shape.extend(&x.shape[axis + 1..]);
            check_size(&shape, limits)?;
            macro_rules! pick {
                ($v:expr) => {{
                    let mut out = Vec::with_capacity(outer * picks.len() * inner);
                    for o in 0..outer {
                        for &p in &picks {
                            out.extend_from_slice(&$v[(o * x.shape[axis] + p) * inner..][..inner]);
                        }
                    }
                    out
                }};
            }
            let data = match &x.data {
                HostData::F32(v) => HostData::F32(pick!(v)),
                HostData::I64(v) => HostData::I64(pick!(v)),
            };
            Ok(HostTensor { shape, data })
        }
        "Unsqueeze" => {
            let x = input(0)?;
            let axes = if opset >= 13 { ints(1)?.ok_or("axes input is missing")? } else { node.ints("axes").to_vec() };
            Ok(HostTensor { shape: unsqueeze_shape(&x.shape, &axes)?, data: x.data.clone() })
        }
        "Squeeze" => {
            let x = input(0)?;
            let axes = if opset >= 13 { ints(1)?.unwrap_or_default() } else { node.ints("axes").to_vec() };
            Ok(HostTensor { shape: squeeze_shape(&x.shape, &axes)?, data: x.data.clone() })
        }
        "Concat" => {
            let parts: Vec<&HostTensor> = inputs.iter().flatten().copied().collect();
            let first = parts.first().ok_or("has no inputs")?;
            let axis = norm_axis(node.int("axis", 0), first.shape.len())?;
            let shapes: Vec<&Shape> = parts.iter().map(|p| &p.shape).collect();
            let shape = crate::ir::Op::Concat { axis }.infer_shape(&shapes)?;
            check_size(&shape, limits)?;
            let outer = numel(&shape[..axis]);
            let inner = numel(&shape[axis + 1..]);
            macro_rules! cat {
                ($variant:ident) => {{
                    let mut out = Vec::with_capacity(numel(&shape));
                    for o in 0..outer {
                        for p in &parts {
                            let HostData::$variant(v) = &p.data else {
                                return Err("mixes integer and float inputs".into());
                            };
                            let chunk = p.shape[axis] * inner;
                            out.extend_from_slice(&v[o * chunk..(o + 1) * chunk]);
                        }
                    }
                    HostData::$variant(out)
                }};
            }
            let data = match first.data {
                HostData::F32(_) => cat!(F32),
                HostData::I64(_) => cat!(I64),
            };
            Ok(HostTensor { shape, data })
        }
        "Slice" => {
            let x = input(0)?;
            let (starts, ends, axes, steps) = if opset >= 10 {
                (ints(1)?.ok_or("starts input is missing")?, ints(2)?.ok_or("ends input is missing")?, ints(3)?, ints(4)?)
            } else {
                (node.ints("starts").to_vec(), node.ints("ends").to_vec(), node.try_ints("axes").map(<[i64]>::to_vec), None)
            };
            let ranges = slice_ranges(&x.shape, &starts, &ends, axes.as_deref(), steps.as_deref())?;
            let mut shape = x.shape.clone();
            for r in &ranges {
                shape[r.axis] = r.len();
            }
            let mut picks: Vec<Vec<usize>> = x.shape.iter().map(|&d| (0..d).collect()).collect();
            for r in &ranges {
                picks[r.axis] = r.indices();
            }
            macro_rules! take {
                ($v:expr) => {{
                    let st = strides(&x.shape);
                    let mut out = Vec::with_capacity(numel(&shape));
                    for_each_index(&shape, |idx| {
                        let off: usize = idx.iter().enumerate().map(|(d, &i)| picks[d][i] * st[d]).sum();
                        out.push($v[off]);
                    });
                    out
                }};
            }
            let data = match &x.data {
                HostData::F32(v) => HostData::F32(take!(v)),
                HostData::I64(v) => HostData::I64(take!(v)),
            };
            Ok(HostTensor { shape, data })
        }
        "Add" | "Sub" | "Mul" | "Div" => {
            let (a, b) = (input(0)?, input(1)?);
            let shape = broadcast(&a.shape, &b.shape)?;
            check_size(&shape, limits)?;
            let op = node.op_type();
            match (&a.data, &b.data) {
                (HostData::I64(x), HostData::I64(y)) => {
                    let f = |p: i64, q: i64| -> Result<i64, String> {
                        let r = match op {
                            "Add" => p.checked_add(q),
                            "Sub" => p.checked_sub(q),
                            "Mul" => p.checked_mul(q),
                            _ => p.checked_div(q),
                        };
                        r.ok_or_else(|| format!("integer {op} of {p} and {q} overflows or divides by zero"))
                    };
                    let v = broadcast_map(&a.shape, x, &b.shape, y, &shape, f)?;
                    Ok(HostTensor::i64(shape, v))
                }
                (HostData::F32(x), HostData::F32(y)) => {
                    let f = |p: f32, q: f32| -> Result<f32, String> {
                        Ok(match op {
                            "Add" => p + q,
                            "Sub" => p - q,
                            "Mul" => p * q,
                            _ => p / q,
                        })
                    };
                    let v = broadcast_map(&a.shape, x, &b.shape, y, &shape, f)?;
                    Ok(HostTensor::f32(shape, v))
                }
                _ => Err(format!("mixes {} and {} operands", a.type_name(), b.type_name())),
            }
        }
        "Neg" => {
            let x = input(0)?;
            Ok(match &x.data {
                HostData::F32(v) => HostTensor::f32(x.shape.clone(), v.iter().map(|v| -v).collect()),
                HostData::I64(v) => HostTensor::i64(x.shape.clone(), v.iter().map(|v| v.wrapping_neg()).collect()),
            })
        }
        "Sqrt" => {
            let x = input(0)?;
            Ok(HostTensor::f32(x.shape.clone(), x.as_f32s().iter().map(|v| v.sqrt()).collect()))
        }
        "Reshape" => {
            let x = input(0)?;
            let target = ints(1)?.ok_or("shape input is missing")?;
            let shape = reshape_target(&x.shape, &target, node.int("allowzero", 0) != 0)?;
            Ok(HostTensor { shape, data: x.data.clone() })
        }
        "Flatten" => {
            let x = input(0)?;
            Ok(HostTensor { shape: flatten_shape(&x.shape, node.int("axis", 1))?, data: x.data.clone() })
        }
        "ConstantOfShape" => {
            let dims = input(0)?.as_i64s()?;
            let shape: Shape = dims
                .iter()
                .map(|&d| usize::try_from(d).map_err(|_| format!("dimension {d} is negative")))
                .collect::<Result<_, _>>()?;
            let n = check_size(&shape, limits)?;
            Ok(match node.tensor("value") {
                Some(t) if t.data_type == dtype::INT64 || t.data_type == dtype::INT32 => {
                    let v = t.int64_data.first().copied().or(t.int32_data.first().map(|&x| x as i64)).unwrap_or_else(|| {
                        t.raw_data.get(..8).map_or(0, |b| i64::from_le_bytes(b.try_into().unwrap()))
                    });
                    HostTensor::i64(shape, vec![v; n])
                }
                Some(t) => {
                    let v = t.float_data.first().copied().unwrap_or_else(|| {
                        t.raw_data.get(..4).map_or(0.0, |b| f32::from_le_bytes(b.try_into().unwrap()))
                    });
                    HostTensor::f32(shape, vec![v; n])
                }
                None => HostTensor::f32(shape, vec![0.0; n]),
            })
        }
        "Range" => {
            let (s, l, d) = (input(0)?, input(1)?, input(2)?);
            if [s, l, d].iter().any(|t| t.len() != 1) {
                return Err("start, limit and delta must be scalars".into());
            }
            match (&s.data, &l.data, &d.data) {
                (HostData::I64(s), HostData::I64(l), HostData::I64(d)) => {
                    let (s, l, d) = (s[0] as i128, l[0] as i128, d[0] as i128);
                    if d == 0 {
                        return Err("delta is zero".into());
                    }
                    // Exact: ceil((l - s) / d) in 128-bit arithmetic, and every value stays
                    // between start and limit, so it fits in i64.
                    let span = l - s;
                    let n = if (span > 0) == (d > 0) && span != 0 { (span + d - d.signum()) / d } else { 0 };
                    let n = usize::try_from(n).map_err(|_| "asks for a huge range".to_string())?;
                    check_size(&[n], limits)?;
                    Ok(HostTensor::i64(vec![n], (0..n as i128).map(|i| (s + i * d) as i64).collect()))
                }
                _ => {
                    let (s, l, d) = (s.as_f32s()[0], l.as_f32s()[0], d.as_f32s()[0]);
                    let n = ((l - s) / d).ceil();
                    if !(n.is_finite() && d != 0.0) {
                        return Err(format!("range {s}..{l} by {d} is not finite"));
                    }
                    let n = n.max(0.0) as usize;
                    check_size(&[n], limits)?;
                    Ok(HostTensor::f32(vec![n], (0..n).map(|i| s + i as f32 * d).collect()))
                }
            }
        }
        other => Err(format!("cannot evaluate {other} at compile time")),
    }
}

/// Normalizes a possibly negative axis for a tensor of `rank`.
pub fn norm_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) { Ok(a as usize) } else { Err(format!("axis {axis} is out of range for rank {rank}")) }
}

/// ONNX Unsqueeze: inserts size-1 axes at `axes` (positions in the result).
pub fn unsqueeze_shape(shape: &[usize], axes: &[i64]) -> Result<Shape, String> {
    let rank = shape.len() + axes.len();
    let mut axes: Vec<usize> = axes.iter().map(|&a| norm_axis(a, rank)).collect::<Result<_, _>>()?;
    axes.sort_unstable();
    if axes.windows(2).any(|w| w[0] == w[1]) {
        return Err(format!("axes {axes:?} repeat an axis"));
    }
    // Distinct sorted positions below `rank`: each insertion point is within the shape.
    let mut out = shape.to_vec();
    for a in axes {
        out.insert(a, 1);
    }
    Ok(out)
}

/// One axis of an ONNX Slice after normalization: the picked indices are
/// `start, start + step, ...` while they stay on the near side of `end`.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceRange {
    pub axis: usize,
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl SliceRange {
    pub fn len(&self) -> usize {
        if self.step > 0 {
            ((self.end - self.start).max(0) as u64).div_ceil(self.step as u64) as usize
        } else {
            ((self.start - self.end).max(0) as u64).div_ceil((-self.step) as u64) as usize
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn indices(&self) -> Vec<usize> {
        (0..self.len() as i64).map(|i| (self.start + i * self.step) as usize).collect()
    }
}

/// ONNX Slice semantics: negative indices count from the end; starts and ends clamp to the
/// axis (to `[0, dim]` for positive steps, `[-1, dim - 1]` for negative ones).
pub fn slice_ranges(
    shape: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<Vec<SliceRange>, String> {
    if starts.len() != ends.len() {
        return Err(format!("has {} starts but {} ends", starts.len(), ends.len()));
    }
    let default_axes: Vec<i64> = (0..starts.len() as i64).collect();
    let axes = axes.unwrap_or(&default_axes);
    if axes.len() != starts.len() || steps.is_some_and(|s| s.len() != starts.len()) {
        return Err("starts, ends, axes and steps differ in length".into());
    }
    let mut out: Vec<SliceRange> = Vec::new();
    for i in 0..starts.len() {
        let axis = norm_axis(axes[i], shape.len())?;
        if out.iter().any(|r| r.axis == axis) {
            return Err(format!("axis {axis} is sliced twice"));
        }
        let dim = shape[axis] as i64;
        let step = steps.map_or(1, |s| s[i]);
        if step == 0 {
            return Err("a step is zero".into());
        }
        let fix = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
        let (start, end) = if step > 0 {
            (fix(starts[i]).clamp(0, dim), fix(ends[i]).clamp(0, dim))
        } else {
            (fix(starts[i]).clamp(-1, dim - 1), fix(ends[i]).clamp(-1, dim - 1))
        };
        out.push(SliceRange { axis, start, end, step });
    }
    Ok(out)
}

/// The shape ONNX Reshape produces: `0` copies the input dimension (unless `allowzero`),
/// `-1` is inferred.
pub fn reshape_target(input: &[usize], target: &[i64], allowzero: bool) -> Result<Shape, String> {
    let total = numel(input);
    let mut shape = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                shape.push(1);
            }
            0 if !allowzero => shape.push(*input.get(i).ok_or("copies a dimension the input does not have")?),
            d if d >= 0 => shape.push(d as usize),
            _ => return Err(format!("target shape {target:?} is invalid")),
        }
    }
    if let Some(i) = infer {
        let known = checked_numel(&shape).ok_or("target shape overflows")?;
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {} elements to {target:?}", total));
        }
        shape[i] = total / known;
    }
    if checked_numel(&shape) != Some(total) {
        return Err(format!("cannot reshape {} elements to {target:?}", total));
    }
    Ok(shape)
}

/// ONNX Flatten: `[prod(shape[..axis]), prod(shape[axis..])]`.
pub fn flatten_shape(shape: &[usize], axis: i64) -> Result<Shape, String> {
    let r = shape.len() as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if !(0..=r).contains(&a) {
        return Err(format!("axis {axis} is out of range for rank {}", shape.len()));
    }
    let a = a as usize;
    Ok(vec![numel(&shape[..a]), numel(&shape[a..])])
}

/// ONNX Squeeze: drops the listed axes (all size-1 axes when none are listed).
pub fn squeeze_shape(shape: &[usize], axes: &[i64]) -> Result<Shape, String> {
    let axes: Vec<usize> = axes.iter().map(|&a| norm_axis(a, shape.len())).collect::<Result<_, _>>()?;
    if let Some(&a) = axes.iter().find(|&&a| shape[a] != 1) {
        return Err(format!("cannot squeeze axis {a} of size {}", shape[a]));
    }
    Ok(shape
        .iter()
        .enumerate()
        .filter(|&(i, &d)| if axes.is_empty() { d != 1 } else { !axes.contains(&i) })
        .map(|(_, &d)| d)
        .collect())
}

fn broadcast_map<T: Copy>(
    sa: &[usize],
    a: &[T],
    sb: &[usize],
    b: &[T],
    out: &[usize],
    f: impl Fn(T, T) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let rank = out.len();
    let bstrides = |s: &[usize]| -> Vec<usize> {
        let st = strides(s);
        (0..rank)
            .map(|d| match (d + s.len()).checked_sub(rank) {
                Some(k) if s[k] != 1 => st[k],
                _ => 0,
            })
            .collect()
    };
    let (ta, tb) = (bstrides(sa), bstrides(sb));
    let mut v = Vec::with_capacity(numel(out));
    let mut err = None;
    for_each_index(out, |idx| {
        let ia: usize = idx.iter().zip(&ta).map(|(i, s)| i * s).sum();
        let ib: usize = idx.iter().zip(&tb).map(|(i, s)| i * s).sum();
        match f(a[ia], b[ib]) {
            Ok(x) => v.push(x),
            Err(e) => err = Some(e),
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_normalization_follows_onnx() {
        let r = slice_ranges(&[10], &[-3], &[i64::MAX], None, None).unwrap();
        assert_eq!(r[0].indices(), vec![7, 8, 9]);
        let r = slice_ranges(&[5], &[-1], &[i64::MIN], None, Some(&[-2])).unwrap();
        assert_eq!(r[0].indices(), vec![4, 2, 0]);
        assert!(slice_ranges(&[5], &[0], &[5], None, Some(&[0])).is_err());
    }

    #[test]
    fn reshape_copies_and_infers() {
        assert_eq!(reshape_target(&[2, 3, 4], &[0, -1], false).unwrap(), vec![2, 12]);
        assert!(reshape_target(&[2, 3, 4], &[5, -1], false).is_err());
        assert!(reshape_target(&[2, 3], &[-1, -1], false).is_err());
    }
}
