//! Models already quantized by another tool, in QDQ form (`QuantizeLinear` /
//! `DequantizeLinear` pairs, as ONNX Runtime's `quantize_static` writes them).
//!
//! - `DequantizeLinear` of a constant (weights, biases) becomes the `f32` constant it
//!   stands for; 8-bit weights keep their scales ([`ir::WeightScales`]) for int8 compiling.
//! - `QuantizeLinear` of a computed tensor waits for the `DequantizeLinear` that reads it
//!   with the same parameters: the two become one [`ir::FakeQuant`] node, which the
//!   interpreter runs as ONNX Runtime does and int8 compiling turns into the quantization
//!   of the layers it feeds.

use super::attr::NodeView;
use super::tensor::dtype;
use super::{node_name, Converter, Input, Value};
use crate::ir::{self, FakeQuant, WeightScales};

/// A `QuantizeLinear` output waiting for its `DequantizeLinear`.
#[derive(Clone, Debug)]
pub(super) struct Pending {
    x: ir::TensorId,
    q: FakeQuant,
    node: String,
}

impl Converter<'_> {
    /// The value of a `QuantizeLinear` or `DequantizeLinear` node.
    pub(super) fn qdq(&mut self, node: NodeView<'_>, inputs: &[Option<Input>]) -> Result<Value, String> {
        let x = inputs.first().cloned().flatten().ok_or("input 0 is missing")?;
        match (node.op_type(), &x.value) {
            ("DequantizeLinear", Value::Const(h)) => {
                let q = h.as_i64s()?;
                let (scales, zeros, axis) = self.params(node, inputs, &h.shape)?;
                let inner: usize = h.shape.get(axis + 1..).map_or(1, |s| s.iter().product());
                let channel = |i: usize| if scales.len() == 1 { 0 } else { (i / inner) % scales.len() };
                let data: Vec<f32> = q.iter().enumerate().map(|(i, &v)| (v - zeros[channel(i)]) as f32 * scales[channel(i)]).collect();
                let id = self.graph.add_const(x.name.clone(), h.shape.clone(), data);
                let eight_bit = matches!(self.int_types.get(&x.name), Some(&(dtype::INT8 | dtype::UINT8)));
                if eight_bit && zeros.iter().all(|&z| z == 0) {
                    self.graph.tensor_mut(id).int8_scales = Some(WeightScales { axis, scales });
                }
                Ok(Value::Tensor(id))
            }
            ("QuantizeLinear", Value::Tensor(t)) => {
                let (scales, zeros, _) = self.params(node, inputs, &self.graph.shape(*t).clone())?;
                if scales.len() != 1 {
                    return Err("per-axis quantization of activations is not supported (only of constant weights)".into());
                }
                let (lo, hi) = self.range(inputs)?;
                let q = FakeQuant { scale: scales[0], zero: zeros[0] as i32, lo, hi };
                let output = node.proto.output.first().cloned().unwrap_or_default();
                self.pending_q.insert(output, Pending { x: *t, q, node: node_name(node.proto).to_string() });
                Ok(Value::Unavailable(format!(
                    "holds 8-bit integers (the output of QuantizeLinear '{}'); only a DequantizeLinear may read them",
                    node_name(node.proto)
                )))
            }
            ("DequantizeLinear", Value::Unavailable(_)) => {
                let Some(pending) = self.pending_q.get(&x.name).cloned() else {
                    return Err(format!("input '{}' is not an integer tensor this compiler can read", x.name));
                };
                let (scales, zeros, _) = self.params(node, inputs, &self.graph.shape(pending.x).clone())?;
                let (lo, hi) = self.range(inputs)?;
                let q = FakeQuant { scale: scales[0], zero: zeros[0] as i32, lo, hi };
                if scales.len() != 1 || q != pending.q {
                    return Err(format!(
                        "its scale and zero point differ from those of QuantizeLinear '{}'; only matching pairs are supported",
                        pending.node
                    ));
                }
                self.push(node, ir::Op::FakeQuant(q), vec![pending.x])
            }
            ("QuantizeLinear", _) => Err("quantizing a constant is not supported".into()),
            (op, _) => Err(format!("{op} of this input is not supported")),
        }
    }

    /// Scales (one, or one per index of the axis), zero points (as many; zeros when absent)
    /// and the axis of a Q/DQ node over a tensor of shape `shape`.
    fn params(&self, node: NodeView<'_>, inputs: &[Option<Input>], shape: &[usize]) -> Result<(Vec<f32>, Vec<i64>, usize), String> {
        let scale = self.constant(inputs, 1, "the scale")?.ok_or("the scale (input 1) is missing")?;
        let scales = scale.as_f32s();
        if scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(format!("the scales must be positive and finite, got {:?}", &scales[..scales.len().min(4)]));
        }
        let zeros = match self.constant(inputs, 2, "the zero point")? {
            Some(z) => z.as_i64s()?,
            None => vec![0; scales.len()],
        };
        if zeros.len() != scales.len() {
            return Err(format!("{} scales but {} zero points", scales.len(), zeros.len()));
        }
        let rank = shape.len() as i64;
        let axis = node.int("axis", 1);
        let axis = if axis < 0 { axis + rank } else { axis };
        if scales.len() > 1 && !(0..rank).contains(&axis) {
            return Err(format!("axis {axis} is out of range for a tensor of rank {rank}"));
        }
        let axis = axis.clamp(0, (rank - 1).max(0)) as usize;
        if scales.len() > 1 && shape.get(axis) != Some(&scales.len()) {
            return Err(format!("{} scales for axis {axis} of a tensor of shape {}", scales.len(), ir::ShapeDisplay(shape)));
        }
        Ok((scales, zeros, axis))
    }

    /// The integer range of a Q/DQ node: that of its zero point's type (uint8 by default).
    fn range(&self, inputs: &[Option<Input>]) -> Result<(i32, i32), String> {
        let zero = inputs.get(2).cloned().flatten();
        match zero.map(|z| self.int_types.get(&z.name).copied()) {
            None | Some(Some(dtype::UINT8)) => Ok((0, 255)),
            Some(Some(dtype::INT8)) => Ok((-128, 127)),
            _ => Err("only 8-bit quantization (uint8 or int8 zero points) is supported".into()),
        }
    }
}
