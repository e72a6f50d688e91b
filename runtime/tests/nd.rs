//! The general kernels (`nd`) against their definitions on small cases: views with zero,
//! negative and permuted strides, every padding mode, every resize mode, pooling windows,
//! reductions, matrix products and convolutions; parts of a call cover every output once;
//! a view that leaves its buffer panics. Small enough for Miri (`.ci/steps/miri.sh`).

use ghostnet_runtime::isa::{Act, Arena, Part, Src};
use ghostnet_runtime::nd::{self, Bufs, Nd};
use ghostnet_runtime::ops::BinOp;

fn seq(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 * 0.5 - 3.0).collect()
}

/// Runs `f` on an arena of `len` zeros (after `init`), in `parts` parts; returns the arena.
fn run(len: usize, init: &[f32], weights: &[f32], input: &[f32], parts: usize, f: &dyn Fn(Bufs<'_>, Part)) -> Vec<f32> {
    let mut arena = vec![0f32; len];
    arena[..init.len()].copy_from_slice(init);
    for index in 0..parts {
        let b = Bufs { arena: Arena::new(&mut arena), weights, input };
        f(b, Part { index, count: parts });
    }
    arena
}

#[test]
fn map_reads_through_any_strides() {
    // A 2x3 input read transposed and backwards along its rows: y[j][i] = x[i][2 - j].
    let x = seq(6);
    for parts in [1, 2, 3] {
        let out = run(16, &[], &[], &x, parts, &|b, p| {
            let m = nd::Map { dims: &[3, 2], x: Nd { src: Src::Input(2), strides: &[-1, 3] }, y: Nd { src: Src::Arena(4), strides: &[2, 1] }, act: Act::Relu };
            nd::map(b, &m, p);
        });
        let want: Vec<f32> = (0..3).flat_map(|j| (0..2).map(move |i| (i * 3 + 2 - j) as f32 * 0.5 - 3.0)).map(|v: f32| v.max(0.0)).collect();
        assert_eq!(&out[4..10], &want[..], "{parts} parts");
        assert!(out[..4].iter().chain(&out[10..]).all(|&v| v == 0.0), "only the output was written");
    }
}

#[test]
fn zip_broadcasts_either_operand() {
    let a = seq(6);
    let w = [10.0, 20.0, 30.0];
    for op in [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div] {
        let out = run(6, &a, &w, &[], 2, &|b, p| {
            // y = w (row, broadcast over 2 rows) op a (in place).
            let z = nd::Zip { op, dims: &[2, 3], a: Nd { src: Src::Weights(0), strides: &[0, 1] }, b: Nd { src: Src::Arena(0), strides: &[3, 1] }, y: Nd { src: Src::Arena(0), strides: &[3, 1] }, act: Act::None };
            nd::zip(b, &z, p);
        });
        for i in 0..6 {
            let (x, v) = (w[i % 3], a[i]);
            let want = match op {
                BinOp::Add => x + v,
                BinOp::Sub => x - v,
                BinOp::Mul => x * v,
                BinOp::Div => x / v,
            };
            assert_eq!(out[i], want, "{op:?} at {i}");
        }
    }
}

#[test]
fn pad_fills_every_mode() {
    // [1 2 3] padded by 2 before and `after` after.
    let x = [1.0, 2.0, 3.0];
    let cases: [(nd::PadMode, usize, &[f32]); 4] = [
        (nd::PadMode::Constant(9.0), 3, &[9.0, 9.0, 1.0, 2.0, 3.0, 9.0, 9.0, 9.0]),
        (nd::PadMode::Edge, 3, &[1.0, 1.0, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0]),
        (nd::PadMode::Reflect, 2, &[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]),
        (nd::PadMode::Wrap, 3, &[2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0]),
    ];
    for (mode, after, want) in cases {
        let len = 5 + after;
        let out = run(len, &[], &x, &[], 1, &|b, p| {
            let pad = nd::Pad { dims: &[1, len], x_dims: &[1, 3], before: &[0, 2], mode, x: Nd { src: Src::Weights(0), strides: &[3, 1] }, y: Nd { src: Src::Arena(0), strides: &[len as isize, 1] } };
            nd::pad(b, &pad, p);
        });
        assert_eq!(out, want, "{mode:?}");
    }
}

#[test]
fn resize_nearest_and_linear_follow_onnx_coordinates() {
    let x = [0.0, 10.0, 20.0];
    let resize = |interp, coord, out: usize| {
        let scale = out as f32 / 3.0;
        run(out, &[], &x, &[], 1, &|b, p| {
            let r = nd::Resize { dims: &[out], x_dims: &[3], scales: &[scale], interp, coord, x: Nd { src: Src::Weights(0), strides: &[1] }, y: Nd { src: Src::Arena(0), strides: &[1] } };
            nd::resize(b, &r, p);
        })
    };
    assert_eq!(resize(nd::Interp::Floor, nd::Coord::Asymmetric, 6), [0.0, 0.0, 10.0, 10.0, 20.0, 20.0]);
    assert_eq!(resize(nd::Interp::RoundPreferFloor, nd::Coord::HalfPixel, 2), [0.0, 20.0]);
    assert_eq!(resize(nd::Interp::Linear, nd::Coord::AlignCorners, 5), [0.0, 5.0, 10.0, 15.0, 20.0]);
    // half_pixel, 3 -> 6: source (x + 0.5) / 2 - 0.5, clamped.
    assert_eq!(resize(nd::Interp::Linear, nd::Coord::HalfPixel, 6), [0.0, 2.5, 7.5, 12.5, 17.5, 20.0]);
}

#[test]
fn pooling_windows_count_as_defined() {
    // One 3x3 map, 2x2 windows, stride 2, padded 1 on every side: four windows.
    let x = seq(9);
    for max in [false, true] {
        for count_include_pad in [false, true] {
            let window = nd::Window { max, n: 1, c: 1, h: 3, w: 3, oh: 2, ow: 2, kh: 2, kw: 2, sh: 2, sw: 2, dh: 1, dw: 1, pads: [1, 1, 1, 1], count_include_pad };
            let out = run(4, &[], &x, &[], 2, &|b, p| {
                let pool = nd::Pool { window, x: Nd { src: Src::Weights(0), strides: &[9, 9, 3, 1] }, y: Nd { src: Src::Arena(0), strides: &[4, 4, 2, 1] } };
                nd::pool(b, &pool, p);
            });
            // Windows: {x0}, {x1, x2}, {x3, x6}, {x4, x5, x7, x8}; each covers 4 padded taps.
            let taps: [&[usize]; 4] = [&[0], &[1, 2], &[3, 6], &[4, 5, 7, 8]];
            for (o, t) in taps.iter().enumerate() {
                let want = if max {
                    t.iter().map(|&i| x[i]).fold(f32::MIN, f32::max)
                } else {
                    t.iter().map(|&i| x[i]).sum::<f32>() / if count_include_pad { 4.0 } else { t.len() as f32 }
                };
                assert_eq!(out[o], want, "max {max}, include pad {count_include_pad}, window {o}");
            }
        }
    }
}

#[test]
fn reduce_means_and_maxes_over_inner_axes() {
    // x: 2x3x2 (row-major); mean and max over axes 0 and 2 for each of the 3 middle indices.
    let x = seq(12);
    for max in [false, true] {
        let out = run(3, &[], &x, &[], 3, &|b, p| {
            let r = nd::Reduce { max, dims: &[3], inner: &[2, 2], x: Nd { src: Src::Weights(0), strides: &[2, 6, 1] }, y: Nd { src: Src::Arena(0), strides: &[1] } };
            nd::reduce(b, &r, p);
        });
        for j in 0..3 {
            let vals = [x[j * 2], x[j * 2 + 1], x[6 + j * 2], x[6 + j * 2 + 1]];
            let want = if max { vals.iter().copied().fold(f32::MIN, f32::max) } else { vals.iter().sum::<f32>() / 4.0 };
            assert_eq!(out[j], want);
        }
    }
}

#[test]
fn matmul_batches_broadcasts_and_transposes() {
    // Two batches of (2x3) x (3x2) + beta * c, b shared (stride 0) and read transposed.
    let a = seq(12);
    let bt = [1.0, -1.0, 0.5, 2.0, 0.0, 1.5]; // b^T, 2x3
    let c = [0.25, -0.5];
    let mut weights = bt.to_vec();
    weights.extend_from_slice(&c);
    let out = run(8, &[], &weights, &a, 2, &|b, p| {
        let g = nd::MatMul {
            batch: &[2],
            m: 2,
            k: 3,
            n: 2,
            alpha: 2.0,
            beta: 3.0,
            a: Nd { src: Src::Input(0), strides: &[6, 3, 1] },
            b: Nd { src: Src::Weights(0), strides: &[0, 1, 3] },
            c: Some(Nd { src: Src::Weights(6), strides: &[0, 0, 1] }),
            y: Nd { src: Src::Arena(0), strides: &[4, 2, 1] },
        };
        nd::matmul(b, &g, p);
    });
    for bi in 0..2 {
        for i in 0..2 {
            for j in 0..2 {
                let s: f32 = (0..3).map(|k| a[bi * 6 + i * 3 + k] * bt[j * 3 + k]).sum();
                assert_eq!(out[bi * 4 + i * 2 + j], 2.0 * s + 3.0 * c[j]);
            }
        }
    }
}

#[test]
fn conv_groups_dilations_and_scale() {
    // 1 image, 4 channels of 4x4, 2 groups, 2 outputs, 2x2 kernel dilated 2, pad 1.
    let x = seq(64);
    let w: Vec<f32> = (0..2 * 2 * 4).map(|i| (i % 5) as f32 - 2.0).collect();
    let scale = [1.0, 0.5, 2.0, -1.0];
    let mut weights = w.clone();
    weights.extend_from_slice(&scale);
    weights.extend_from_slice(&[0.1, -0.2]);
    let shape = nd::ConvShape { n: 1, c: 4, h: 4, w: 4, m: 2, oh: 4, ow: 4, kh: 2, kw: 2, groups: 2, sh: 1, sw: 1, dh: 2, dw: 2, pt: 1, pl: 1 };
    let out = run(32, &[], &weights, &x, 2, &|b, p| {
        let conv = nd::Conv {
            shape,
            act: Act::None,
            x: Nd { src: Src::Input(0), strides: &[64, 16, 4, 1] },
            weights: Nd { src: Src::Weights(0), strides: &[8, 4, 2, 1] },
            bias: Some(Nd { src: Src::Weights(20), strides: &[1] }),
            scale: Some(Nd { src: Src::Weights(16), strides: &[4, 1] }),
            residual: None,
            y: Nd { src: Src::Arena(0), strides: &[32, 16, 4, 1] },
        };
        nd::conv(b, &conv, p);
    });
    for o in 0..2 {
        for oy in 0..4 {
            for ox in 0..4 {
                let mut s = [0.1, -0.2][o];
                for i in 0..2 {
                    let ci = o * 2 + i;
                    for ky in 0..2 {
                        for kx in 0..2 {
                            let (iy, ix) = (oy as isize + 2 * ky as isize - 1, ox as isize + 2 * kx as isize - 1);
                            if (0..4).contains(&iy) && (0..4).contains(&ix) {
                                s += x[ci * 16 + iy as usize * 4 + ix as usize] * scale[ci] * w[((o * 2 + i) * 2 + ky) * 2 + kx];
                            }
                        }
                    }
                }
                let got = out[o * 16 + oy * 4 + ox];
                assert!((got - s).abs() <= 1e-5 * (1.0 + s.abs()), "({o}, {oy}, {ox}): {got} vs {s}");
            }
        }
    }
}

#[test]
#[should_panic(expected = "leaves its buffer")]
fn a_view_outside_its_buffer_panics() {
    run(4, &[], &[], &[], 1, &|b, p| {
        let m = nd::Map { dims: &[3], x: Nd { src: Src::Arena(0), strides: &[1] }, y: Nd { src: Src::Arena(2), strides: &[1] }, act: Act::None };
        nd::map(b, &m, p);
    });
}
