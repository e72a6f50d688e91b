//! The reference interpreter: plain loops over NCHW tensors, obviously correct.
//!
//! It runs any validated [`Graph`], before or after the fusion passes, and is the oracle the
//! compiled networks are tested against (it is itself tested against ONNX Runtime's outputs).
//! Sums of products accumulate in `f64`. A node in reduced precision ([`Precision`])
//! computes with its matrix product's operands rounded as the compiled kernels round them.

use crate::ir::precision::{product_weights, quantize_weight, weight_layout};
use crate::ir::{apply_act, for_each_index, numel, strides, Conv, Graph, Node, Op, PadMode, Pool, Precision, ResizeMode, Shape, ShapeDisplay};
use ghostnet_runtime::isa::bf16_round;

/// Why a graph could not be run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the graph takes {expected} input(s), {got} given")]
    InputCount { expected: usize, got: usize },
    #[error("input '{name}' of shape {shape} needs {expected} values, {got} given")]
    InputLength { name: String, shape: String, expected: usize, got: usize },
    #[error(transparent)]
    Invalid(#[from] crate::ir::ValidationErrors),
}

/// Runs `graph` on `inputs` (one flat NCHW buffer per graph input) and returns the outputs.
pub fn run(graph: &Graph, inputs: &[&[f32]]) -> Result<Vec<Vec<f32>>, Error> {
    run_observed(graph, inputs, &mut |_, _, _| {})
}

/// [`run`], calling `observe(node index, its inputs as given, its output)` after each node
/// (calibration watches the values this way).
pub fn run_observed(graph: &Graph, inputs: &[&[f32]], observe: &mut dyn FnMut(usize, &[Arg<'_>], &[f32])) -> Result<Vec<Vec<f32>>, Error> {
    graph.validate()?;
    if inputs.len() != graph.inputs.len() {
        return Err(Error::InputCount { expected: graph.inputs.len(), got: inputs.len() });
    }
    let mut values: Vec<Option<Vec<f32>>> = vec![None; graph.tensors.len()];
    for (&id, data) in graph.inputs.iter().zip(inputs) {
        let t = graph.tensor(id);
        if data.len() != t.numel() {
            return Err(Error::InputLength {
                name: t.name.clone(),
                shape: ShapeDisplay(&t.shape).to_string(),
                expected: t.numel(),
                got: data.len(),
            });
        }
        values[id.index()] = Some(data.to_vec());
    }
    // Free each activation after its last reader.
    let mut last_use = vec![usize::MAX; graph.tensors.len()];
    for (i, n) in graph.nodes.iter().enumerate() {
        for &t in &n.inputs {
            last_use[t.index()] = i;
        }
    }
    for &o in &graph.outputs {
        last_use[o.index()] = usize::MAX;
    }
    for (i, node) in graph.nodes.iter().enumerate() {
        let raw: Vec<Arg<'_>> = node
            .inputs
            .iter()
            .map(|&t| Arg {
                shape: graph.shape(t),
                data: graph.data(t).or(values[t.index()].as_deref()).expect("validated: inputs are defined"),
            })
            .collect();
        let out = eval_node(graph, node, &raw);
        observe(i, &raw, &out);
        values[node.output.index()] = Some(out);
        for &t in &node.inputs {
            if last_use[t.index()] == i {
                values[t.index()] = None;
            }
        }
    }
    Ok(graph
        .outputs
        .iter()
        .map(|&o| graph.data(o).map(<[f32]>::to_vec).or_else(|| values[o.index()].clone()).expect("validated"))
        .collect())
}

/// The inputs a node in reduced precision computes with, by position, in place of `args`
/// (see [`Precision`]): bfloat16 rounds the product weights; int8 replaces the product's
/// input (times its squeeze-excite scale, which becomes ones) and weights by their
/// dequantized bytes.
fn reduced_inputs(graph: &Graph, node: &Node, args: &[Arg<'_>]) -> Vec<(usize, Vec<f32>)> {
    let weights = product_weights(graph, node);
    match node.precision {
        Precision::F32 => Vec::new(),
        Precision::Bf16 => weights.iter().map(|&k| (k, args[k].data.iter().map(|&v| bf16_round(v)).collect())).collect(),
        Precision::Int8 => {
            let q = node.quant.as_ref().expect("an int8 node has its quantization");
            let layout = weight_layout(graph, node);
            let w = args[1].data.iter().enumerate().map(|(i, &v)| {
                let s = q.weight_scales[layout.channel(i)];
                quantize_weight(v, s) as f32 * s
            });
            let x = args[0];
            let scale_at = match &node.op {
                Op::Conv(c) => c.scale_input(),
                Op::Ghost { residual, scale: true, .. } => Some(5 + *residual as usize),
                _ => None,
            };
            let inner: usize = x.shape[2..].iter().product();
            let factor = |i: usize| scale_at.map_or(1.0, |at| args[at].data[i / inner]);
            let xq = x.data.iter().enumerate().map(|(i, &v)| q.input.dequantize(q.input.quantize(v, factor(i))));
            let mut out = vec![(0, xq.collect()), (1, w.collect())];
            if let Some(at) = scale_at {
                out.push((at, vec![1.0; args[at].data.len()]));
            }
            out
        }
    }
}

/// Evaluates node `node` of `graph` on `args` (its inputs, in order) in its precision.
pub fn eval_node(graph: &Graph, node: &Node, args: &[Arg<'_>]) -> Vec<f32> {
    let changed = reduced_inputs(graph, node, args);
    let args: Vec<Arg<'_>> = args
        .iter()
        .enumerate()
        .map(|(k, a)| match changed.iter().find(|(r, _)| *r == k) {
            Some((_, d)) => Arg { shape: a.shape, data: d },
            None => *a,
        })
        .collect();
    eval(&node.op, &args, graph.shape(node.output))
}

/// A tensor argument: shape and data.
#[derive(Clone, Copy)]
pub struct Arg<'a> {
    pub shape: &'a Shape,
    pub data: &'a [f32],
}

/// Evaluates one op whose inputs fit it (as validation checks) and whose output shape is `out`.
pub fn eval(op: &Op, a: &[Arg<'_>], out: &Shape) -> Vec<f32> {
    match op {
        Op::Conv(c) => {
            let bias = c.bias_input().map(|i| a[i].data);
            let scale = c.scale_input().map(|i| a[i].data);
            let mut y = conv(c, a[0], a[1], bias, scale, out);
            if let Some(r) = c.residual_input() {
                y.iter_mut().zip(a[r].data).for_each(|(y, r)| *y += r);
            }
            y
        }
        Op::BatchNorm { epsilon } => {
            let x = a[0];
            let (c, inner) = (x.shape[1], numel(&x.shape[2..]));
            let mut y = x.data.to_vec();
            for (i, v) in y.iter_mut().enumerate() {
                let ch = (i / inner) % c;
                let inv = 1.0 / (a[4].data[ch] as f64 + *epsilon as f64).sqrt();
                *v = ((*v as f64 - a[3].data[ch] as f64) * inv * a[1].data[ch] as f64 + a[2].data[ch] as f64) as f32;
            }
            y
        }
        Op::Activation(act) => a[0].data.iter().map(|&v| act.apply(v)).collect(),
        Op::FakeQuant(q) => a[0].data.iter().map(|&v| q.apply(v)).collect(),
        Op::Add => binary(a[0], a[1], out, |x, y| x + y),
        Op::Sub => binary(a[0], a[1], out, |x, y| x - y),
        Op::Mul => binary(a[0], a[1], out, |x, y| x * y),
        Op::Div => binary(a[0], a[1], out, |x, y| x / y),
        Op::Concat { axis } => {
            let outer = numel(&out[..*axis]);
            let inner = numel(&out[axis + 1..]);
            let mut y = Vec::with_capacity(numel(out));
            for o in 0..outer {
                for t in a {
                    let chunk = t.shape[*axis] * inner;
                    y.extend_from_slice(&t.data[o * chunk..(o + 1) * chunk]);
                }
            }
            y
        }
        Op::Slice { axes } => {
            let x = a[0];
            let rank = x.shape.len();
            let (mut start, mut step) = (vec![0isize; rank], vec![1isize; rank]);
            for s in axes {
                start[s.axis] = s.start as isize;
                step[s.axis] = s.step;
            }
            let xs = strides(x.shape);
            let mut y = Vec::with_capacity(numel(out));
            for_each_index(out, |idx| {
                let off: isize = (0..rank).map(|d| (start[d] + idx[d] as isize * step[d]) * xs[d] as isize).sum();
                y.push(x.data[off as usize]);
            });
            y
        }
        Op::Transpose { perm } => {
            let x = a[0];
            let xs = strides(x.shape);
            let mut y = Vec::with_capacity(numel(out));
            for_each_index(out, |idx| y.push(x.data[idx.iter().zip(perm).map(|(&i, &p)| i * xs[p]).sum::<usize>()]));
            y
        }
        Op::Pad { pads, mode } => {
            let x = a[0];
            let xs = strides(x.shape);
            let mut y = Vec::with_capacity(numel(out));
            for_each_index(out, |idx| {
                let mut off = Some(0usize);
                for (d, &i) in idx.iter().enumerate() {
                    let (n, i) = (x.shape[d] as isize, i as isize - pads[d][0] as isize);
                    let src = match mode {
                        _ if (0..n).contains(&i) => Some(i),
                        PadMode::Constant(_) => None,
                        PadMode::Edge => Some(i.clamp(0, n - 1)),
                        PadMode::Reflect => Some(if i < 0 { -i } else { 2 * (n - 1) - i }),
                        PadMode::Wrap => Some(i.rem_euclid(n)),
                    };
                    off = off.zip(src).map(|(o, s)| o + s as usize * xs[d]);
                }
                y.push(match (off, mode) {
                    (Some(o), _) => x.data[o],
                    (None, PadMode::Constant(v)) => *v,
                    (None, _) => unreachable!("only constant padding leaves the input"),
                });
            });
            y
        }
        Op::GlobalAveragePool => reduce_mean(a[0], &[2, 3]),
        Op::GlobalMaxPool => {
            let x = a[0];
            let hw = x.shape[2] * x.shape[3];
            x.data.chunks(hw).map(|c| c.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v))).collect()
        }
        Op::ReduceMean { axes, .. } => reduce_mean(a[0], axes),
        Op::AveragePool(p) => pool(p, a[0], out, false),
        Op::MaxPool(p) => pool(p, a[0], out, true),
        Op::Resize(r) => {
            let x = a[0];
            let xs = strides(x.shape);
            let rank = x.shape.len();
            let mut y = Vec::with_capacity(numel(out));
            for_each_index(out, |idx| {
                let v = match r.mode {
                    ResizeMode::Nearest(_) => {
                        x.data[(0..rank).map(|d| r.nearest_index(d, idx[d], x.shape[d]) * xs[d]).sum::<usize>()] as f64
                    }
                    ResizeMode::Linear => {
                        // Every corner of the cell around the source point, weighted.
                        let taps: Vec<([usize; 2], [f32; 2])> = (0..rank).map(|d| r.linear_taps(d, idx[d], x.shape[d])).collect();
                        let mut sum = 0f64;
                        for corner in 0..1usize << rank {
                            let (mut off, mut w) = (0, 1f64);
                            for (d, (i, wt)) in taps.iter().enumerate() {
                                let k = (corner >> d) & 1;
                                off += i[k] * xs[d];
                                w *= wt[k] as f64;
                            }
                            sum += w * x.data[off] as f64;
                        }
                        sum
                    }
                };
                y.push(v as f32);
            });
            y
        }
        Op::Reshape { .. } | Op::Identity => a[0].data.to_vec(),
        Op::Gemm { alpha, beta, trans_a, trans_b } => {
            let (m, n) = (out[0], out[1]);
            let k = if *trans_a { a[0].shape[0] } else { a[0].shape[1] };
            let at = |i: usize, p: usize| if *trans_a { a[0].data[p * m + i] } else { a[0].data[i * k + p] };
            let bt = |p: usize, j: usize| if *trans_b { a[1].data[j * k + p] } else { a[1].data[p * n + j] };
            let c = a.get(2).map(|c| binary(*c, Arg { shape: out, data: &vec![0.0; m * n] }, out, |c, _| c));
            let mut y = vec![0.0; m * n];
            for i in 0..m {
                for j in 0..n {
                    let s: f64 = (0..k).map(|p| at(i, p) as f64 * bt(p, j) as f64).sum();
                    let cv = c.as_ref().map_or(0.0, |c| c[i * n + j] as f64);
                    y[i * n + j] = (*alpha as f64 * s + *beta as f64 * cv) as f32;
                }
            }
            y
        }
        Op::MatMul => matmul(a[0], a[1], out),
        Op::Ghost { primary, cheap, channels, residual, scale, gate } => {
            let x = a[0];
            let s = scale.then(|| a[5 + *residual as usize].data);
            let [oh, ow] = primary.out_hw(x.shape[2], x.shape[3]).expect("validated");
            let ps = vec![x.shape[0], a[1].shape[0], oh, ow];
            let p = conv(primary, x, a[1], Some(a[2].data), s, &ps);
            let cs = vec![x.shape[0], a[3].shape[0], oh, ow];
            let c = conv(cheap, Arg { shape: &ps, data: &p }, a[3], Some(a[4].data), None, &cs);
            let mut y = Vec::with_capacity(numel(out));
            let hw = oh * ow;
            for n in 0..x.shape[0] {
                let pc = ps[1].min(*channels);
                y.extend_from_slice(&p[n * ps[1] * hw..][..pc * hw]);
                y.extend_from_slice(&c[n * cs[1] * hw..][..(*channels - pc) * hw]);
            }
            if *gate {
                let g = a[5 + *residual as usize + *scale as usize];
                let (gh, gw) = (g.shape[2], g.shape[3]);
                for (i, v) in y.iter_mut().enumerate() {
                    let (nc, yy, xx) = (i / hw, (i % hw) / ow, i % ow);
                    *v *= g.data[nc * gh * gw + nearest_floor(yy, gh, oh) * gw + nearest_floor(xx, gw, ow)];
                }
            }
            if *residual {
                y.iter_mut().zip(a[5].data).for_each(|(y, r)| *y += r);
            }
            y
        }
        Op::SqueezeExcite { act, gate } => {
            let x = a[0];
            let (n, c) = (x.shape[0], x.shape[1]);
            let r = a[1].shape[0];
            let pooled = reduce_mean(x, &[2, 3]);
            let mut y = Vec::with_capacity(n * c);
            for b in 0..n {
                let hidden: Vec<f32> = (0..r)
                    .map(|j| {
                        let s: f64 = (0..c).map(|i| a[1].data[j * c + i] as f64 * pooled[b * c + i] as f64).sum();
                        act.apply((s + a[2].data[j] as f64) as f32)
                    })
                    .collect();
                for i in 0..c {
                    let s: f64 = (0..r).map(|j| a[3].data[i * r + j] as f64 * hidden[j] as f64).sum();
                    y.push(gate.apply((s + a[4].data[i] as f64) as f32));
                }
            }
            y
        }
    }
}

/// Average or max pooling over NCHW.
fn pool(p: &Pool, x: Arg<'_>, out: &Shape, max: bool) -> Vec<f32> {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let (oh, ow) = (out[2], out[3]);
    // A tap's position along one axis, and whether it is in the input / in the padded input.
    let tap = |o: usize, k: usize, d: usize| -> (isize, usize, usize) {
        let i = (o * p.stride[d] + k * p.dilation[d]) as isize - p.pads[d] as isize;
        let len = [h, w][d] as isize;
        (i, (0..len).contains(&i) as usize, (-(p.pads[d] as isize)..len + p.pads[d + 2] as isize).contains(&i) as usize)
    };
    let mut y = vec![0.0; numel(out)];
    for nc in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let (mut sum, mut most, mut inside, mut padded) = (0f64, f32::MIN, 0usize, 0usize);
                for ky in 0..p.kernel[0] {
                    let (iy, in_y, pad_y) = tap(oy, ky, 0);
                    for kx in 0..p.kernel[1] {
                        let (ix, in_x, pad_x) = tap(ox, kx, 1);
                        padded += pad_y * pad_x;
                        if in_y * in_x == 1 {
                            let v = x.data[nc * h * w + iy as usize * w + ix as usize];
                            sum += v as f64;
                            most = most.max(v);
                            inside += 1;
                        }
                    }
                }
                let count = if p.count_include_pad { padded } else { inside };
                y[nc * oh * ow + oy * ow + ox] = if max { most } else { (sum / count.max(1) as f64) as f32 };
            }
        }
    }
    y
}

/// NumPy's `matmul`, the batch axes broadcast.
fn matmul(a: Arg<'_>, b: Arg<'_>, out: &Shape) -> Vec<f32> {
    // As matrices: a 1-D `a` is a row, a 1-D `b` a column.
    let a_shape: Shape = if a.shape.len() == 1 { vec![1, a.shape[0]] } else { a.shape.clone() };
    let b_shape: Shape = if b.shape.len() == 1 { vec![b.shape[0], 1] } else { b.shape.clone() };
    let (m, k, n) = (a_shape[a_shape.len() - 2], a_shape[a_shape.len() - 1], b_shape[b_shape.len() - 1]);
    let batch: Shape = crate::ir::broadcast(&a_shape[..a_shape.len() - 2].to_vec(), &b_shape[..b_shape.len() - 2].to_vec()).expect("validated");
    // Offset of a matrix of `shape` for a batch index, with broadcasting.
    let base = |shape: &Shape, idx: &[usize]| -> usize {
        let lead = &shape[..shape.len() - 2];
        let st = strides(lead);
        let skip = batch.len() - lead.len();
        (0..lead.len()).map(|d| if lead[d] == 1 { 0 } else { idx[skip + d] * st[d] }).sum::<usize>() * numel(&shape[shape.len() - 2..])
    };
    let mut y = Vec::with_capacity(numel(out));
    for_each_index(&batch, |idx| {
        let (ao, bo) = (base(&a_shape, idx), base(&b_shape, idx));
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k).map(|p| a.data[ao + i * k + p] as f64 * b.data[bo + p * n + j] as f64).sum();
                y.push(s as f32);
            }
        }
    });
    y
}

/// `floor(o * n / on)`, the source index of nearest/asymmetric/floor resizing.
pub fn nearest_floor(o: usize, n: usize, on: usize) -> usize {
    (o * n / on).min(n - 1)
}

/// `act(conv(x * scale, w) + bias)` over NCHW.
fn conv(c: &Conv, x: Arg<'_>, w: Arg<'_>, bias: Option<&[f32]>, scale: Option<&[f32]>, out: &Shape) -> Vec<f32> {
    let (n, ci, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let (m, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
    let (oh, ow) = (out[2], out[3]);
    let mg = m / c.groups;
    let mut y = vec![0.0; numel(out)];
    for b in 0..n {
        for oc in 0..m {
            let g = oc / mg;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = bias.map_or(0.0, |b| b[oc] as f64);
                    for icg in 0..cg {
                        let ic = g * cg + icg;
                        let sc = scale.map_or(1.0, |s| s[b * ci + ic] as f64);
                        for ky in 0..kh {
                            let iy = (oy * c.stride[0] + ky * c.dilation[0]) as isize - c.pads[0] as isize;
                            if iy < 0 || iy as usize >= h {
                                continue;
                            }
                            for kx in 0..kw {
                                let ix = (ox * c.stride[1] + kx * c.dilation[1]) as isize - c.pads[1] as isize;
                                if ix < 0 || ix as usize >= wd {
                                    continue;
                                }
                                let xv = x.data[((b * ci + ic) * h + iy as usize) * wd + ix as usize] as f64;
                                let wv = w.data[((oc * cg + icg) * kh + ky) * kw + kx] as f64;
                                s += xv * sc * wv;
                            }
                        }
                    }
                    y[((b * m + oc) * oh + oy) * ow + ox] = apply_act(c.act, s as f32);
                }
            }
        }
    }
    y
}

fn reduce_mean(x: Arg<'_>, axes: &[usize]) -> Vec<f32> {
    let rank = x.shape.len();
    let out_shape: Shape = (0..rank).map(|d| if axes.contains(&d) { 1 } else { x.shape[d] }).collect();
    let os = strides(&out_shape);
    let mut sums = vec![0f64; numel(&out_shape)];
    let mut i = 0;
    for_each_index(x.shape, |idx| {
        let o: usize = (0..rank).filter(|d| !axes.contains(d)).map(|d| idx[d] * os[d]).sum();
        sums[o] += x.data[i] as f64;
        i += 1;
    });
    let count: usize = axes.iter().map(|&d| x.shape[d]).product();
    sums.into_iter().map(|s| (s / count as f64) as f32).collect()
}

fn binary(a: Arg<'_>, b: Arg<'_>, out: &Shape, f: impl Fn(f32, f32) -> f32) -> Vec<f32> {
    let rank = out.len();
    let bstrides = |s: &Shape| -> Vec<usize> {
        let st = strides(s);
        (0..rank)
            .map(|d| {
                let k = (d + s.len()).checked_sub(rank);
                match k {
                    Some(k) if s[k] != 1 => st[k],
                    _ => 0,
                }
            })
            .collect()
    };
    let (sa, sb) = (bstrides(a.shape), bstrides(b.shape));
    let mut y = Vec::with_capacity(numel(out));
    for_each_index(out, |idx| {
        let ia: usize = idx.iter().zip(&sa).map(|(i, s)| i * s).sum();
        let ib: usize = idx.iter().zip(&sb).map(|(i, s)| i * s).sum();
        y.push(f(a.data[ia], b.data[ib]));
    });
    y
}
