//! Shared parts of the fuzz targets: the seed models and the structure-aware mutations of
//! `onnx_mutate`, the arbitrary DSL descriptions of `dsl`, the random networks of
//! `differential`. What each input is run through is
//! `ghostnet_compiler::fuzzing`, which the regression test `compiler/tests/fuzz_regressions.rs`
//! replays crashes with.
//!
//! With `GHOSTNET_FUZZ_DUMP=DIR` set, the structure-aware targets write the model or
//! description they are about to run to `DIR` (`mutated.onnx`, `spec.json`), which is how a
//! crash becomes a regression file: `GHOSTNET_FUZZ_DUMP=/tmp/x cargo fuzz run onnx_mutate
//! artifacts/onnx_mutate/crash-...`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;


use arbitrary::Arbitrary;
use ghostnet_compiler::back::onnx as writer;
use ghostnet_compiler::front::dsl::{self, weights::Source, Block, Spec, Version};
use ghostnet_compiler::fuzzing;
use onnx_protobuf::{AttributeProto, ModelProto, NodeProto, StringStringEntryProto, TensorProto};
use protobuf::Message;

/// See `fuzzing::data_dir`.
pub fn data_dir() -> &'static Path {
    fuzzing::data_dir()
}

fn dump(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("GHOSTNET_FUZZ_DUMP") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// With `GHOSTNET_FUZZ_LAST=FILE` set, every input is written to `FILE` before it runs, so
/// that a crash libFuzzer cannot catch (a stack overflow kills the process before its handler
/// can save the input) leaves its input behind.
pub fn remember(data: &[u8]) {
    static LAST: OnceLock<Option<PathBuf>> = OnceLock::new();
    if let Some(p) = LAST.get_or_init(|| std::env::var_os("GHOSTNET_FUZZ_LAST").map(PathBuf::from)) {
        std::fs::write(p, data).unwrap();
    }
}

/// `onnx_load`: raw bytes.
pub fn onnx_load(data: &[u8]) {
    remember(data);
    fuzzing::onnx_bytes(data, data_dir());
}

/// `safetensors_load`: raw bytes as the weights of the digits GhostNet or a tiny net.
pub fn safetensors_load(data: &[u8]) {
    remember(data);
    fuzzing::safetensors_load(data);
}

/// The seed models of `onnx_mutate`: the trained digits GhostNet (TorchScript export) and
/// tiny DSL nets through the ONNX writer.
pub fn seed_models() -> &'static [ModelProto] {
    static MODELS: OnceLock<Vec<ModelProto>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let mut models = vec![ModelProto::parse_from_bytes(include_bytes!("../../compiler/models/digits_ghostnet.onnx")).unwrap()];
        for (i, spec) in fuzzing::tiny_specs().iter().enumerate() {
            let g = dsl::build(spec, &mut Source::seeded(i as u64)).unwrap();
            models.push(ModelProto::parse_from_bytes(&writer::write(&g).unwrap()).unwrap());
        }
        models
    })
}

/// Op types a mutation may switch a node to: every supported one, some that are not.
const OPS: &[&str] = &[
    "Conv", "BatchNormalization", "Relu", "Sigmoid", "HardSigmoid", "Clip", "Add", "Sub", "Mul", "Div", "Concat", "Slice",
    "GlobalAveragePool", "ReduceMean", "AveragePool", "Resize", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Gemm",
    "MatMul", "Identity", "Dropout", "Constant", "Shape", "Size", "Cast", "Gather", "ConstantOfShape", "Range", "Neg",
    "Sqrt", "MaxPool", "Softmax", "",
];

/// Attribute names the front end reads.
const ATTRS: &[&str] = &[
    "kernel_shape", "strides", "pads", "dilations", "group", "auto_pad", "axis", "axes", "keepdims", "epsilon", "alpha",
    "beta", "transA", "transB", "starts", "ends", "to", "mode", "coordinate_transformation_mode", "nearest_mode",
    "ceil_mode", "count_include_pad", "allowzero", "value", "value_float", "value_floats", "value_int", "value_ints",
    "start", "end", "training_mode", "min", "max", "noop_with_empty_axes", "antialias",
];

const STRINGS: &[&str] = &[
    "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER", "nearest", "asymmetric", "floor", "linear", "half_pixel", "w.bin",
    "../w.bin", "/etc/passwd", "sub/../w.bin", "",
];

/// A small integer, usually, or any.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Int {
    Small(i8),
    Any(i64),
}

impl Int {
    fn get(self) -> i64 {
        match self {
            Int::Small(v) => v as i64,
            Int::Any(v) => v,
        }
    }
}

/// One structural change to a model.
#[derive(Arbitrary, Debug)]
pub enum Mutation {
    /// Set one dimension of an initializer (data untouched, so sizes disagree).
    InitDim { tensor: u16, axis: u8, value: Int },
    /// Replace an initializer's dims.
    InitDims { tensor: u16, dims: Vec<Int> },
    /// Cut or grow an initializer's raw data.
    InitLen { tensor: u16, len: u32 },
    /// Overwrite bytes of an initializer's data (NaN, Inf, huge values, ...).
    InitBytes { tensor: u16, at: u32, bytes: Vec<u8> },
    /// Change an initializer's element type.
    InitType { tensor: u16, code: i8 },
    /// Move an initializer's data to an external file.
    InitExternal { tensor: u16, location: u8, offset: Int, length: Option<Int> },
    /// Set an attribute (added if absent) to ints, a float, a string or a tensor.
    AttrInt { node: u16, attr: u8, value: Int },
    AttrInts { node: u16, attr: u8, values: Vec<Int> },
    AttrFloat { node: u16, attr: u8, value: f32 },
    AttrString { node: u16, attr: u8, value: u8 },
    AttrTensor { node: u16, attr: u8, dims: Vec<Int>, floats: Vec<f32>, ints: Vec<i64> },
    DropAttr { node: u16, attr: u8 },
    /// Change a node's op type or domain.
    OpType { node: u16, op: u8 },
    Domain { node: u16 },
    /// Rewire an input to another value's name (or a new name), drop one, add one.
    Input { node: u16, slot: u8, from: u16 },
    DropInput { node: u16, slot: u8 },
    AddInput { node: u16, from: u16 },
    /// Rename a node's output (to another value's name: duplicates, cycles).
    Output { node: u16, from: u16 },
    RemoveNode { node: u16 },
    DuplicateNode { node: u16 },
    SwapNodes { a: u16, b: u16 },
    Opset { version: Int },
    /// Change a dimension of the graph input, or its type.
    InputDim { axis: u8, value: Int },
    InputType { code: i8 },
    DropGraphOutput,
    AddGraphOutput { from: u16 },
}

/// An `onnx_mutate` input: a seed model and the changes to make to it.
#[derive(Arbitrary, Debug)]
pub struct MutateInput {
    pub seed: u8,
    pub mutations: Vec<Mutation>,
}

fn pick<T>(v: &mut [T], i: u16) -> Option<&mut T> {
    if v.is_empty() {
        None
    } else {
        let n = v.len();
        v.get_mut(i as usize % n)
    }
}

/// Every value name of the model: initializers, inputs, node outputs.
fn value_names(m: &ModelProto) -> Vec<String> {
    let g = m.graph.as_ref().unwrap();
    let mut names: Vec<String> = g.initializer.iter().map(|t| t.name.clone()).collect();
    names.extend(g.input.iter().map(|i| i.name.clone()));
    names.extend(g.node.iter().flat_map(|n| n.output.iter().cloned()));
    names
}

fn name_for(names: &[String], from: u16) -> String {
    // One in 17 is a name nothing defines.
    if names.is_empty() || from % 17 == 16 { format!("dangling_{from}") } else { names[from as usize % names.len()].clone() }
}

fn attr<'a>(n: &'a mut NodeProto, idx: u8) -> &'a mut AttributeProto {
    let name = ATTRS[idx as usize % ATTRS.len()];
    if let Some(i) = n.attribute.iter().position(|a| a.name == name) {
        return &mut n.attribute[i];
    }
    let mut a = AttributeProto::new();
    a.name = name.into();
    n.attribute.push(a);
    n.attribute.last_mut().unwrap()
}

fn set_type(a: &mut AttributeProto, t: onnx_protobuf::attribute_proto::AttributeType) {
    a.type_ = protobuf::EnumOrUnknown::new(t);
}

/// Applies `mutations` to a copy of the seed and returns it.
pub fn mutate(input: &MutateInput) -> ModelProto {
    use onnx_protobuf::attribute_proto::AttributeType as T;
    let seeds = seed_models();
    let mut m = seeds[input.seed as usize % seeds.len()].clone();
    for mutation in input.mutations.iter().take(16) {
        let names = value_names(&m);
        let g = m.graph.as_mut().unwrap();
        match mutation {
            Mutation::InitDim { tensor, axis, value } => {
                if let Some(t) = pick(&mut g.initializer, *tensor) {
                    if let Some(d) = pick(&mut t.dims, *axis as u16) {
                        *d = value.get();
                    } else {
                        t.dims.push(value.get());
                    }
                }
            }
            Mutation::InitDims { tensor, dims } => {
                if let Some(t) = pick(&mut g.initializer, *tensor) {
                    t.dims = dims.iter().take(8).map(|d| d.get()).collect();
                }
            }
            Mutation::InitLen { tensor, len } => {
                if let Some(t) = pick(&mut g.initializer, *tensor) {
                    t.raw_data.resize((*len as usize) % (1 << 16), 0x7f);
                }
            }
            Mutation::InitBytes { tensor, at, bytes } => {
                if let Some(t) = pick(&mut g.initializer, *tensor) {
                    if !t.raw_data.is_empty() {
                        let n = t.raw_data.len();
                        for (k, b) in bytes.iter().take(64).enumerate() {
                            t.raw_data[(*at as usize + k) % n] = *b;
                        }
                    }
                }
            }
            Mutation::InitType { tensor, code } => {
                if let Some(t) = pick(&mut g.initializer, *tensor) {
                    t.data_type = *code as i32;
                }
            }
            Mutation::InitExternal { tensor, location, offset, length } => {
                if let Some(t) = pick(&mut g.initializer, *tensor) {
                    t.raw_data.clear();
                    t.data_location = protobuf::EnumOrUnknown::new(onnx_protobuf::tensor_proto::DataLocation::EXTERNAL);
                    let kv = |k: &str, v: String| {
                        let mut e = StringStringEntryProto::new();
                        e.key = k.into();
                        e.value = v;
                        e
                    };
                    t.external_data = vec![kv("location", STRINGS[*location as usize % STRINGS.len()].into()), kv("offset", offset.get().to_string())];
                    if let Some(l) = length {
                        t.external_data.push(kv("length", l.get().to_string()));
                    }
                }
            }
            Mutation::AttrInt { node, attr: a, value } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    let a = attr(n, *a);
                    a.i = value.get();
                    set_type(a, T::INT);
                }
            }
            Mutation::AttrInts { node, attr: a, values } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    let a = attr(n, *a);
                    a.ints = values.iter().take(8).map(|v| v.get()).collect();
                    set_type(a, T::INTS);
                }
            }
            Mutation::AttrFloat { node, attr: a, value } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    let a = attr(n, *a);
                    a.f = *value;
                    set_type(a, T::FLOAT);
                }
            }
            Mutation::AttrString { node, attr: a, value } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    let a = attr(n, *a);
                    a.s = STRINGS[*value as usize % STRINGS.len()].as_bytes().to_vec();
                    set_type(a, T::STRING);
                }
            }
            Mutation::AttrTensor { node, attr: a, dims, floats, ints } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    let a = attr(n, *a);
                    let mut t = TensorProto::new();
                    t.dims = dims.iter().take(6).map(|d| d.get()).collect();
                    if ints.is_empty() {
                        t.data_type = 1;
                        t.float_data = floats.iter().take(64).copied().collect();
                    } else {
                        t.data_type = 7;
                        t.int64_data = ints.iter().take(64).copied().collect();
                    }
                    a.t = protobuf::MessageField::some(t);
                    set_type(a, T::TENSOR);
                }
            }
            Mutation::DropAttr { node, attr: a } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    let name = ATTRS[*a as usize % ATTRS.len()];
                    n.attribute.retain(|x| x.name != name);
                }
            }
            Mutation::OpType { node, op } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    n.op_type = OPS[*op as usize % OPS.len()].into();
                }
            }
            Mutation::Domain { node } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    n.domain = if n.domain.is_empty() { "com.microsoft".into() } else { String::new() };
                }
            }
            Mutation::Input { node, slot, from } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    if let Some(i) = pick(&mut n.input, *slot as u16) {
                        *i = name_for(&names, *from);
                    }
                }
            }
            Mutation::DropInput { node, slot } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    if !n.input.is_empty() {
                        let k = *slot as usize % n.input.len();
                        if slot % 2 == 0 { n.input.remove(k) } else { std::mem::take(&mut n.input[k]) };
                    }
                }
            }
            Mutation::AddInput { node, from } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    n.input.push(name_for(&names, *from));
                }
            }
            Mutation::Output { node, from } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    let name = name_for(&names, *from);
                    match n.output.first_mut() {
                        Some(o) => *o = name,
                        None => n.output.push(name),
                    }
                }
            }
            Mutation::RemoveNode { node } => {
                if !g.node.is_empty() {
                    let k = *node as usize % g.node.len();
                    g.node.remove(k);
                }
            }
            Mutation::DuplicateNode { node } => {
                if let Some(n) = pick(&mut g.node, *node) {
                    let copy = n.clone();
                    g.node.push(copy);
                }
            }
            Mutation::SwapNodes { a, b } => {
                if !g.node.is_empty() {
                    let n = g.node.len();
                    g.node.swap(*a as usize % n, *b as usize % n);
                }
            }
            Mutation::Opset { version } => {
                if let Some(o) = m.opset_import.first_mut() {
                    o.version = version.get();
                }
            }
            Mutation::InputDim { axis, value } => {
                let dims = g
                    .input
                    .first_mut()
                    .and_then(|i| i.type_.as_mut())
                    .and_then(|t| match t.value.as_mut() {
                        Some(onnx_protobuf::type_proto::Value::TensorType(tt)) => tt.shape.as_mut(),
                        _ => None,
                    })
                    .map(|s| &mut s.dim);
                if let Some(d) = dims.and_then(|d| pick(d, *axis as u16)) {
                    d.value = Some(onnx_protobuf::tensor_shape_proto::dimension::Value::DimValue(value.get()));
                }
            }
            Mutation::InputType { code } => {
                if let Some(Some(onnx_protobuf::type_proto::Value::TensorType(tt))) =
                    g.input.first_mut().and_then(|i| i.type_.as_mut()).map(|t| t.value.as_mut())
                {
                    tt.elem_type = *code as i32;
                }
            }
            Mutation::DropGraphOutput => {
                g.output.pop();
            }
            Mutation::AddGraphOutput { from } => {
                let mut v = onnx_protobuf::ValueInfoProto::new();
                v.name = name_for(&names, *from);
                g.output.push(v);
            }
        }
    }
    m
}

/// `onnx_mutate`: a seed model with structural changes.
pub fn onnx_mutate(input: &MutateInput) {
    let model = mutate(input);
    if std::env::var_os("GHOSTNET_FUZZ_DUMP").is_some() {
        dump("mutated.onnx", &model.write_to_bytes().unwrap());
    }
    fuzzing::onnx_model(&model, data_dir());
}

/// A size that is usually small and sometimes anything.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Size {
    Small(u8),
    Any(usize),
}

impl Size {
    fn get(self, small_max: usize) -> usize {
        match self {
            Size::Small(v) => v as usize % (small_max + 1),
            Size::Any(v) => v,
        }
    }
}

#[derive(Arbitrary, Debug)]
pub struct DslBlock {
    kernel: Size,
    expansion: Size,
    out: Size,
    se_ratio: f32,
    se: bool,
    stride: Size,
}

/// A `dsl` input: everything `Spec` has.
#[derive(Arbitrary, Debug)]
pub struct DslInput {
    v2: bool,
    width: Width,
    stages: Vec<Vec<DslBlock>>,
    input: [Size; 4],
    classes: Size,
    head: Size,
    features: bool,
    seed: u64,
}

/// The width multiplier: one of the usual ones, a small fraction, or any float.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Width {
    Usual(u8),
    Fraction(u8),
    Any(f32),
}

impl DslInput {
    pub fn spec(&self) -> Spec {
        let width = match self.width {
            Width::Usual(i) => [0.5, 0.75, 1.0, 1.3, 1.6, 0.25][i as usize % 6],
            Width::Fraction(i) => i as f32 / 64.0,
            Width::Any(w) => w,
        };
        let stages = self
            .stages
            .iter()
            .take(12)
            .map(|s| {
                s.iter()
                    .take(6)
                    .map(|b| {
                        Block::new(
                            b.kernel.get(7),
                            b.expansion.get(64),
                            b.out.get(48),
                            if b.se { if b.se_ratio.is_finite() { b.se_ratio } else { 0.25 } } else { 0.0 },
                            b.stride.get(3),
                        )
                    })
                    .collect()
            })
            .collect();
        // Mostly inputs that run in the interpreter in well under a second.
        let input = [self.input[0].get(2), self.input[1].get(4), self.input[2].get(24), self.input[3].get(24)];
        Spec {
            version: if self.v2 { Version::V2 } else { Version::V1 },
            width,
            stages,
            input,
            num_classes: self.classes.get(16),
            head_channels: self.head.get(64),
            features: self.features,
        }
    }
}

/// `differential`: the bytes choose a random network, which is compiled and run on every
/// kernel tier against the interpreter. With `GHOSTNET_FUZZ_DUMP` set, the network is
/// written to `network.onnx` there first.
pub fn differential(data: &[u8]) {
    remember(data);
    if std::env::var_os("GHOSTNET_FUZZ_DUMP").is_some() {
        let g = fuzzing::generate::network(&mut fuzzing::generate::Bytes::new(data));
        dump("network.onnx", &writer::write(&g).unwrap_or_default());
    }
    fuzzing::differential(data);
}

/// `dsl`: an arbitrary description with seeded weights.
pub fn dsl(input: &DslInput) {
    let spec = input.spec();
    if std::env::var_os("GHOSTNET_FUZZ_DUMP").is_some() {
        dump("spec.json", fuzzing::spec_to_json(&spec, input.seed).as_bytes());
    }
    fuzzing::dsl_spec(&spec, input.seed);
}
