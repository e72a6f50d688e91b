//! Convolutions and the fused ops built around them: 1x1 convolutions as GEMMs (with
//! the squeeze-excite scale, residual and activation in their epilogue), depthwise and
//! dense convolutions, the ghost module and the squeeze-excite gate.

use ghostnet_runtime as rt;
use rt::conv::{Dense, Strided};
use rt::dwconv::Depthwise;
use rt::gemm::{Gate, Gemm, View};
use rt::pool::GlobalAvg;

use super::emit::Emit;
use super::{act, How, Kind, Layout};
use crate::ir::{Conv, Graph, Node, Op};

pub(super) fn classify(graph: &Graph, n: &Node) -> Result<How, String> {
    let consts = |idx: &[usize]| idx.iter().all(|&i| graph.tensor(n.inputs[i]).is_const());
    match &n.op {
        Op::Conv(c) => conv_how(graph, n, c),
        Op::Ghost { primary, cheap, .. } => {
            if !consts(&[1, 2, 3, 4]) {
                return Err("weights computed at run time are not supported".into());
            }
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
            if !consts(&[1, 2, 3, 4]) {
                return Err("weights computed at run time are not supported".into());
            }
            Ok(How::SqueezeExcite)
        }
        op => unreachable!("{} is not a convolution", op.name()),
    }
}

fn conv_how(graph: &Graph, n: &Node, c: &Conv) -> Result<How, String> {
    let x = graph.shape(n.inputs[0]);
    let w = graph.shape(n.inputs[1]);
    let mut weights = vec![n.inputs[1]];
    weights.extend(c.bias_input().map(|b| n.inputs[b]));
    if weights.iter().any(|&t| !graph.tensor(t).is_const()) {
        return Err("weights computed at run time are not supported".into());
    }
    if c.dilation != [1, 1] {
        return Err("dilated convolutions are not supported".into());
    }
    if c.is_depthwise(x[1], w[0]) {
        if c.scale {
            return Err("an input scale on a depthwise convolution is not supported".into());
        }
        return Ok(How::Depthwise);
    }
    if c.groups != 1 {
        return Err(format!("grouped convolutions ({} groups, not depthwise) are not supported", c.groups));
    }
    if c.kernel == [1, 1] && c.stride == [1, 1] && c.pads == [0; 4] {
        return Ok(How::Pointwise);
    }
    if c.scale {
        return Err("an input scale on a dense convolution is not supported".into());
    }
    Ok(How::Dense)
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
    let lay = |t| Layout::of(g, t).expect("classified");
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
            let from_input = x == g.inputs[0] && !e.plan.offsets.contains_key(&x);
            let xs = if from_input {
                Strided { off: 0, cs: xl.hw, rs: xl.w, ps: 1 }
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
        (how, op) => unreachable!("classified {how:?} for {}", op.name()),
    }
}

