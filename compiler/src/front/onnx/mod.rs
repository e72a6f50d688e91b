//! The ONNX front end: a model file (and its external data) to a static-shape [`Graph`].
//!
//! Both PyTorch exporters are covered: the TorchScript one (opset 17: Constant nodes feeding
//! Slice, GlobalAveragePool, Flatten) and the dynamo one (opset 18 to 20: ReduceMean with an
//! axes input, Reshape, weights in `model.onnx.data`). Every node whose inputs are all
//! known is evaluated here ([`fold`]), so shape subgraphs become attributes of the ops they
//! feed; the remaining nodes become IR ops.

mod attr;
pub mod fold;
mod qdq;
pub mod tensor;
mod wire;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use onnx_protobuf::{ModelProto, NodeProto};
use protobuf::Message;

use self::attr::NodeView;
use self::tensor::{dtype, ExternalFiles, HostTensor};
use crate::ir::{self, Act, Conv, CoordMode, Graph, NearestMode, Op, PadMode, Pool, Resize, ResizeMode, Shape, ShapeDisplay, SliceAxis, TensorId};
use crate::Limits;

/// The oldest and newest default-domain opsets this front end reads.
pub const MIN_OPSET: i64 = 7;
pub const MAX_OPSET: i64 = 23;

/// Ops the front end turns into IR nodes (besides the ones [`fold`] evaluates).
const SUPPORTED: &[&str] = &[
    "Constant", "Shape", "Size", "Conv", "BatchNormalization", "Relu", "Sigmoid", "HardSigmoid", "Clip", "Add", "Sub",
    "Mul", "Div", "Concat", "Slice", "GlobalAveragePool", "ReduceMean", "AveragePool", "Resize", "Reshape", "Flatten",
    "Squeeze", "Unsqueeze", "Gemm", "MatMul", "Identity", "Dropout", "Transpose", "Pad", "Split", "MaxPool",
    "GlobalMaxPool", "QuantizeLinear", "DequantizeLinear",
];

/// How to load a model.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Fixes the input shape (NCHW); needed when the model has dynamic dimensions other
    /// than the batch, which defaults to 1.
    pub input_shape: Option<Vec<usize>>,
    pub limits: Limits,
    /// Tensors to make the outputs instead of the model's: ONNX tensor names, or layer
    /// names as `ghostc inspect` lists them (the output of the last node of that layer).
    pub outputs: Vec<String>,
}

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read '{path}': {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("'{path}' is {size} bytes, over the limit of {limit} bytes (raise it with --max-file-bytes)")]
    FileTooLarge { path: PathBuf, size: u64, limit: u64 },
    #[error("'{path}' is not an ONNX model: {reason}")]
    NotOnnx { path: PathBuf, reason: String },
    #[error("'{path}' uses opset {version} of the default ONNX domain; ghostc reads opsets {MIN_OPSET} to {MAX_OPSET}")]
    Opset { path: PathBuf, version: i64 },
    #[error("'{path}' has {} node(s) with unsupported ops: {}", nodes.len(), List(nodes))]
    Unsupported { path: PathBuf, nodes: Vec<String> },
    #[error("'{path}' cannot be compiled, {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "))]
    Invalid { path: PathBuf, problems: Vec<String> },
}

struct List<'a>(&'a [String]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// Loads `path` into a validated graph.
pub fn load(path: &Path, options: &Options) -> Result<Graph, Error> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > options.limits.max_file_bytes {
        return Err(Error::FileTooLarge { path: path.to_path_buf(), size, limit: options.limits.max_file_bytes });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    from_bytes(&bytes, &name, path, &dir, options)
}

/// Loads a model from memory; external data is looked up in `dir`, and messages name `path`.
pub fn from_bytes(bytes: &[u8], name: &str, path: &Path, dir: &Path, options: &Options) -> Result<Graph, Error> {
    let not_onnx = |reason: String| Error::NotOnnx { path: path.to_path_buf(), reason };
    wire::check_groups(bytes).map_err(not_onnx)?;
    let model = ModelProto::parse_from_bytes(bytes).map_err(|e| not_onnx(e.to_string()))?;
    from_model(&model, name, path, dir, options)
}

/// Loads a parsed model; external data is looked up in `dir`, and messages name `path`.
pub fn from_model(model: &ModelProto, name: &str, path: &Path, dir: &Path, options: &Options) -> Result<Graph, Error> {
    let not_onnx = |reason: String| Error::NotOnnx { path: path.to_path_buf(), reason };
    let Some(graph) = model.graph.as_ref() else {
        return Err(not_onnx("it has no graph".into()));
    };
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or_else(|| not_onnx("it declares no opset for the default domain".into()))?;
    if !(MIN_OPSET..=MAX_OPSET).contains(&opset) {
        return Err(Error::Opset { path: path.to_path_buf(), version: opset });
    }
    let unsupported: Vec<String> = graph
        .node
        .iter()
        .filter(|n| {
            let default_domain = n.domain.is_empty() || n.domain == "ai.onnx";
            !default_domain || !(SUPPORTED.contains(&n.op_type.as_str()) || fold::FOLDABLE.contains(&n.op_type.as_str()))
        })
        .map(|n| {
            let op = if n.domain.is_empty() { n.op_type.clone() } else { format!("{}::{}", n.domain, n.op_type) };
            format!("'{}' ({op})", node_name(n))
        })
        .collect();
    if !unsupported.is_empty() {
        return Err(Error::Unsupported { path: path.to_path_buf(), nodes: unsupported });
    }
    let invalid = |problems: Vec<String>| Error::Invalid { path: path.to_path_buf(), problems };
    let limits = &options.limits;
    if graph.node.len() > limits.max_nodes {
        return Err(invalid(vec![format!(
            "the graph has {} nodes, over the limit of {} (raise it with --max-nodes)",
            graph.node.len(),
            limits.max_nodes
        )]));
    }
    let order = topo_order(graph, limits).map_err(invalid)?;
    let mut cx = Converter {
        opset,
        graph: Graph::new(name),
        env: HashMap::new(),
        problems: Vec::new(),
        ext: ExternalFiles::new(dir),
        limits,
        weight_bytes: 0,
        weight_limit_reported: false,
        ir_consts: HashMap::new(),
        int_types: HashMap::new(),
        pending_q: HashMap::new(),
    };
    cx.initializers(graph);
    cx.inputs(graph, options.input_shape.as_deref());
    for i in order {
        cx.node(NodeView { proto: &graph.node[i] });
    }
    if options.outputs.is_empty() {
        cx.outputs(graph);
    } else {
        cx.chosen_outputs(&options.outputs);
    }
    cx.problems.extend(cx.graph.nonfinite_constants());
    if !cx.problems.is_empty() {
        return Err(invalid(cx.problems));
    }
    cx.graph.validate().map_err(|e| invalid(e.0.iter().map(ToString::to_string).collect()))?;
    Ok(cx.graph)
}

fn node_name(n: &NodeProto) -> &str {
    if !n.name.is_empty() {
        &n.name
    } else {
        n.output.first().map_or("<unnamed>", String::as_str)
    }
}

/// The PyTorch module a node comes from, as a dotted path like `blocks.3.0.ghost1.primary_conv.0`,
/// when the exporter recorded it: the TorchScript exporter in the node name
/// (`/blocks/blocks.3/blocks.3.0/ghost1/primary_conv/primary_conv.0/Conv`), the dynamo
/// exporter in the weight's name (`blocks.3.0.ghost1.primary_conv.0.weight`).
fn module_path(n: &NodeProto) -> Option<String> {
    if let Some(scope) = n.name.strip_prefix('/') {
        let parts: Vec<&str> = scope.split('/').collect();
        let mut path = String::new();
        let mut prev = "";
        for part in &parts[..parts.len().saturating_sub(1)] {
            match part.strip_prefix(prev).and_then(|r| r.strip_prefix('.')) {
                Some(rest) if !prev.is_empty() => {
                    path.push('.');
                    path.push_str(rest);
                }
                _ => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(part);
                }
            }
            prev = part;
        }
        return (!path.is_empty()).then_some(path);
    }
    n.input.get(1).and_then(|w| w.strip_suffix(".weight")).filter(|p| !p.contains("::")).map(str::to_string)
}

/// Node indices in an order where every node follows the nodes it reads from. Exporters
/// already sort their nodes; this accepts any order and reports reads of names nothing
/// defines, cycles, and graphs deeper than the limit.
fn topo_order(graph: &onnx_protobuf::GraphProto, limits: &Limits) -> Result<Vec<usize>, Vec<String>> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    let mut problems = Vec::new();
    for (i, n) in graph.node.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if producer.insert(o, i).is_some() {
                problems.push(format!("tensor '{o}' is defined by more than one node"));
            }
        }
    }
    let mut known: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for t in &graph.initializer {
        if !known.insert(t.name.as_str()) {
            problems.push(format!("initializer '{}' is defined more than once", t.name));
        }
        if producer.contains_key(t.name.as_str()) {
            problems.push(format!("tensor '{}' is both an initializer and a node output", t.name));
        }
    }
    let mut inputs = std::collections::HashSet::new();
    for i in &graph.input {
        if !inputs.insert(i.name.as_str()) {
            problems.push(format!("graph input '{}' is declared more than once", i.name));
        }
        if producer.contains_key(i.name.as_str()) {
            problems.push(format!("tensor '{}' is both a graph input and a node output", i.name));
        }
    }
    known.extend(inputs);
    let mut indegree = vec![0usize; graph.node.len()];
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); graph.node.len()];
    for (i, n) in graph.node.iter().enumerate() {
        for inp in n.input.iter().filter(|s| !s.is_empty()) {
            if let Some(&p) = producer.get(inp.as_str()) {
                indegree[i] += 1;
                readers[p].push(i);
            } else if !known.contains(inp.as_str()) {
                problems.push(format!("node '{}' ({}) reads '{inp}', which nothing defines", node_name(n), n.op_type));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut depth = vec![0usize; graph.node.len()];
    let mut queue: VecDeque<usize> = (0..graph.node.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(graph.node.len());
    while let Some(i) = queue.pop_front() {
        order.push(i);
        if depth[i] > limits.max_depth {
            return Err(vec![format!(
                "the graph is deeper than the limit of {} nodes (raise it with --max-depth)",
                limits.max_depth
            )]);
        }
        for &r in &readers[i] {
            depth[r] = depth[r].max(depth[i] + 1);
            indegree[r] -= 1;
            if indegree[r] == 0 {
                queue.push_back(r);
            }
        }
    }
    if order.len() < graph.node.len() {
        let stuck: Vec<String> = (0..graph.node.len())
            .filter(|&i| indegree[i] > 0)
            .take(8)
            .map(|i| format!("'{}'", node_name(&graph.node[i])))
            .collect();
        return Err(vec![format!("the graph has a cycle through node(s) {}", stuck.join(", "))]);
    }
    Ok(order)
}

/// What an ONNX value name stands for during conversion.
#[derive(Clone)]
enum Value {
    Const(Rc<HostTensor>),
    Tensor(TensorId),
    /// Its producer failed; the failure is already reported.
    Failed,
    /// An output that only exists in training mode (e.g. a Dropout mask).
    Unavailable(String),
}

struct Converter<'a> {
    opset: i64,
    graph: Graph,
    env: HashMap<String, Value>,
    problems: Vec<String>,
    ext: ExternalFiles,
    limits: &'a Limits,
    weight_bytes: u64,
    weight_limit_reported: bool,
    /// ONNX constant name to the IR constant made from it, so shared weights stay shared.
    ir_consts: HashMap<String, TensorId>,
    /// The element type of each integer initializer (Q/DQ zero points, quantized weights).
    int_types: HashMap<String, i32>,
    /// `QuantizeLinear` outputs waiting for their `DequantizeLinear`.
    pending_q: HashMap<String, qdq::Pending>,
}

/// An input of the node being converted.
#[derive(Clone)]
struct Input {
    name: String,
    value: Value,
}

impl Converter<'_> {
    fn initializers(&mut self, graph: &onnx_protobuf::GraphProto) {
        for t in &graph.initializer {
            if [dtype::INT8, dtype::UINT8, dtype::INT32].contains(&t.data_type) {
                self.int_types.insert(t.name.clone(), t.data_type);
            }
            match tensor::decode(t, &mut self.ext, self.limits) {
                Ok(h) => {
                    self.weight_bytes += h.len() as u64 * 4;
                    self.env.insert(t.name.clone(), Value::Const(Rc::new(h)));
                }
                Err(e) => {
                    self.problems.push(format!("initializer '{}' {e}", t.name));
                    self.env.insert(t.name.clone(), Value::Failed);
                }
            }
        }
        if self.weight_bytes > self.limits.max_weight_bytes {
            self.weight_limit_reported = true;
            self.problems.push(format!(
                "the weights take {} bytes, over the limit of {} (raise it with --max-weight-bytes)",
                self.weight_bytes, self.limits.max_weight_bytes
            ));
        }
    }

    fn inputs(&mut self, graph: &onnx_protobuf::GraphProto, fixed: Option<&[usize]>) {
        let runtime: Vec<_> = graph.input.iter().filter(|i| !self.env.contains_key(&i.name)).collect();
        if runtime.len() != 1 {
            self.problems.push(format!("the graph must have exactly one input, it has {}", runtime.len()));
        }
        for input in runtime {
            let ty = match input.type_.as_ref().and_then(|t| t.value.as_ref()) {
                Some(onnx_protobuf::type_proto::Value::TensorType(t)) => t,
                _ => {
                    self.problems.push(format!("input '{}' is not a tensor", input.name));
                    continue;
                }
            };
            if ty.elem_type != dtype::FLOAT {
                self.problems.push(format!("input '{}' is {}, only float is supported", input.name, dtype::name(ty.elem_type)));
            }
            let dims = ty.shape.as_ref().map(|s| s.dim.as_slice()).unwrap_or(&[]);
            match input_shape(&input.name, dims, fixed).and_then(|s| fold::check_size(&s, self.limits).map(|_| s).map_err(|e| format!("input '{}': {e}", input.name))) {
                Ok(shape) => {
                    let id = self.graph.add_input(input.name.clone(), shape);
                    self.env.insert(input.name.clone(), Value::Tensor(id));
                }
                Err(e) => {
                    self.problems.push(e);
                    self.env.insert(input.name.clone(), Value::Failed);
                }
            }
        }
    }

    fn outputs(&mut self, graph: &onnx_protobuf::GraphProto) {
        if graph.output.is_empty() {
            self.problems.push("the graph declares no outputs".into());
        }
        for o in &graph.output {
            match self.env.get(&o.name) {
                Some(Value::Tensor(id)) => {
                    self.graph.outputs.push(*id);
                    self.graph.output_names.push(o.name.clone());
                }
                Some(Value::Const(_)) => self.problems.push(format!("output '{}' is a constant", o.name)),
                Some(Value::Unavailable(why)) => self.problems.push(format!("output '{}' {why}", o.name)),
                Some(Value::Failed) => {}
                None => self.problems.push(format!("output '{}' is never defined", o.name)),
            }
        }
    }

    /// The outputs asked for by name instead of the model's.
    fn chosen_outputs(&mut self, names: &[String]) {
        for name in names {
            let found = match self.env.get(name) {
                Some(Value::Tensor(id)) => Ok(*id),
                Some(Value::Const(_)) => Err(format!("output '{name}' is a constant, not computed by the network")),
                Some(Value::Unavailable(why)) => Err(format!("output '{name}' {why}")),
                Some(Value::Failed) => continue,
                None => self.graph.find_tensor(name).ok_or_else(|| {
                    format!("output '{name}' is neither a tensor of the model nor a layer or module (`ghostc inspect` lists the layers)")
                }),
            };
            match found {
                Ok(id) => {
                    self.graph.outputs.push(id);
                    self.graph.output_names.push(name.clone());
                }
                Err(e) => self.problems.push(e),
            }
        }
    }

    fn node(&mut self, node: NodeView<'_>) {
        let proto = node.proto;
        let inputs: Vec<Option<Input>> = proto
            .input
            .iter()
            .map(|n| {
                (!n.is_empty()).then(|| Input { name: n.clone(), value: self.env.get(n).cloned().unwrap_or(Value::Failed) })
            })
            .collect();
        let fail = |cx: &mut Self| {
            for o in &proto.output {
                cx.env.insert(o.clone(), Value::Failed);
            }
        };
        if inputs.iter().flatten().any(|i| matches!(i.value, Value::Failed)) {
            return fail(self);
        }
        // Only a DequantizeLinear reads the integers a QuantizeLinear made.
        let dequantizes = proto.op_type == "DequantizeLinear" && inputs.first().cloned().flatten().is_some_and(|i| self.pending_q.contains_key(&i.name));
        if let Some(Value::Unavailable(why)) = inputs.iter().flatten().skip(dequantizes as usize).map(|i| &i.value).find(|v| matches!(v, Value::Unavailable(_))) {
            let why = why.clone();
            self.problems.push(format!("node '{}' ({}) reads a tensor that {why}", node_name(proto), proto.op_type));
            return fail(self);
        }
        let converted = if node.op_type() == "Split" { self.split(node, &inputs) } else { self.convert(node, &inputs).map(|v| vec![v]) };
        match converted {
            Ok(values) if values.iter().any(|v| matches!(v, Value::Const(h) if !self.charge(h))) => {
                if !self.weight_limit_reported {
                    self.weight_limit_reported = true;
                    self.problems.push(format!(
                        "node '{}' ({}): the constants computed so far take {} bytes, over the limit of {} (raise it with --max-weight-bytes)",
                        node_name(proto),
                        proto.op_type,
                        self.weight_bytes,
                        self.limits.max_weight_bytes
                    ));
                }
                fail(self);
            }
            Ok(values) => {
                for (i, o) in proto.output.iter().enumerate() {
                    let why = match proto.op_type.as_str() {
                        "Dropout" | "BatchNormalization" => "exists only in training mode",
                        _ => "is not supported",
                    };
                    let v = values.get(i).cloned().unwrap_or_else(|| {
                        Value::Unavailable(format!("is output {i} of {} '{}', which {why}", proto.op_type, node_name(proto)))
                    });
                    self.env.insert(o.clone(), v);
                }
            }
            Err(message) => {
                self.problems.push(format!("node '{}' ({}): {message}", node_name(proto), proto.op_type));
                fail(self);
            }
        }
    }

    /// Counts a computed constant (a Constant node or a folded result) against the weight
    /// limit, like the initializers; `false` when it takes the total over the limit.
    fn charge(&mut self, h: &HostTensor) -> bool {
        let width = match h.data {
            tensor::HostData::F32(_) => 4,
            tensor::HostData::I64(_) => 8,
        };
        self.weight_bytes = self.weight_bytes.saturating_add(h.len() as u64 * width);
        self.weight_bytes <= self.limits.max_weight_bytes
    }

    /// An IR tensor for input `i`: activations as they are, constants as IR constants.
    fn tensor(&mut self, inputs: &[Option<Input>], i: usize) -> Result<TensorId, String> {
        let input = inputs.get(i).cloned().flatten().ok_or_else(|| format!("input {i} is missing"))?;
        match input.value {
            Value::Tensor(id) => Ok(id),
            Value::Const(h) => {
                if let Some(&id) = self.ir_consts.get(&input.name) {
                    return Ok(id);
                }
                let id = self.graph.add_const(input.name.clone(), h.shape.clone(), h.as_f32s());
                self.ir_consts.insert(input.name, id);
                Ok(id)
            }
            Value::Failed | Value::Unavailable(_) => unreachable!("filtered before conversion"),
        }
    }

    fn opt_tensor(&mut self, inputs: &[Option<Input>], i: usize) -> Result<Option<TensorId>, String> {
        match inputs.get(i) {
            Some(Some(_)) => self.tensor(inputs, i).map(Some),
            _ => Ok(None),
        }
    }

    /// Input `i` as a compile-time constant, or `None` if absent.
    fn constant(&self, inputs: &[Option<Input>], i: usize, what: &str) -> Result<Option<Rc<HostTensor>>, String> {
        match inputs.get(i).cloned().flatten().map(|i| i.value) {
            None => Ok(None),
            Some(Value::Const(h)) => Ok(Some(h)),
            Some(_) => Err(format!("{what} (input {i}) must be known at compile time, but it depends on the network input")),
        }
    }

    fn push(&mut self, node: NodeView<'_>, op: Op, inputs: Vec<TensorId>) -> Result<Value, String> {
        let name = module_path(node.proto).unwrap_or_else(|| node_name(node.proto).to_string());
        // Shapes are checked before anything is built on them: a later node could
        // otherwise overflow computing with them, and running them would exhaust memory.
        for &i in &inputs {
            let t = self.graph.tensor(i);
            if t.shape.contains(&0) {
                return Err(format!("input '{}' has shape {}, with a zero dimension", t.name, ShapeDisplay(&t.shape)));
            }
        }
        let shapes: Vec<&Shape> = inputs.iter().map(|&i| self.graph.shape(i)).collect();
        let out = op.infer_shape(&shapes)?;
        if out.contains(&0) {
            return Err(format!("the result has shape {}, with a zero dimension", ShapeDisplay(&out)));
        }
        fold::check_size(&out, self.limits)?;
        self.graph.push(name, op, inputs).map(Value::Tensor)
    }

    fn rank_of(&self, inputs: &[Option<Input>], i: usize) -> Option<usize> {
        match inputs.get(i).cloned().flatten()?.value {
            Value::Tensor(id) => Some(self.graph.shape(id).len()),
            Value::Const(h) => Some(h.shape.len()),
            _ => None,
        }
    }

    fn shape_of(&self, inputs: &[Option<Input>], i: usize) -> Option<Shape> {
        match inputs.get(i).cloned().flatten()?.value {
            Value::Tensor(id) => Some(self.graph.shape(id).clone()),
            Value::Const(h) => Some(h.shape.clone()),
            _ => None,
        }
    }

    fn convert(&mut self, node: NodeView<'_>, inputs: &[Option<Input>]) -> Result<Value, String> {
        let op = node.op_type();
        let all_const = inputs.iter().flatten().all(|i| matches!(i.value, Value::Const(_)));
        if op == "Constant" {
            return constant_node(node, &mut self.ext, self.limits).map(|h| Value::Const(Rc::new(h)));
        }
        if op == "Shape" || op == "Size" {
            let shape = self.shape_of(inputs, 0).ok_or("input 0 is missing")?;
            let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
            if op == "Size" {
                return Ok(Value::Const(Rc::new(HostTensor::i64(vec![], vec![ir::numel(&shape) as i64]))));
            }
            let r = dims.len() as i64;
            let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
            let start = clampi(node.int("start", 0));
            let end = clampi(node.int("end", r));
            let dims = dims[start..end.max(start)].to_vec();
            return Ok(Value::Const(Rc::new(HostTensor::i64(vec![dims.len()], dims))));
        }
        if all_const && fold::FOLDABLE.contains(&op) {
            let consts: Vec<Option<Rc<HostTensor>>> = inputs
                .iter()
                .map(|i| i.as_ref().and_then(|i| if let Value::Const(h) = &i.value { Some(h.clone()) } else { None }))
                .collect();
            let refs: Vec<Option<&HostTensor>> = consts.iter().map(|c| c.as_deref()).collect();
            return fold::eval(&node, &refs, self.opset, self.limits).map(|h| Value::Const(Rc::new(h)));
        }
        match op {
            "Identity" | "Dropout" => {
                if op == "Dropout"
                    && let Some(t) = self.constant(inputs, 2, "training_mode")?
                        && t.as_i64s()?.first().copied().unwrap_or(0) != 0 {
                            return Err("training_mode is true; only inference is supported".into());
                        }
                let x = self.tensor(inputs, 0)?;
                Ok(Value::Tensor(x))
            }
            "Conv" => self.conv(node, inputs),
            "QuantizeLinear" | "DequantizeLinear" => self.qdq(node, inputs),
            "BatchNormalization" => {
                if node.int("training_mode", 0) != 0 {
                    return Err("training_mode is set; only inference is supported".into());
                }
                let ids = (0..5).map(|i| self.tensor(inputs, i)).collect::<Result<Vec<_>, _>>()?;
                self.push(node, Op::BatchNorm { epsilon: node.float("epsilon", 1e-5) }, ids)
            }
            "Relu" | "Sigmoid" | "HardSigmoid" | "Clip" => {
                let act = match op {
                    "Relu" => Act::Relu,
                    "Sigmoid" => Act::Sigmoid,
                    "HardSigmoid" => Act::HardSigmoid { alpha: node.float("alpha", 0.2), beta: node.float("beta", 0.5) },
                    _ => {
                        let bound = |cx: &Self, i: usize, attr: &str, default: f32| -> Result<f32, String> {
                            if cx.opset < 11 {
                                return Ok(node.float(attr, default));
                            }
                            Ok(cx.constant(inputs, i, attr)?.map_or(default, |h| h.as_f32s().first().copied().unwrap_or(default)))
                        };
                        Act::Clip { min: bound(self, 1, "min", f32::NEG_INFINITY)?, max: bound(self, 2, "max", f32::INFINITY)? }
                    }
                };
                let x = self.tensor(inputs, 0)?;
                self.push(node, Op::Activation(act), vec![x])
            }
            "Add" | "Sub" | "Mul" | "Div" => {
                let (a, b) = (self.tensor(inputs, 0)?, self.tensor(inputs, 1)?);
                let op = match op {
                    "Add" => Op::Add,
                    "Sub" => Op::Sub,
                    "Mul" => Op::Mul,
                    _ => Op::Div,
                };
                self.push(node, op, vec![a, b])
            }
            "Concat" => {
                let rank = self.rank_of(inputs, 0).ok_or("has no inputs")?;
                let axis = fold::norm_axis(node.int("axis", 0), rank)?;
                let ids = (0..inputs.len()).filter(|&i| inputs[i].is_some()).map(|i| self.tensor(inputs, i)).collect::<Result<Vec<_>, _>>()?;
                self.push(node, Op::Concat { axis }, ids)
            }
            "Slice" => {
                let shape = self.shape_of(inputs, 0).ok_or("input 0 is missing")?;
                let ints = |cx: &Self, i: usize, what: &str| -> Result<Option<Vec<i64>>, String> {
                    cx.constant(inputs, i, what)?.map(|h| h.as_i64s()).transpose()
                };
                let (starts, ends, axes, steps) = if self.opset >= 10 {
                    (
                        ints(self, 1, "starts")?.ok_or("starts input is missing")?,
                        ints(self, 2, "ends")?.ok_or("ends input is missing")?,
                        ints(self, 3, "axes")?,
                        ints(self, 4, "steps")?,
                    )
                } else {
                    (node.ints("starts").to_vec(), node.ints("ends").to_vec(), node.try_ints("axes").map(<[i64]>::to_vec), None)
                };
                let ranges = fold::slice_ranges(&shape, &starts, &ends, axes.as_deref(), steps.as_deref())?;
                let mut axes = Vec::new();
                for r in ranges {
                    // Clamped by `slice_ranges`: start and end inside the axis (or -1 for a
                    // negative step's end), the count never negative.
                    let len = if r.step > 0 { (r.end - r.start).max(0) as u64 } else { (r.start - r.end).max(0) as u64 };
                    let len = len.div_ceil(r.step.unsigned_abs());
                    let start = if len == 0 { 0 } else { r.start as usize };
                    axes.push(SliceAxis { axis: r.axis, start, len: len as usize, step: r.step as isize });
                }
                let x = self.tensor(inputs, 0)?;
                self.push(node, Op::Slice { axes }, vec![x])
            }
            "GlobalAveragePool" => {
                let x = self.tensor(inputs, 0)?;
                self.push(node, Op::GlobalAveragePool, vec![x])
            }
            "ReduceMean" => {
                let rank = self.rank_of(inputs, 0).ok_or("input 0 is missing")?;
                let axes = if self.opset >= 18 {
                    self.constant(inputs, 1, "axes")?.map(|h| h.as_i64s()).transpose()?
                } else {
                    node.try_ints("axes").map(<[i64]>::to_vec)
                };
                let keepdims = node.int("keepdims", 1) != 0;
                let x = self.tensor(inputs, 0)?;
                let axes: Vec<usize> = match axes.filter(|a| !a.is_empty()) {
                    Some(a) => a.iter().map(|&a| fold::norm_axis(a, rank)).collect::<Result<_, _>>()?,
                    None if node.int("noop_with_empty_axes", 0) != 0 => return Ok(Value::Tensor(x)),
                    None => (0..rank).collect(),
                };
                let mut axes = axes;
                axes.sort_unstable();
                axes.dedup();
                self.push(node, Op::ReduceMean { axes, keepdims }, vec![x])
            }
            "AveragePool" | "MaxPool" => self.pool(node, inputs),
            "GlobalMaxPool" => {
                let x = self.tensor(inputs, 0)?;
                self.push(node, Op::GlobalMaxPool, vec![x])
            }
            "Transpose" => {
                let rank = self.rank_of(inputs, 0).ok_or("input 0 is missing")?;
                let perm = match node.try_ints("perm") {
                    Some(p) => p.iter().map(|&a| usize::try_from(a).map_err(|_| format!("perm {p:?} has a negative axis"))).collect::<Result<Vec<_>, _>>()?,
                    None => (0..rank).rev().collect(),
                };
                let x = self.tensor(inputs, 0)?;
                self.push(node, Op::Transpose { perm }, vec![x])
            }
            "Pad" => self.pad(node, inputs),
            "Resize" => self.resize(node, inputs),
            "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => {
                let shape = self.shape_of(inputs, 0).ok_or("input 0 is missing")?;
                let target = match op {
                    "Reshape" => {
                        let t = self.constant(inputs, 1, "shape")?.ok_or("shape input is missing")?;
                        fold::reshape_target(&shape, &t.as_i64s()?, node.int("allowzero", 0) != 0)?
                    }
                    "Flatten" => fold::flatten_shape(&shape, node.int("axis", 1))?,
                    _ => {
                        let axes = if self.opset >= 13 {
                            self.constant(inputs, 1, "axes")?.map(|h| h.as_i64s()).transpose()?.unwrap_or_default()
                        } else {
                            node.ints("axes").to_vec()
                        };
                        if op == "Squeeze" { fold::squeeze_shape(&shape, &axes)? } else { fold::unsqueeze_shape(&shape, &axes)? }
                    }
                };
                let x = self.tensor(inputs, 0)?;
                self.push(node, Op::Reshape { shape: target }, vec![x])
            }
            "Gemm" => {
                let op = Op::Gemm {
                    alpha: node.float("alpha", 1.0),
                    beta: node.float("beta", 1.0),
                    trans_a: node.int("transA", 0) != 0,
                    trans_b: node.int("transB", 0) != 0,
                };
                let mut ids = vec![self.tensor(inputs, 0)?, self.tensor(inputs, 1)?];
                ids.extend(self.opt_tensor(inputs, 2)?);
                self.push(node, op, ids)
            }
            "MatMul" => {
                let (a, b) = (self.tensor(inputs, 0)?, self.tensor(inputs, 1)?);
                self.push(node, Op::MatMul, vec![a, b])
            }
            other => Err(format!("{other} on tensors computed from the input is not supported")),
        }
    }

    fn conv(&mut self, node: NodeView<'_>, inputs: &[Option<Input>]) -> Result<Value, String> {
        let x_shape = self.shape_of(inputs, 0).ok_or("input 0 is missing")?;
        let w_shape = self.shape_of(inputs, 1).ok_or("weight input is missing")?;
        if w_shape.len() != 4 || x_shape.len() != 4 {
            return Err(format!(
                "only 2-D convolutions are supported (input {}, weight {})",
                ShapeDisplay(&x_shape),
                ShapeDisplay(&w_shape)
            ));
        }
        let kernel = node.usizes("kernel_shape")?.unwrap_or_else(|| w_shape[2..].to_vec());
        let stride = node.usizes("strides")?.unwrap_or(vec![1, 1]);
        let dilation = node.usizes("dilations")?.unwrap_or(vec![1, 1]);
        if kernel.len() != 2 || stride.len() != 2 || dilation.len() != 2 {
            return Err("kernel_shape, strides and dilations must have two values".into());
        }
        if stride.contains(&0) {
            return Err(format!("strides {stride:?} must be positive"));
        }
        if dilation.contains(&0) {
            return Err(format!("dilations {dilation:?} must be positive"));
        }
        let group = node.int("group", 1);
        let groups = usize::try_from(group).ok().filter(|&g| g > 0).ok_or_else(|| format!("group {group} must be positive"))?;
        let pads = window_pads(node, &x_shape, &kernel, &stride, &dilation)?;
        let mut conv = Conv::new2([kernel[0], kernel[1]], [stride[0], stride[1]], pads, groups);
        conv.dilation = [dilation[0], dilation[1]];
        let mut ids = vec![self.tensor(inputs, 0)?, self.tensor(inputs, 1)?];
        if let Some(b) = self.opt_tensor(inputs, 2)? {
            conv.bias = true;
            ids.push(b);
        }
        self.push(node, Op::Conv(conv), ids)
    }

    fn resize(&mut self, node: NodeView<'_>, inputs: &[Option<Input>]) -> Result<Value, String> {
        let shape = self.shape_of(inputs, 0).ok_or("input 0 is missing")?;
        let rank = shape.len();
        let mode = node.string("mode", "nearest");
        let mut coord = match self.opset {
            ..=10 => "asymmetric".to_string(),
            _ => node.string("coordinate_transformation_mode", "half_pixel"),
        };
        let nearest = match self.opset {
            ..=10 => "floor".to_string(),
            _ => node.string("nearest_mode", "round_prefer_floor"),
        };
        let nearest = match nearest.as_str() {
            "round_prefer_floor" => NearestMode::RoundPreferFloor,
            "round_prefer_ceil" => NearestMode::RoundPreferCeil,
            "floor" => NearestMode::Floor,
            "ceil" => NearestMode::Ceil,
            other => return Err(format!("nearest_mode '{other}' is not supported")),
        };
        let mode = match mode.as_str() {
            "nearest" => ResizeMode::Nearest(nearest),
            "linear" => ResizeMode::Linear,
            other => return Err(format!("mode '{other}' is not supported; only nearest and linear")),
        };
        let axes: Vec<usize> = match node.try_ints("axes") {
            Some(a) => a.iter().map(|&a| fold::norm_axis(a, rank)).collect::<Result<_, _>>()?,
            None => (0..rank).collect(),
        };
        let (scales_at, sizes_at) = if self.opset >= 11 { (2, 3) } else { (1, usize::MAX) };
        let sizes = self.constant(inputs, sizes_at, "sizes")?.filter(|h| !h.is_empty());
        let given = self.constant(inputs, scales_at, "scales")?.filter(|h| !h.is_empty());
        let mut out = shape.clone();
        let mut scales = vec![1f32; rank];
        match (sizes, given) {
            (Some(s), _) => {
                let s = s.as_i64s()?;
                if s.len() != axes.len() {
                    return Err(format!("sizes {s:?} must have {} values", axes.len()));
                }
                let s: Vec<usize> = s.iter().map(|&d| usize::try_from(d).map_err(|_| format!("size {d} is negative"))).collect::<Result<_, _>>()?;
                // ONNX Runtime's scales: out / in in f32, or one scale for all axes that
                // keeps the aspect ratio.
                let ratio: Vec<f32> = axes.iter().zip(&s).map(|(&a, &o)| o as f32 / shape[a] as f32).collect();
                let policy = node.string("keep_aspect_ratio_policy", "stretch");
                let keep = match policy.as_str() {
                    "stretch" => None,
                    "not_larger" => Some(ratio.iter().copied().fold(f32::INFINITY, f32::min)),
                    "not_smaller" => Some(ratio.iter().copied().fold(0.0, f32::max)),
                    other => return Err(format!("keep_aspect_ratio_policy '{other}' is not supported")),
                };
                for (k, &a) in axes.iter().enumerate() {
                    match keep {
                        None => (out[a], scales[a]) = (s[k], ratio[k]),
                        Some(r) => (out[a], scales[a]) = (((shape[a] as f32 * r).round()) as usize, r),
                    }
                }
            }
            (None, Some(g)) => {
                let g = g.as_f32s();
                if g.len() != axes.len() {
                    return Err(format!("scales {g:?} must have {} values", axes.len()));
                }
                for (k, &a) in axes.iter().enumerate() {
                    if !(g[k].is_finite() && g[k] > 0.0) {
                        return Err(format!("scale {} is not a positive number", g[k]));
                    }
                    (out[a], scales[a]) = ((shape[a] as f32 * g[k]) as usize, g[k]);
                }
            }
            (None, None) => return Err("neither scales nor sizes is given".into()),
        }
        let down = scales.iter().any(|&s| s < 1.0);
        if self.opset <= 10 && matches!(mode, ResizeMode::Nearest(_)) && down {
            return Err("nearest downsampling in opset 10 (which rounds up) is not supported; export with opset 11 or later".into());
        }
        if node.int("antialias", 0) != 0 && down && mode == ResizeMode::Linear {
            return Err("antialiased downsampling is not supported".into());
        }
        if coord == "tf_crop_and_resize" {
            return Err("coordinate_transformation_mode 'tf_crop_and_resize' is not supported".into());
        }
        if mode == ResizeMode::Linear && coord == "tf_half_pixel_for_nn" {
            coord = "half_pixel".into();
        }
        let coord = match coord.as_str() {
            "half_pixel" => CoordMode::HalfPixel,
            "half_pixel_symmetric" => CoordMode::HalfPixelSymmetric,
            "pytorch_half_pixel" => CoordMode::PytorchHalfPixel,
            "align_corners" => CoordMode::AlignCorners,
            "asymmetric" => CoordMode::Asymmetric,
            "tf_half_pixel_for_nn" => CoordMode::TfHalfPixelForNn,
            other => return Err(format!("coordinate_transformation_mode '{other}' is not supported")),
        };
        let x = self.tensor(inputs, 0)?;
        self.push(node, Op::Resize(Resize { sizes: out, scales, mode, coord }), vec![x])
    }

    /// AveragePool and MaxPool.
    fn pool(&mut self, node: NodeView<'_>, inputs: &[Option<Input>]) -> Result<Value, String> {
        let x_shape = self.shape_of(inputs, 0).ok_or("input 0 is missing")?;
        if x_shape.len() != 4 {
            return Err(format!("only 2-D pooling is supported, the input is {}", ShapeDisplay(&x_shape)));
        }
        let kernel = node.usizes("kernel_shape")?.ok_or("kernel_shape is missing")?;
        let stride = node.usizes("strides")?.unwrap_or(vec![1, 1]);
        let dilation = node.usizes("dilations")?.unwrap_or(vec![1, 1]);
        if kernel.len() != 2 || stride.len() != 2 || dilation.len() != 2 {
            return Err(format!("kernel_shape {kernel:?}, strides {stride:?} and dilations {dilation:?} must have two values (2-D pooling)"));
        }
        if stride.contains(&0) || dilation.contains(&0) {
            return Err(format!("strides {stride:?} and dilations {dilation:?} must be positive"));
        }
        let pads = window_pads(node, &x_shape, &kernel, &stride, &dilation)?;
        let pool = Pool {
            kernel: [kernel[0], kernel[1]],
            stride: [stride[0], stride[1]],
            pads,
            dilation: [dilation[0], dilation[1]],
            ceil_mode: node.int("ceil_mode", 0) != 0,
            count_include_pad: node.int("count_include_pad", 0) != 0,
        };
        let x = self.tensor(inputs, 0)?;
        let op = if node.op_type() == "MaxPool" { Op::MaxPool(pool) } else { Op::AveragePool(pool) };
        self.push(node, op, vec![x])
    }

    /// Pad; negative pads crop (a Slice before the Pad).
    fn pad(&mut self, node: NodeView<'_>, inputs: &[Option<Input>]) -> Result<Value, String> {
        let shape = self.shape_of(inputs, 0).ok_or("input 0 is missing")?;
        let rank = shape.len();
        let (pads, value, axes) = if self.opset < 11 {
            (node.ints("pads").to_vec(), node.float("value", 0.0), None)
        } else {
            let pads = self.constant(inputs, 1, "pads")?.ok_or("pads input is missing")?.as_i64s()?;
            let value = self.constant(inputs, 2, "constant_value")?.map_or(0.0, |h| h.as_f32s().first().copied().unwrap_or(0.0));
            let axes = self.constant(inputs, 3, "axes")?.map(|h| h.as_i64s()).transpose()?;
            (pads, value, axes)
        };
        let axes: Vec<usize> = match axes {
            Some(a) => a.iter().map(|&a| fold::norm_axis(a, rank)).collect::<Result<_, _>>()?,
            None => (0..rank).collect(),
        };
        if pads.len() != 2 * axes.len() {
            return Err(format!("pads {pads:?} must have {} values", 2 * axes.len()));
        }
        let mode = match node.string("mode", "constant").as_str() {
            "constant" => PadMode::Constant(value),
            "reflect" => PadMode::Reflect,
            "edge" => PadMode::Edge,
            "wrap" => PadMode::Wrap,
            other => return Err(format!("mode '{other}' is not supported")),
        };
        let mut grow = vec![[0usize; 2]; rank];
        let mut crop = Vec::new();
        for (k, &a) in axes.iter().enumerate() {
            let (lo, hi) = (pads[k], pads[k + axes.len()]);
            let dim = shape[a] as i64;
            let cut = |p: i64| if p < 0 { p.saturating_neg() } else { 0 };
            let (cut_lo, cut_hi) = (cut(lo), cut(hi));
            if cut_lo.saturating_add(cut_hi) >= dim {
                return Err(format!("pads {lo} and {hi} remove all of axis {a} (length {dim})"));
            }
            if cut_lo + cut_hi > 0 {
                crop.push(SliceAxis::range(a, cut_lo as usize, (dim - cut_hi) as usize));
            }
            let grow_by = |p: i64| usize::try_from(p.max(0)).map_err(|_| format!("pad {p} is too large"));
            grow[a] = [grow_by(lo)?, grow_by(hi)?];
        }
        let mut x = self.tensor(inputs, 0)?;
        if !crop.is_empty() {
            x = match self.push(node, Op::Slice { axes: crop }, vec![x])? {
                Value::Tensor(t) => t,
                _ => unreachable!("push makes a tensor"),
            };
        }
        self.push(node, Op::Pad { pads: grow, mode }, vec![x])
    }

    /// Split into Slices, one per output.
    fn split(&mut self, node: NodeView<'_>, inputs: &[Option<Input>]) -> Result<Vec<Value>, String> {
        let shape = self.shape_of(inputs, 0).ok_or("input 0 is missing")?;
        let axis = fold::norm_axis(node.int("axis", 0), shape.len())?;
        let dim = shape[axis];
        let given = if self.opset >= 13 {
            self.constant(inputs, 1, "split")?.map(|h| h.as_i64s()).transpose()?
        } else {
            node.try_ints("split").map(<[i64]>::to_vec)
        };
        let outputs = node.proto.output.len();
        let parts: Vec<usize> = match given {
            Some(p) => {
                let p: Vec<usize> = p.iter().map(|&v| usize::try_from(v).map_err(|_| format!("split {p:?} has a negative part"))).collect::<Result<_, _>>()?;
                if p.iter().sum::<usize>() != dim || p.len() != outputs {
                    return Err(format!("split {p:?} must have {outputs} parts adding up to {dim} (axis {axis})"));
                }
                p
            }
            None => {
                let n = match node.int("num_outputs", 0) {
                    0 => outputs,
                    n => usize::try_from(n).map_err(|_| format!("num_outputs {n} is negative"))?,
                };
                if n == 0 || n != outputs {
                    return Err(format!("splits axis {axis} into {n} parts but has {outputs} outputs"));
                }
                // Equal parts, the last one smaller when they do not divide the axis.
                let each = dim.div_ceil(n);
                (0..n).map(|i| each.min(dim.saturating_sub(i * each))).collect()
            }
        };
        let x = self.tensor(inputs, 0)?;
        let mut at = 0;
        let mut values = Vec::with_capacity(parts.len());
        for p in parts {
            values.push(self.push(node, Op::Slice { axes: vec![SliceAxis::range(axis, at, at + p)] }, vec![x])?);
            at += p;
        }
        Ok(values)
    }
}

/// The padding of a convolution or pooling window: `pads`, or what `auto_pad` asks for
/// (top, left, bottom, right). Strides and dilations are positive (checked by the caller);
/// kernel and sizes may be anything, so the arithmetic is checked.
fn window_pads(node: NodeView<'_>, x_shape: &[usize], kernel: &[usize], stride: &[usize], dilation: &[usize]) -> Result<[usize; 4], String> {
    Ok(match node.string("auto_pad", "NOTSET").as_str() {
        "NOTSET" => {
            let p = node.usizes("pads")?.unwrap_or(vec![0; 4]);
            if p.len() != 4 {
                return Err(format!("pads {p:?} must have four values"));
            }
            [p[0], p[1], p[2], p[3]]
        }
        "VALID" => [0; 4],
        mode @ ("SAME_UPPER" | "SAME_LOWER") => {
            let same = |n: usize, k: usize, s: usize, d: usize| -> Option<(usize, usize)> {
                let out = n.div_ceil(s);
                let span = k.checked_sub(1)?.checked_mul(d)?.checked_add(1)?;
                let total = out.checked_sub(1)?.checked_mul(s)?.checked_add(span)?.saturating_sub(n);
                let small = total / 2;
                Some(if mode == "SAME_UPPER" { (small, total - small) } else { (total - small, small) })
            };
            let bad = || format!("auto_pad {mode} cannot pad kernel {kernel:?} with strides {stride:?} and dilations {dilation:?}");
            let (t, b) = same(x_shape[2], kernel[0], stride[0], dilation[0]).ok_or_else(bad)?;
            let (l, r) = same(x_shape[3], kernel[1], stride[1], dilation[1]).ok_or_else(bad)?;
            [t, l, b, r]
        }
        other => return Err(format!("auto_pad '{other}' is not supported")),
    })
}

/// The value of a Constant node.
fn constant_node(node: NodeView<'_>, ext: &mut ExternalFiles, limits: &Limits) -> Result<HostTensor, String> {
    let (name, a, _) = node.constant_value().ok_or("has no value attribute")?;
    Ok(match name {
        "value" => tensor::decode(a.t.as_ref().ok_or("value is not a tensor")?, ext, limits)?,
        "value_float" => HostTensor::f32(vec![], vec![a.f]),
        "value_floats" => HostTensor::f32(vec![a.floats.len()], a.floats.clone()),
        "value_int" => HostTensor::i64(vec![], vec![a.i]),
        "value_ints" => HostTensor::i64(vec![a.ints.len()], a.ints.clone()),
        other => return Err(format!("attribute '{other}' is not supported")),
    })
}

/// The input's shape: static dimensions as declared, dynamic ones from `fixed`, a dynamic
/// batch dimension defaulting to 1.
fn input_shape(
    name: &str,
    dims: &[onnx_protobuf::tensor_shape_proto::Dimension],
    fixed: Option<&[usize]>,
) -> Result<Shape, String> {
    use onnx_protobuf::tensor_shape_proto::dimension::Value as Dim;
    if let Some(f) = fixed
        && f.len() != dims.len() {
            return Err(format!(
                "--input {} has {} dimensions but input '{name}' has {}",
                ShapeDisplay(f),
                f.len(),
                dims.len()
            ));
        }
    let mut shape = Vec::with_capacity(dims.len());
    for (i, d) in dims.iter().enumerate() {
        let given = fixed.map(|f| f[i]);
        let v = match (&d.value, given) {
            (Some(Dim::DimValue(v)), _) if *v < 0 => {
                return Err(format!("input '{name}' declares a negative dimension {v} at axis {i}"));
            }
            (Some(Dim::DimValue(0)), None) => {
                return Err(format!("input '{name}' declares a zero dimension at axis {i}"));
            }
            (Some(Dim::DimValue(v)), Some(g)) if *v > 0 && *v as usize != g => {
                return Err(format!("--input sets axis {i} of input '{name}' to {g}, but the model fixes it at {v}"));
            }
            (Some(Dim::DimValue(v)), _) if *v > 0 => *v as usize,
            (_, Some(g)) => g,
            (_, None) if i == 0 => 1,
            (value, None) => {
                let what = match value {
                    Some(Dim::DimParam(p)) if !p.is_empty() => format!("'{p}'"),
                    _ => "unknown".to_string(),
                };
                return Err(format!(
                    "input '{name}' has a dynamic dimension {what} at axis {i}; fix the shape with --input NxCxHxW"
                ));
            }
        };
        if v == 0 {
            return Err(format!("input '{name}' has a zero dimension at axis {i}"));
        }
        shape.push(v);
    }
    Ok(shape)
}
