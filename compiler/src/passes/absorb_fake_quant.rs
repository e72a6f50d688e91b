//! Compiles the activation quantization of a QDQ model ([`Op::FakeQuant`] nodes).
//!
//! With `int8`, a layer that can run in int8 and reads a fake-quantized tensor reads the
//! tensor before it instead and quantizes it itself with the same scale and zero point
//! (its [`Quant`]; the weight scales are filled in after fusion). What else reads a
//! fake-quantized tensor gets its clamp, `clamp(x, (lo - zero) * scale, (hi - zero) * scale)`,
//! without the rounding (a zero point at the bottom of the range is how a quantizer folds a
//! ReLU away, so the clamp must stay). Without `int8` every one becomes that clamp.

use crate::ir::{Act, Graph, Op, Precision, QParams, Quant};
use crate::quantize::int8_capable;

pub fn run(g: &mut Graph, int8: bool) -> bool {
    let mut changed = false;
    for i in 0..g.nodes.len() {
        let Op::FakeQuant(q) = g.nodes[i].op else { continue };
        let (x, y) = (g.nodes[i].inputs[0], g.nodes[i].output);
        if int8 {
            for c in 0..g.nodes.len() {
                let reads_once_as_input = g.nodes[c].inputs[0] == y && g.nodes[c].inputs[1..].iter().all(|&t| t != y);
                if reads_once_as_input && int8_capable(g, &g.nodes[c]) {
                    let input = QParams { scale: q.scale, zero: (q.zero - q.lo) as u8 };
                    let n = &mut g.nodes[c];
                    n.inputs[0] = x;
                    n.quant = Some(Box::new(Quant { input, weight_scales: Vec::new(), error_db: None }));
                    n.precision = Precision::Int8;
                }
            }
        }
        let (min, max) = q.range();
        let n = &mut g.nodes[i];
        n.op = Op::Activation(Act::Clip { min, max });
        n.fused.push("QuantizeLinear+DequantizeLinear".into());
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Conv, FakeQuant};
    use crate::passes::testing::konst;

    #[test]
    fn int8_layers_take_the_quantization_and_the_rest_the_clamp() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", vec![1, 8, 4, 4]);
        let fq = g.push("q", Op::FakeQuant(FakeQuant { scale: 0.05, zero: 3, lo: 0, hi: 255 }), vec![x]).unwrap();
        let w = konst(&mut g, "w", vec![8, 8, 1, 1], 1);
        let pw = g.push("pw", Op::Conv(Conv::new(1, 1, 0, 1)), vec![fq, w]).unwrap();
        let wd = konst(&mut g, "wd", vec![8, 1, 3, 3], 2);
        let dw = g.push("dw", Op::Conv(Conv::new(3, 1, 1, 8)), vec![fq, wd]).unwrap();
        let y = g.push("add", Op::Add, vec![pw, dw]).unwrap();
        g.outputs.push(y);
        assert!(run(&mut g, true));
        g.validate().unwrap();
        assert_eq!(g.nodes[0].op, Op::Activation(Act::Clip { min: -0.15, max: 0.05 * 252.0 }));
        let pw = &g.nodes[1];
        assert_eq!((pw.inputs[0], pw.precision), (x, Precision::Int8));
        assert_eq!(pw.quant.as_ref().unwrap().input, QParams { scale: 0.05, zero: 3 });
        assert_eq!(g.nodes[2].inputs[0], fq, "the depthwise convolution reads the clamp");
        assert!(!run(&mut g, true));
    }
}
