//! Writes an IR graph as an ONNX model (opset 17), so that ONNX Runtime can check graphs
//! built by the DSL. Fused ops have no ONNX form; write graphs before the fusion passes.

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_shape_proto::{dimension, Dimension};
use onnx_protobuf::type_proto::{self, Value as TypeValue};
use onnx_protobuf::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};
use protobuf::{EnumOrUnknown, Message, MessageField};

use crate::front::onnx::tensor::dtype;
use crate::ir::{Act, Graph, Op, Shape};

/// The opset written.
pub const OPSET: i64 = 17;

/// Why a graph has no ONNX form.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("node '{node}' is a fused {op}, which has no ONNX form; write the graph before fusion")]
    Fused { node: String, op: &'static str },
    #[error("cannot serialize the model: {0}")]
    Encode(String),
}

/// The ONNX bytes of `graph`.
pub fn write(graph: &Graph) -> Result<Vec<u8>, Error> {
    let mut w = Writer { g: GraphProto::new(), graph, extra: 0 };
    w.g.name = graph.name.clone();
    for (i, t) in graph.tensors.iter().enumerate() {
        if let Some(data) = &t.data {
            w.g.initializer.push(float_tensor(&w.names(i), &t.shape, data));
        }
    }
    for &i in &graph.inputs {
        w.g.input.push(value_info(&w.names(i.index()), graph.shape(i)));
    }
    for &o in &graph.outputs {
        w.g.output.push(value_info(&w.names(o.index()), graph.shape(o)));
    }
    for n in &graph.nodes {
        w.node(n)?;
    }
    let mut model = ModelProto::new();
    model.ir_version = 8;
    model.producer_name = "ghostnet-compiler".into();
    model.producer_version = env!("CARGO_PKG_VERSION").into();
    let mut opset = OperatorSetIdProto::new();
    opset.version = OPSET;
    model.opset_import.push(opset);
    model.graph = MessageField::some(w.g);
    model.write_to_bytes().map_err(|e| Error::Encode(e.to_string()))
}

struct Writer<'a> {
    g: GraphProto,
    graph: &'a Graph,
    extra: usize,
}

impl Writer<'_> {
    /// Tensor names must be unique in ONNX; IR names need not be, so the id is appended.
    fn names(&self, i: usize) -> String {
        format!("{}#{i}", self.graph.tensors[i].name)
    }

    fn int_const(&mut self, values: &[i64]) -> String {
        self.extra += 1;
        let name = format!("const#{}", self.extra);
        let mut t = TensorProto::new();
        t.name = name.clone();
        t.data_type = dtype::INT64;
        t.dims = vec![values.len() as i64];
        t.int64_data = values.to_vec();
        self.g.initializer.push(t);
        name
    }

    /// The zero point of `q` as a scalar of its integer type (uint8 for 0..=255, else int8).
    fn zero_point(&mut self, q: &crate::ir::FakeQuant) -> String {
        self.extra += 1;
        let name = format!("const#{}", self.extra);
        let mut t = TensorProto::new();
        t.name = name.clone();
        t.data_type = if q.lo == 0 { dtype::UINT8 } else { dtype::INT8 };
        t.raw_data = vec![q.zero as i8 as u8];
        self.g.initializer.push(t);
        name
    }

    fn float_const(&mut self, value: f32) -> String {
        self.extra += 1;
        let name = format!("const#{}", self.extra);
        self.g.initializer.push(float_tensor(&name, &vec![], &[value]));
        name
    }

    fn node(&mut self, n: &crate::ir::Node) -> Result<(), Error> {
        let mut p = NodeProto::new();
        p.name = n.name.clone();
        p.input = n.inputs.iter().map(|t| self.names(t.index())).collect();
        p.output = vec![self.names(n.output.index())];
        let fused = || Error::Fused { node: n.name.clone(), op: n.op.name() };
        p.op_type = n.op.name().to_string();
        match &n.op {
            Op::Conv(c) => {
                if c.act.is_some() || c.residual || c.scale {
                    return Err(fused());
                }
                p.attribute.push(ints("kernel_shape", &c.kernel));
                p.attribute.push(ints("strides", &c.stride));
                p.attribute.push(ints("pads", &c.pads));
                p.attribute.push(ints("dilations", &c.dilation));
                p.attribute.push(int("group", c.groups as i64));
            }
            Op::BatchNorm { epsilon } => p.attribute.push(float("epsilon", *epsilon)),
            Op::Activation(a) => match *a {
                Act::Relu | Act::Sigmoid => {}
                Act::HardSigmoid { alpha, beta } => {
                    p.attribute.push(float("alpha", alpha));
                    p.attribute.push(float("beta", beta));
                }
                Act::Clip { min, max } => {
                    let (lo, hi) = (self.float_const(min), self.float_const(max));
                    p.input.push(lo);
                    p.input.push(hi);
                }
            },
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::GlobalAveragePool | Op::MatMul | Op::Identity => {}
            Op::Concat { axis } => p.attribute.push(int("axis", *axis as i64)),
            Op::Slice { axes } => {
                let starts: Vec<i64> = axes.iter().map(|a| a.start as i64).collect();
                let ends: Vec<i64> = axes.iter().map(|a| a.end as i64).collect();
                let ax: Vec<i64> = axes.iter().map(|a| a.axis as i64).collect();
                for v in [starts, ends, ax] {
                    let c = self.int_const(&v);
                    p.input.push(c);
                }
            }
            Op::ReduceMean { axes, keepdims } => {
                p.attribute.push(ints("axes", axes));
                p.attribute.push(int("keepdims", *keepdims as i64));
            }
            Op::AveragePool(pool) => {
                p.attribute.push(ints("kernel_shape", &pool.kernel));
                p.attribute.push(ints("strides", &pool.stride));
                p.attribute.push(ints("pads", &pool.pads));
                p.attribute.push(int("count_include_pad", pool.count_include_pad as i64));
            }
            Op::Resize { size } => {
                let x = self.graph.shape(n.inputs[0]);
                let sizes = self.int_const(&[x[0] as i64, x[1] as i64, size[0] as i64, size[1] as i64]);
                p.input.extend([String::new(), String::new(), sizes]);
                p.attribute.push(string("mode", "nearest"));
                p.attribute.push(string("coordinate_transformation_mode", "asymmetric"));
                p.attribute.push(string("nearest_mode", "floor"));
            }
            Op::Reshape { shape } => {
                let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
                let c = self.int_const(&dims);
                p.input.push(c);
            }
            Op::Gemm { alpha, beta, trans_a, trans_b } => {
                p.attribute.push(float("alpha", *alpha));
                p.attribute.push(float("beta", *beta));
                p.attribute.push(int("transA", *trans_a as i64));
                p.attribute.push(int("transB", *trans_b as i64));
            }
            Op::FakeQuant(q) => {
                // QuantizeLinear into an integer tensor, then DequantizeLinear (this node).
                let (scale, zero) = (self.float_const(q.scale), self.zero_point(q));
                self.extra += 1;
                let mut quant = NodeProto::new();
                quant.name = format!("{}/quantize", n.name);
                quant.op_type = "QuantizeLinear".into();
                quant.input = vec![p.input[0].clone(), scale.clone(), zero.clone()];
                quant.output = vec![format!("quantized#{}", self.extra)];
                p.op_type = "DequantizeLinear".into();
                p.input = vec![quant.output[0].clone(), scale, zero];
                self.g.node.push(quant);
            }
            Op::Ghost { .. } | Op::SqueezeExcite { .. } => return Err(fused()),
        }
        self.g.node.push(p);
        Ok(())
    }
}

fn float_tensor(name: &str, shape: &Shape, data: &[f32]) -> TensorProto {
    let mut t = TensorProto::new();
    t.name = name.to_string();
    t.data_type = dtype::FLOAT;
    t.dims = shape.iter().map(|&d| d as i64).collect();
    t.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    t
}

fn value_info(name: &str, shape: &Shape) -> ValueInfoProto {
    let mut s = TensorShapeProto::new();
    for &d in shape {
        let mut dim = Dimension::new();
        dim.value = Some(dimension::Value::DimValue(d as i64));
        s.dim.push(dim);
    }
    let mut tt = type_proto::Tensor::new();
    tt.elem_type = dtype::FLOAT;
    tt.shape = MessageField::some(s);
    let mut ty = TypeProto::new();
    ty.value = Some(TypeValue::TensorType(tt));
    let mut v = ValueInfoProto::new();
    v.name = name.to_string();
    v.type_ = MessageField::some(ty);
    v
}

fn attr(name: &str, kind: AttributeType) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.to_string();
    a.type_ = EnumOrUnknown::new(kind);
    a
}

fn int(name: &str, v: i64) -> AttributeProto {
    let mut a = attr(name, AttributeType::INT);
    a.i = v;
    a
}

fn ints<T: Copy + TryInto<i64>>(name: &str, v: &[T]) -> AttributeProto {
    let mut a = attr(name, AttributeType::INTS);
    a.ints = v.iter().map(|&x| x.try_into().unwrap_or(i64::MAX)).collect();
    a
}

fn float(name: &str, v: f32) -> AttributeProto {
    let mut a = attr(name, AttributeType::FLOAT);
    a.f = v;
    a
}

fn string(name: &str, v: &str) -> AttributeProto {
    let mut a = attr(name, AttributeType::STRING);
    a.s = v.as_bytes().to_vec();
    a
}
