//! Writes an IR graph as an ONNX model (opset 17, or 19 when an op needs it), so that ONNX
//! Runtime can check graphs built by the DSL or by the tests. Fused ops have no ONNX form;
//! write graphs before the fusion passes.

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_shape_proto::{dimension, Dimension};
use onnx_protobuf::type_proto::{self, Value as TypeValue};
use onnx_protobuf::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};
use protobuf::{EnumOrUnknown, Message, MessageField};

use crate::front::onnx::tensor::dtype;
use crate::ir::{Act, CoordMode, Graph, NearestMode, Op, PadMode, ResizeMode, Shape};

/// The opset written.
pub const OPSET: i64 = 17;

/// The opset written for graphs that use what opset 17 lacks: wrap padding, the
/// `half_pixel_symmetric` Resize, dilated average pooling.
pub const OPSET_19: i64 = 19;

/// The opset `graph` needs.
pub fn opset(graph: &Graph) -> i64 {
    let needs_19 = graph.nodes.iter().any(|n| match &n.op {
        Op::Pad { mode: PadMode::Wrap, .. } => true,
        Op::Resize(r) => r.coord == CoordMode::HalfPixelSymmetric,
        Op::AveragePool(p) => p.dilation != [1, 1],
        _ => false,
    });
    if needs_19 { OPSET_19 } else { OPSET }
}

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
    let mut w = Writer { g: GraphProto::new(), graph, extra: 0, opset: opset(graph) };
    w.g.name = graph.name.clone();
    for (i, t) in graph.tensors.iter().enumerate() {
        if let Some(data) = &t.data {
            w.g.initializer.push(float_tensor(&w.names(i), &t.shape, data));
        }
    }
    for &i in &graph.inputs {
        w.g.input.push(value_info(&w.names(i.index()), graph.shape(i)));
    }
    for n in &graph.nodes {
        w.node(n)?;
    }
    // An output a node computes, once, is that node's tensor; any other (the input, a
    // constant, one listed twice) goes through an Identity, as ONNX wants.
    let defined: std::collections::HashSet<_> = graph.nodes.iter().map(|n| n.output).collect();
    for (k, &o) in graph.outputs.iter().enumerate() {
        let plain = defined.contains(&o) && !graph.outputs[..k].contains(&o);
        let name = if plain { w.names(o.index()) } else { format!("output#{k}") };
        if !plain {
            let mut id = NodeProto::new();
            id.op_type = "Identity".into();
            id.name = name.clone();
            id.input = vec![w.names(o.index())];
            id.output = vec![name.clone()];
            w.g.node.push(id);
        }
        w.g.output.push(value_info(&name, graph.shape(o)));
    }
    let mut model = ModelProto::new();
    model.ir_version = 8;
    model.producer_name = "ghostnet-compiler".into();
    model.producer_version = env!("CARGO_PKG_VERSION").into();
    let mut opset = OperatorSetIdProto::new();
    opset.version = w.opset;
    model.opset_import.push(opset);
    model.graph = MessageField::some(w.g);
    model.write_to_bytes().map_err(|e| Error::Encode(e.to_string()))
}

struct Writer<'a> {
    g: GraphProto,
    graph: &'a Graph,
    extra: usize,
    opset: i64,
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
        self.floats_const(&vec![], &[value])
    }

    fn floats_const(&mut self, shape: &Shape, values: &[f32]) -> String {
        self.extra += 1;
        let name = format!("const#{}", self.extra);
        self.g.initializer.push(float_tensor(&name, shape, values));
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
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::GlobalAveragePool | Op::GlobalMaxPool | Op::MatMul | Op::Identity => {}
            Op::Concat { axis } => p.attribute.push(int("axis", *axis as i64)),
            Op::Slice { axes } if axes.iter().all(|a| a.step == 1) => {
                let starts: Vec<i64> = axes.iter().map(|a| a.start as i64).collect();
                let ends: Vec<i64> = axes.iter().map(|a| (a.start + a.len) as i64).collect();
                let ax: Vec<i64> = axes.iter().map(|a| a.axis as i64).collect();
                for v in [starts, ends, ax] {
                    let c = self.int_const(&v);
                    p.input.push(c);
                }
            }
            Op::Slice { axes } => {
                let starts: Vec<i64> = axes.iter().map(|a| a.start as i64).collect();
                // Past the first index, a negative step's end is "before 0", which ONNX spells
                // as the smallest integer (-1 would mean the last index).
                let end = |a: &crate::ir::SliceAxis| match a.start as i64 + a.len as i64 * a.step as i64 {
                    e if e < 0 => i64::MIN,
                    e => e,
                };
                let ends: Vec<i64> = axes.iter().map(end).collect();
                let ax: Vec<i64> = axes.iter().map(|a| a.axis as i64).collect();
                let steps: Vec<i64> = axes.iter().map(|a| a.step as i64).collect();
                for v in [starts, ends, ax, steps] {
                    let c = self.int_const(&v);
                    p.input.push(c);
                }
            }
            Op::Transpose { perm } => p.attribute.push(ints("perm", perm)),
            Op::Pad { pads, mode } => {
                let flat: Vec<i64> = pads.iter().map(|p| p[0] as i64).chain(pads.iter().map(|p| p[1] as i64)).collect();
                let c = self.int_const(&flat);
                p.input.push(c);
                let name = match mode {
                    PadMode::Constant(v) => {
                        let c = self.float_const(*v);
                        p.input.push(c);
                        "constant"
                    }
                    PadMode::Reflect => "reflect",
                    PadMode::Edge => "edge",
                    PadMode::Wrap => "wrap",
                };
                p.attribute.push(string("mode", name));
            }
            Op::ReduceMean { axes, keepdims } => {
                if self.opset >= 18 {
                    let c = self.int_const(&axes.iter().map(|&a| a as i64).collect::<Vec<_>>());
                    p.input.push(c);
                } else {
                    p.attribute.push(ints("axes", axes));
                }
                p.attribute.push(int("keepdims", *keepdims as i64));
            }
            Op::AveragePool(pool) | Op::MaxPool(pool) => {
                p.attribute.push(ints("kernel_shape", &pool.kernel));
                p.attribute.push(ints("strides", &pool.stride));
                p.attribute.push(ints("pads", &pool.pads));
                if pool.dilation != [1, 1] {
                    p.attribute.push(ints("dilations", &pool.dilation));
                }
                if pool.ceil_mode {
                    p.attribute.push(int("ceil_mode", 1));
                }
                if matches!(n.op, Op::AveragePool(_)) {
                    p.attribute.push(int("count_include_pad", pool.count_include_pad as i64));
                }
            }
            Op::Resize(r) => {
                let x = self.graph.shape(n.inputs[0]);
                // Sizes when the scales are the ones ONNX Runtime derives from them.
                let derived = x.iter().zip(&r.sizes).zip(&r.scales).all(|((&i, &o), &s)| o as f32 / i as f32 == s);
                if derived {
                    let sizes = self.int_const(&r.sizes.iter().map(|&d| d as i64).collect::<Vec<_>>());
                    p.input.extend([String::new(), String::new(), sizes]);
                } else {
                    let scales = self.floats_const(&vec![r.scales.len()], &r.scales);
                    p.input.extend([String::new(), scales]);
                }
                let (mode, nearest) = match r.mode {
                    ResizeMode::Linear => ("linear", None),
                    ResizeMode::Nearest(m) => ("nearest", Some(m)),
                };
                p.attribute.push(string("mode", mode));
                let coord = match r.coord {
                    CoordMode::HalfPixel => "half_pixel",
                    CoordMode::HalfPixelSymmetric => "half_pixel_symmetric",
                    CoordMode::PytorchHalfPixel => "pytorch_half_pixel",
                    CoordMode::AlignCorners => "align_corners",
                    CoordMode::Asymmetric => "asymmetric",
                    CoordMode::TfHalfPixelForNn => "tf_half_pixel_for_nn",
                };
                p.attribute.push(string("coordinate_transformation_mode", coord));
                if let Some(m) = nearest {
                    let m = match m {
                        NearestMode::RoundPreferFloor => "round_prefer_floor",
                        NearestMode::RoundPreferCeil => "round_prefer_ceil",
                        NearestMode::Floor => "floor",
                        NearestMode::Ceil => "ceil",
                    };
                    p.attribute.push(string("nearest_mode", m));
                }
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
