//! Convolutions and the fused ops built around them: 1x1 convolutions as GEMMs (with
//! the squeeze-excite scale, residual and activation in their epilogue), depthwise and
//! dense convolutions, the ghost module and the squeeze-excite gate; every other
//! convolution (grouped, dilated, weights computed at run time, an input scale where the
//! fused kernels take none) on the general kernel.

use ghostnet_runtime as rt;
use rt::conv::{Dense, Strided};
use rt::dwconv::Depthwise;
use rt::gemm::{Gate, Gemm, View};
use rt::pool::GlobalAvg;

use super::emit::Emit;
use super::{act, How, Kind, Layout, Operand};
use crate::ir::{Conv, Graph, Node, Op};

pub(super) fn classify(graph: &Graph, n: &Node) -> Result<How, String> {
    let consts = |idx: &[usize]| idx.iter().all(|&i| graph.tensor(n.inputs[i]).is_const());
    // The fused ops read their data from the arena; the passes make them only of
    // convolutions over activations with constant weights.
    let fused_inputs = |weights: &[usize]| {
        if !consts(weights) || n.inputs.iter().enumerate().any(|(i, &t)| !weights.contains(&i) && graph.tensor(t).is_const()) {
            return Err("a fused op needs constant weights and computed activations (a pass made one it should not have)".to_string());
        }
        Ok(())
    };
    match &n.op {
        Op::Conv(c) => Ok(conv_how(graph, n, c)),
        Op::Ghost { primary, cheap, .. } => {
            fused_inputs(&[1, 2, 3, 4])?;
            let p = graph.shape(n.inputs[1]);
            if primary.kernel != [1, 1] || primary.stride != [1, 1] || primary.pads != [0; 4] || primary.groups != 1 {
                return Err("the primary convolution must be 1x1".into());
            }
            if !cheap.is_depthwise(p[0], graph.shape(n.inputs[3])[0]) || cheap.stride != [1, 1] || cheap.dilation != [1, 1] {
                return Err("the cheap operation must be a stride-1 depthwise convolution".into());
            }
            Ok(How::Ghost)
        }
        Op::SqueezeExcite { .. } => {
            fused_inputs(&[1, 2, 3, 4])?;
            Ok(How::SqueezeExcite)
        }
        op => unreachable!("{} is not a convolution", op.name()),
    }
}

/// The fused kernel a convolution runs on, or the general one.
fn conv_how(graph: &Graph, n: &Node, c: &Conv) -> How {
    let x = graph.shape(n.inputs[0]);
    let w = graph.shape(n.inputs[1]);
    let is_const = |t| graph.tensor(t).is_const();
    let weights_const = is_const(n.inputs[1]) && c.bias_input().is_none_or(|b| is_const(n.inputs[b]));
    let activations = !is_const(n.inputs[0])
        && c.residual_input().is_none_or(|r| !is_const(n.inputs[r]))
        && c.scale_input().is_none_or(|s| !is_const(n.inputs[s]));
    if !weights_const || !activations || c.dilation != [1, 1] {
        return How::General;
    }
    if c.is_depthwise(x[1], w[0]) {
        return if c.scale { How::General } else { How::Depthwise };
    }
    if c.groups != 1 {
        return How::General;
    }
    if c.kernel == [1, 1] && c.stride == [1, 1] && c.pads == [0; 4] {
        return How::Pointwise;
    }
    if c.scale { How::General } else { How::Dense }
}

/// Arguments of a depthwise convolution of `channels` channels from `x` to `y`.
fn depthwise_args(c: &Conv, x: (Layout, View), y: (Layout, View), weights: usize, channels: usize) -> Depthwise {
    Depthwise {
        h: x.0.h,
        w: x.0.w,
        c: channels,
        oh: y.0.h,
        ow: y.0.w,
        kh: c.kernel[0],
        kw: c.kernel[1],
        sh: c.stride[0],
        sw: c.stride[1],
        pt: c.pads[0],
        pl: c.pads[1],
        x: x.1,
        y: y.1,
        weights,
        act: act(c.act),
        gate: None,
        residual: None,
    }
}

pub(super) fn emit(e: &mut Emit<'_>, i: usize, n: &Node, how: How) {
    let g = e.graph;
    let lay = |t| Layout::of(g, t);
    let view = |e: &Emit<'_>, t| View { off: e.at(t), ld: lay(t).channels };
    let name = n.name.as_str();
    match (how, &n.op) {
        (How::Pointwise, Op::Conv(c)) => {
            let (b, bias) = e.pointwise_weights(n.inputs[1], c.bias_input().map(|i| n.inputs[i]));
            let w = g.shape(n.inputs[1]);
            let gm = Gemm {
                m: lay(n.output).hw,
                k: w[1],
                n: w[0],
                a: view(e, n.inputs[0]),
                c: view(e, n.output),
                b,
                bias,
                act: act(c.act),
                residual: c.residual_input().map(|r| view(e, n.inputs[r])),
                raw: None,
                scale: c.scale_input().map(|s| e.at(n.inputs[s])),
                gate: None,
            };
            e.push(name, Kind::Gemm(gm));
        }
        (How::Depthwise, Op::Conv(c)) => {
            let wo = e.depthwise_weights(n.inputs[1], c.bias_input().map(|i| n.inputs[i]));
            let (x, y) = (n.inputs[0], n.output);
            let mut d = depthwise_args(c, (lay(x), view(e, x)), (lay(y), view(e, y)), wo, lay(y).channels);
            d.residual = c.residual_input().map(|r| view(e, n.inputs[r]));
            e.push(name, Kind::Depthwise(d));
        }
        (How::Dense, Op::Conv(c)) => {
            let s = g.shape(n.inputs[1]);
            let (cout, cin, kh, kw) = (s[0], s[1], s[2], s[3]);
            let wo = e.dense_weights(n.inputs[1], c.bias_input().map(|b| n.inputs[b]));
            let x = n.inputs[0];
            let xl = lay(x);
            let from_input = x == g.inputs[0];
            let xs = if from_input {
                Strided { off: e.input_offset(), cs: xl.hw, rs: xl.w, ps: 1 }
            } else {
                Strided { off: e.at(x), cs: 1, rs: xl.w * xl.channels, ps: xl.channels }
            };
            let yl = lay(n.output);
            let conv = Dense {
                h: xl.h,
                w: xl.w,
                cin,
                oh: yl.h,
                ow: yl.w,
                cout,
                kh,
                kw,
                sh: c.stride[0],
                sw: c.stride[1],
                pt: c.pads[0],
                pl: c.pads[1],
                x: xs,
                y: view(e, n.output),
                weights: wo,
                act: act(c.act),
                residual: c.residual_input().map(|r| view(e, n.inputs[r])),
            };
            e.push(name, Kind::Dense { conv, from_input });
        }
        (How::Ghost, Op::Ghost { primary, cheap, channels, residual, scale, gate }) => {
            let (x, out) = (n.inputs[0], n.output);
            let init = g.shape(n.inputs[1])[0];
            let (b, bias) = e.pointwise_weights(n.inputs[1], Some(n.inputs[2]));
            let wo = e.depthwise_weights(n.inputs[3], Some(n.inputs[4]));
            let ol = lay(out);
            let o = e.at(out);
            let r = residual.then(|| view(e, n.inputs[5]));
            // With a residual or a gate, the primary half the cheap operation reads is
            // kept apart (un-gated, without the residual) in a scratch buffer.
            let temp = (*residual || *gate).then(|| e.plan.scratch[&i][0]);
            let gv = gate.then(|| {
                let t = n.inputs[5 + *residual as usize + *scale as usize];
                let gl = lay(t);
                Gate { off: e.at(t), ld: gl.channels, h: gl.h, w: gl.w, oh: ol.h, ow: ol.w }
            });
            let gm = Gemm {
                m: ol.hw,
                k: g.shape(n.inputs[1])[1],
                n: init,
                a: view(e, x),
                c: View { off: o, ld: ol.channels },
                b,
                bias,
                act: act(primary.act),
                residual: r,
                raw: temp.map(|t| View { off: t, ld: init }),
                scale: scale.then(|| e.at(n.inputs[5 + *residual as usize])),
                gate: gv,
            };
            e.push(name, Kind::Gemm(gm));
            let keep = channels - init;
            if keep > 0 {
                let src = match temp {
                    Some(t) => View { off: t, ld: init },
                    None => View { off: o, ld: ol.channels },
                };
                let pl = Layout { channels: init, ..ol };
                let mut d = depthwise_args(cheap, (pl, src), (ol, View { off: o + init, ld: ol.channels }), wo, keep);
                d.residual = r.map(|r| View { off: r.off + init, ld: r.ld });
                d.gate = gv.map(|g| Gate { off: g.off + init, ..g });
                e.push(name, Kind::Depthwise(d));
            }
        }
        (How::SqueezeExcite, Op::SqueezeExcite { act: a, gate }) => {
            let x = n.inputs[0];
            let (c, r) = (lay(x).channels, g.shape(n.inputs[1])[0]);
            let s = &e.plan.scratch[&i];
            let (pooled, hidden) = (s[0], s[1]);
            e.push(name, Kind::GlobalAvg(GlobalAvg { pixels: lay(x).hw, c, x: view(e, x), y: pooled }));
            let (b1, bias1) = e.pointwise_weights(n.inputs[1], Some(n.inputs[2]));
            let (b2, bias2) = e.pointwise_weights(n.inputs[3], Some(n.inputs[4]));
            let gemv = |k, nn, a, c, b, bias, act| Gemm {
                m: 1,
                k,
                n: nn,
                a: View { off: a, ld: k },
                c: View { off: c, ld: nn },
                b,
                bias,
                act,
                residual: None,
                raw: None,
                scale: None,
                gate: None,
            };
            let out = e.at(n.output);
            e.push(name, Kind::Gemm(gemv(c, r, pooled, hidden, b1, bias1, act(Some(*a)))));
            e.push(name, Kind::Gemm(gemv(r, c, hidden, out, b2, bias2, act(Some(*gate)))));
        }
        (How::General, Op::Conv(c)) => general(e, n, c),
        (how, op) => unreachable!("classified {how:?} for {}", op.name()),
    }
}

/// Any convolution on the general kernel: every operand read through its strides.
fn general(e: &mut Emit<'_>, n: &Node, c: &Conv) {
    let (x, y) = (n.inputs[0], n.output);
    let (xd, yd) = (e.dims(x), e.dims(y));
    let w = e.graph.shape(n.inputs[1]).clone();
    let shape = rt::nd::ConvShape {
        n: xd[0],
        c: xd[1],
        h: xd[2],
        w: xd[3],
        m: yd[1],
        oh: yd[2],
        ow: yd[3],
        kh: w[2],
        kw: w[3],
        groups: c.groups,
        sh: c.stride[0],
        sw: c.stride[1],
        dh: c.dilation[0],
        dw: c.dilation[1],
        pt: c.pads[0],
        pl: c.pads[1],
    };
    let (xv, wv, yv) = (e.view(x), e.view(n.inputs[1]), e.view(y));
    let bias = c.bias_input().map(|b| e.view(n.inputs[b]));
    let residual = c.residual_input().map(|r| e.view(n.inputs[r]));
    // The scale is N x C x 1 x 1; the kernel reads it over N and C.
    let scale = c.scale_input().map(|s| {
        let v = e.view(n.inputs[s]);
        Operand { src: v.src, strides: v.strides[..2].to_vec() }
    });
    e.push(&n.name, Kind::Conv { shape, act: act(c.act), x: xv, w: wv, bias, scale, residual, y: yv });
}

