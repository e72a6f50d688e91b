//! Structural re-parameterization (RepVGG, MobileOne, GhostNetV3): parallel convolutions
//! over the same input whose outputs are summed become one convolution. Each branch's
//! kernel is zero-padded (centred) to the largest size and the kernels and biases are
//! added; a grouped branch (e.g. a BatchNorm-only identity branch, which BatchNorm folding
//! turned into a 1x1 depthwise convolution) is widened to the other's grouping first.

use super::rewrite::{self, Rewriter};
use crate::ir::{Conv, Graph, Node, Op, TensorId};

pub fn run(g: &mut Graph) -> bool {
    rewrite::each_node(g, |rw, i| match find(rw, i) {
        Some((a, b)) => {
            merge(rw, i, a, b);
            true
        }
        None => false,
    })
}

fn plain(c: &Conv) -> bool {
    c.act.is_none() && !c.residual && !c.scale
}

/// For an `Add` at `i` of two convolution outputs that can merge: their node indices.
fn find(g: &Rewriter<'_>, i: usize) -> Option<(usize, usize)> {
    let n = g.node(i);
    if !matches!(n.op, Op::Add) || n.inputs[0] == n.inputs[1] {
        return None;
    }
    let (a, b) = (g.producer(n.inputs[0])?, g.producer(n.inputs[1])?);
    let (na, nb) = (g.node(a), g.node(b));
    let (Op::Conv(ca), Op::Conv(cb)) = (&na.op, &nb.op) else { return None };
    let same_input = na.inputs[0] == nb.inputs[0];
    let compatible = plain(ca) && plain(cb) && ca.stride == cb.stride && ca.dilation == [1, 1] && cb.dilation == [1, 1];
    let single_use = g.exclusive(na.output) && g.exclusive(nb.output);
    let consts = na.inputs[1..].iter().chain(&nb.inputs[1..]).all(|&t| g.is_const(t));
    let shapes = g.shape(na.output) == g.shape(n.output) && g.shape(nb.output) == g.shape(n.output);
    if !(same_input && compatible && single_use && consts && shapes) {
        return None;
    }
    // Centres must line up: pad - (kmax - k) / 2 equal on every side.
    let kmax = [ca.kernel[0].max(cb.kernel[0]), ca.kernel[1].max(cb.kernel[1])];
    let aligned = |c: &Conv| {
        (0..2).all(|d| {
            let extra = kmax[d] - c.kernel[d];
            extra.is_multiple_of(2) && [c.pads[d], c.pads[d + 2]].iter().all(|&p| p + extra / 2 == lead(ca, cb, d))
        })
    };
    let groups_ok = ca.groups == cb.groups || ca.groups == 1 || cb.groups == 1;
    (aligned(ca) && aligned(cb) && groups_ok).then_some((a, b))
}

/// The padding the merged kernel needs on axis `d` (that of the larger kernel).
fn lead(ca: &Conv, cb: &Conv, d: usize) -> usize {
    if ca.kernel[d] >= cb.kernel[d] { ca.pads[d] } else { cb.pads[d] }
}

/// Weights of `c` (`w` of shape `[m, cin/groups, kh, kw]`) as `[m, cin/groups_to, kh2, kw2]`
/// for `groups_to` (1 or `c.groups`), zero-padded to `kernel`, centred.
fn widen(c: &Conv, w: &[f32], shape: &[usize], cin: usize, groups_to: usize, kernel: [usize; 2]) -> Vec<f32> {
    let (m, cg, kh, kw) = (shape[0], shape[1], shape[2], shape[3]);
    let cg_to = cin / groups_to;
    let (oy, ox) = ((kernel[0] - kh) / 2, (kernel[1] - kw) / 2);
    let mut out = vec![0f32; m * cg_to * kernel[0] * kernel[1]];
    let mg = m / c.groups;
    for o in 0..m {
        for i in 0..cg {
            // Input channel `i` of output `o`'s group, as an index into the wider grouping.
            let global = (o / mg) * cg + i;
            let local = global - (o / (m / groups_to)) * cg_to;
            for y in 0..kh {
                for x in 0..kw {
                    out[((o * cg_to + local) * kernel[0] + y + oy) * kernel[1] + x + ox] = w[((o * cg + i) * kh + y) * kw + x];
                }
            }
        }
    }
    out
}

fn merge(g: &mut Rewriter<'_>, add: usize, a: usize, b: usize) {
    let (na, nb) = (g.node(a).clone(), g.node(b).clone());
    let (Op::Conv(ca), Op::Conv(cb)) = (&na.op, &nb.op) else { unreachable!() };
    let cin = g.shape(na.inputs[0])[1];
    let m = g.shape(na.output)[1];
    let kernel = [ca.kernel[0].max(cb.kernel[0]), ca.kernel[1].max(cb.kernel[1])];
    let groups = if ca.groups == cb.groups { ca.groups } else { 1 };
    let wa = widen(ca, g.data(na.inputs[1]).unwrap(), g.shape(na.inputs[1]), cin, groups, kernel);
    let wb = widen(cb, g.data(nb.inputs[1]).unwrap(), g.shape(nb.inputs[1]), cin, groups, kernel);
    let w: Vec<f32> = wa.iter().zip(&wb).map(|(x, y)| x + y).collect();
    let bias_of = |n: &Node, c: &Conv| c.bias_input().map_or(vec![0.0; m], |i| g.data(n.inputs[i]).unwrap().to_vec());
    let bias: Vec<f32> = bias_of(&na, ca).iter().zip(bias_of(&nb, cb)).map(|(x, y)| x + y).collect();
    // All four pads follow the larger kernel of each axis.
    let big = |d: usize| if ca.kernel[d] >= cb.kernel[d] { ca } else { cb };
    let pads = [big(0).pads[0], big(1).pads[1], big(0).pads[2], big(1).pads[3]];
    let mut conv = Conv::new2(kernel, ca.stride, pads, groups);
    conv.bias = true;
    let wname = format!("{}.reparameterized", na.name);
    let wt: TensorId = g.add_const(wname.clone(), vec![m, cin / groups, kernel[0], kernel[1]], w);
    let bt = g.add_const(format!("{wname}_bias"), vec![m], bias);
    let mut fused = na.fused.clone();
    let merged = |n: &Node, c: &Conv| format!("merged Conv {}x{}{}", c.kernel[0], c.kernel[1], if c.groups > 1 { " dw" } else { "" }) + &n.fused.iter().map(|f| format!("+{f}")).collect::<String>();
    if fused.iter().all(|f| !f.starts_with("merged")) {
        fused = vec![merged(&na, ca)];
    }
    fused.push(merged(&nb, cb));
    let output = g.node(add).output;
    let name = common_prefix(&na.name, &nb.name);
    g.replace(add, Node::new(name, Op::Conv(conv), vec![na.inputs[0], wt, bt], output, fused));
    g.remove(a);
    g.remove(b);
}

/// The shared dotted prefix of two layer names (`blocks.0.0.ghost1.primary_rpr_conv.0` and
/// `...conv.1` give `blocks.0.0.ghost1.primary_rpr_conv`), or the first name.
fn common_prefix(a: &str, b: &str) -> String {
    let pa: Vec<&str> = a.split('.').collect();
    let pb: Vec<&str> = b.split('.').collect();
    let n = pa.iter().zip(&pb).take_while(|(x, y)| x == y).count();
    if n == 0 { a.to_string() } else { pa[..n].join(".") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::testing::{assert_preserves, konst};

    #[allow(clippy::too_many_arguments)]
    fn conv(g: &mut Graph, name: &str, x: TensorId, k: usize, pad: usize, stride: usize, groups: usize, m: usize, seed: u64) -> TensorId {
        let cin = g.shape(x)[1];
        let w = konst(g, &format!("{name}.w"), vec![m, cin / groups, k, k], seed);
        let b = konst(g, &format!("{name}.b"), vec![m], seed + 100);
        let mut c = Conv::new(k, stride, pad, groups);
        c.bias = true;
        g.push(name, Op::Conv(c), vec![x, w, b]).unwrap()
    }

    #[test]
    fn three_by_three_plus_one_by_one_plus_identity_becomes_one_conv() {
        for (stride, groups) in [(1, 1), (2, 1), (1, 4), (2, 4)] {
            let mut g = Graph::new("t");
            let x = g.add_input("x", vec![1, 4, 7, 6]);
            let a = conv(&mut g, "rep.0", x, 3, 1, stride, groups, 4, 1);
            let b = conv(&mut g, "rep.1", x, 1, 0, stride, groups, 4, 2);
            let s = g.push("sum", Op::Add, vec![a, b]).unwrap();
            let c = conv(&mut g, "rep.2", x, 3, 1, stride, groups, 4, 3);
            let s = g.push("sum2", Op::Add, vec![s, c]).unwrap();
            let mut y = s;
            if stride == 1 {
                // An identity branch as BatchNorm folding leaves it: a 1x1 depthwise conv.
                let id = conv(&mut g, "skip", x, 1, 0, 1, 4, 4, 4);
                y = g.push("sum3", Op::Add, vec![s, id]).unwrap();
            }
            g.outputs.push(y);
            assert!(assert_preserves(&mut g, run), "stride {stride} groups {groups}");
            assert_eq!(g.nodes.len(), 1, "stride {stride} groups {groups}");
            assert_eq!(g.nodes[0].name, "rep");
            assert!(g.nodes[0].fused.iter().filter(|f| f.starts_with("merged")).count() >= 3);
        }
    }

    #[test]
    fn misaligned_or_shared_branches_stay() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 2, 5, 5]);
        // Pad 0 on a 3x3 next to a 1x1 with pad 0: centres differ, shapes differ too.
        let a = conv(&mut g, "a", x, 3, 1, 1, 1, 2, 1);
        let b = conv(&mut g, "b", x, 1, 0, 1, 1, 2, 2);
        let s = g.push("sum", Op::Add, vec![a, b]).unwrap();
        let t = g.push("again", Op::Add, vec![s, a]).unwrap();
        g.outputs.push(t);
        assert!(!assert_preserves(&mut g, run));
    }
}
