//! Matrix products: `Gemm` and `MatMul` with a constant weight matrix, the classifier.

use ghostnet_runtime as rt;
use rt::gemm::{Gemm, View};
use rt::isa::Act as RtAct;

use super::emit::Emit;
use super::{How, Kind, Layout};
use crate::ir::{numel, Graph, Node, Op};

pub(super) fn classify(graph: &Graph, n: &Node) -> Result<How, String> {
    match &n.op {
        Op::Gemm { trans_a: false, .. } | Op::MatMul => {
            if !graph.tensor(n.inputs[1]).is_const() || n.inputs.get(2).is_some_and(|&c| !graph.tensor(c).is_const()) {
                return Err("the weight matrix and bias must be constants".into());
            }
            if let Some(&c) = n.inputs.get(2) {
                let cs = graph.shape(c);
                let nn = graph.shape(n.output)[1];
                if !(cs.as_slice() == [nn] || cs.as_slice() == [1, nn] || numel(cs) == 1) {
                    return Err("only a per-column bias C is supported".into());
                }
            }
            Ok(How::Classifier)
        }
        op => Err(format!("{} is not supported by the Rust back end", op.name())),
    }
}

pub(super) fn emit(e: &mut Emit<'_>, n: &Node, how: How) {
    let g = e.graph;
    let view = |e: &Emit<'_>, t| View { off: e.at(t), ld: Layout::of(g, t).expect("classified").channels };
    match (how, &n.op) {
        (How::Classifier, op) => {
            let (alpha, beta, trans_b) = match op {
                Op::Gemm { alpha, beta, trans_b, .. } => (*alpha, *beta, *trans_b),
                _ => (1.0, 1.0, false),
            };
            let bs = g.shape(n.inputs[1]);
            let (k, nn) = if trans_b { (bs[1], bs[0]) } else { (bs[0], bs[1]) };
            let cd: Vec<f32> = match n.inputs.get(2) {
                Some(&c) if numel(g.shape(c)) == 1 => vec![beta * e.data(c)[0]; nn],
                Some(&c) => e.data(c).iter().map(|v| beta * v).collect(),
                None => vec![0.0; nn],
            };
            let (b, bias) = e.matrix_weights(n.inputs[1], trans_b, alpha, &cd);
            let gm = Gemm {
                m: 1,
                k,
                n: nn,
                a: view(e, n.inputs[0]),
                c: view(e, n.output),
                b,
                bias,
                act: RtAct::None,
                residual: None,
                raw: None,
                scale: None,
                gate: None,
            };
            e.push(&n.name, Kind::Gemm(gm));
        }
        (how, op) => unreachable!("classified {how:?} for {}", op.name()),
    }
}
