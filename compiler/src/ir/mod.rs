//! The static-shape graph IR.
//!
//! A [`Graph`] is a list of [`Node`]s in execution order over [`Tensor`]s held in one arena
//! and named by [`TensorId`]. Every tensor has a fully known shape, batch included: the front
//! ends resolve dynamic dimensions and fold shape arithmetic before a graph exists.
//!
//! Semantics:
//! - All tensors are `f32`. In a GhostNet, activations are NCHW (rank 4) until they are
//!   flattened for the classifier (rank 2), and a gate such as the squeeze-excite output is
//!   `N x C x 1 x 1`; the general ops take tensors of any rank.
//! - A tensor is exactly one of: a graph input, a constant (it carries `data`), or the
//!   output of exactly one node. Constants are the weights; op parameters that ONNX passes as
//!   tensors (shapes, axes, pads, sizes) are resolved into [`Op`] attributes by the front end.
//! - Nodes are stored in a valid execution order: a node only reads graph inputs, constants
//!   and outputs of nodes before it. [`Graph::validate`] checks this, the arity of each op,
//!   and that each stored output shape equals the one [`Op::infer_shape`] derives from the
//!   inputs. The pass driver validates after every pass.
//! - Tensors have at most [`MAX_RANK`] dimensions.
//! - Every node has a single output. Tensors that no node and no graph output refers to are
//!   garbage; [`Graph::compact`] drops them.

mod op;
pub mod precision;
mod valid;

use std::collections::HashMap;
use std::fmt;

pub use op::{
    apply_act, broadcast, matmul_shape, Act, Conv, CoordMode, FakeQuant, NearestMode, Op, PadMode, Pool, Resize, ResizeMode, SliceAxis,
};
pub use precision::{Precision, QParams, Quant};
pub use valid::{ValidationError, ValidationErrors};

/// A tensor shape; every dimension is known.
pub type Shape = Vec<usize>;

/// Most dimensions a tensor has (the general kernels index up to this many).
pub const MAX_RANK: usize = 16;

/// Index of a tensor in [`Graph::tensors`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct TensorId(pub u32);

impl TensorId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A tensor: a name for messages, a static shape, and data when it is a constant.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub name: String,
    pub shape: Shape,
    pub data: Option<Vec<f32>>,
    /// A constant the model gave as 8-bit integers (`DequantizeLinear`): their scales.
    pub int8_scales: Option<WeightScales>,
}

/// The scales of a constant given as integers: one (per tensor), or one per index of `axis`.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightScales {
    pub axis: usize,
    pub scales: Vec<f32>,
}

impl Tensor {
    pub fn is_const(&self) -> bool {
        self.data.is_some()
    }
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }
}

/// One operation; it reads `inputs` and defines `output`.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<TensorId>,
    pub output: TensorId,
    /// Source ops merged into this node by the passes, in order, e.g. `["BatchNormalization",
    /// "Relu"]`; shown by `ghostc inspect`.
    pub fused: Vec<String>,
    /// The precision of its matrix products (see [`Precision`]).
    pub precision: Precision,
    /// With [`Precision::Int8`]: how its matrix product quantizes.
    pub quant: Option<Box<Quant>>,
}

impl Node {
    /// A node, in `f32`. Every node of every graph is made here, so that a new field gets
    /// its default in one place.
    pub fn new(name: impl Into<String>, op: Op, inputs: Vec<TensorId>, output: TensorId, fused: Vec<String>) -> Self {
        Node { name: name.into(), op, inputs, output, fused, precision: Precision::F32, quant: None }
    }
}

/// A static-shape network.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub name: String,
    pub tensors: Vec<Tensor>,
    pub nodes: Vec<Node>,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    /// The name of each output, as the model gives it (the tensor an output refers to
    /// changes as the passes rewrite the graph; its name stays). Empty for graphs built
    /// without names: [`Graph::output_name`] then gives the tensor's name.
    pub output_names: Vec<String>,
}

/// Product of the dimensions. Shapes in a validated graph never overflow; see [`checked_numel`].
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Product of the dimensions, or `None` on overflow.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// Calls `f` with every index of `shape` in row-major order (once, with `[]`, for a scalar).
pub fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut idx = vec![0; shape.len()];
    loop {
        f(&idx);
        let mut d = shape.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Formats a shape as `1x3x224x224`.
pub struct ShapeDisplay<'a>(pub &'a [usize]);

impl fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("scalar");
        }
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("x")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Self {
        Graph { name: name.into(), ..Graph::default() }
    }

    pub fn tensor(&self, id: TensorId) -> &Tensor {
        &self.tensors[id.index()]
    }

    pub fn tensor_mut(&mut self, id: TensorId) -> &mut Tensor {
        &mut self.tensors[id.index()]
    }

    pub fn shape(&self, id: TensorId) -> &Shape {
        &self.tensors[id.index()].shape
    }

    /// Constant data of `id`, if it is a constant.
    pub fn data(&self, id: TensorId) -> Option<&[f32]> {
        self.tensors[id.index()].data.as_deref()
    }

    fn push_tensor(&mut self, t: Tensor) -> TensorId {
        let id = TensorId(u32::try_from(self.tensors.len()).expect("more than 2^32 tensors"));
        self.tensors.push(t);
        id
    }

    /// The tensor `name` names as an output: an output of the graph of that name, else the
    /// output of a layer (as `ghostc inspect` lists them) or module, that of its last node
    /// (a node named `name`, or within it: `name.` or `name/` and more), else the graph
    /// input or a node output of that name.
    pub fn find_tensor(&self, name: &str) -> Option<TensorId> {
        if let Some(k) = self.output_names.iter().position(|n| n == name) {
            return Some(self.outputs[k]);
        }
        let within = |n: &str| n == name || n.strip_prefix(name).is_some_and(|rest| rest.starts_with(['.', '/']));
        if let Some(n) = self.nodes.iter().rev().find(|n| within(&n.name)) {
            return Some(n.output);
        }
        let computed = |t: &TensorId| self.tensor(*t).name == name;
        self.inputs.iter().find(|t| computed(t)).or_else(|| self.nodes.iter().rev().map(|n| &n.output).find(|t| computed(t))).copied()
    }

    /// Makes `t` a graph output, named after the tensor.
    pub fn add_output(&mut self, t: TensorId) {
        if self.output_names.len() == self.outputs.len() {
            self.output_names.push(self.tensor(t).name.clone());
        }
        self.outputs.push(t);
    }

    /// The name of output `k`.
    pub fn output_name(&self, k: usize) -> &str {
        self.output_names.get(k).map_or_else(|| self.tensor(self.outputs[k]).name.as_str(), String::as_str)
    }

    /// Adds a graph input.
    pub fn add_input(&mut self, name: impl Into<String>, shape: Shape) -> TensorId {
        let id = self.push_tensor(Tensor { name: name.into(), shape, data: None, int8_scales: None });
        self.inputs.push(id);
        id
    }

    /// Adds a constant. The caller guarantees `data.len() == numel(&shape)`; validation checks it.
    pub fn add_const(&mut self, name: impl Into<String>, shape: Shape, data: Vec<f32>) -> TensorId {
        self.push_tensor(Tensor { name: name.into(), shape, data: Some(data), int8_scales: None })
    }

    /// Adds an activation tensor without a producer; the caller makes a node define it.
    pub fn add_value(&mut self, name: impl Into<String>, shape: Shape) -> TensorId {
        self.push_tensor(Tensor { name: name.into(), shape, data: None, int8_scales: None })
    }

    /// Appends a node whose output shape is inferred from its inputs.
    ///
    /// Returns the output tensor, named after the node. Fails with the inference error
    /// message when the inputs do not fit the op.
    pub fn push(&mut self, name: impl Into<String>, op: Op, inputs: Vec<TensorId>) -> Result<TensorId, String> {
        let name = name.into();
        let shapes: Vec<&Shape> = inputs.iter().map(|&i| self.shape(i)).collect();
        let shape = op.infer_shape(&shapes)?;
        let output = self.add_value(name.clone(), shape);
        self.nodes.push(Node::new(name, op, inputs, output, Vec::new()));
        Ok(output)
    }

    /// Map from each tensor to the indices of the nodes that read it.
    pub fn consumers(&self) -> HashMap<TensorId, Vec<usize>> {
        let mut map: HashMap<TensorId, Vec<usize>> = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for &t in &n.inputs {
                let list = map.entry(t).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        map
    }

    /// Map from each tensor to the index of the node that defines it.
    pub fn producers(&self) -> HashMap<TensorId, usize> {
        self.nodes.iter().enumerate().map(|(i, n)| (n.output, i)).collect()
    }

    /// Number of readers of `t`, counting a graph output as one.
    pub fn use_count(&self, t: TensorId) -> usize {
        let nodes = self.nodes.iter().filter(|n| n.inputs.contains(&t)).count();
        nodes + self.outputs.iter().filter(|&&o| o == t).count()
    }

    /// Replaces every read of `from` (node inputs and graph outputs) by `to`.
    pub fn replace_uses(&mut self, from: TensorId, to: TensorId) {
        for n in &mut self.nodes {
            for i in &mut n.inputs {
                if *i == from {
                    *i = to;
                }
            }
        }
        for o in &mut self.outputs {
            if *o == from {
                *o = to;
            }
        }
    }

    /// Drops tensors nothing refers to and renumbers the rest, keeping their order.
    pub fn compact(&mut self) {
        let mut used = vec![false; self.tensors.len()];
        for &t in self.inputs.iter().chain(&self.outputs) {
            used[t.index()] = true;
        }
        for n in &self.nodes {
            used[n.output.index()] = true;
            for &t in &n.inputs {
                used[t.index()] = true;
            }
        }
        let mut remap = vec![TensorId(u32::MAX); self.tensors.len()];
        let mut kept = Vec::with_capacity(self.tensors.len());
        for (i, t) in std::mem::take(&mut self.tensors).into_iter().enumerate() {
            if used[i] {
                remap[i] = TensorId(kept.len() as u32);
                kept.push(t);
            }
        }
        self.tensors = kept;
        let r = |t: &mut TensorId| *t = remap[t.index()];
        self.inputs.iter_mut().for_each(r);
        self.outputs.iter_mut().for_each(r);
        for n in &mut self.nodes {
            r(&mut n.output);
            n.inputs.iter_mut().for_each(r);
        }
    }

    /// Number of weight values: the data of every constant that some node reads.
    pub fn param_count(&self) -> usize {
        let mut seen = vec![false; self.tensors.len()];
        let mut total = 0;
        for n in &self.nodes {
            for &t in &n.inputs {
                if !seen[t.index()] && self.tensor(t).is_const() {
                    seen[t.index()] = true;
                    total += self.tensor(t).numel();
                }
            }
        }
        total
    }

    /// Multiply-accumulates of one forward pass: convolutions and matrix products.
    pub fn mac_count(&self) -> u64 {
        self.nodes.iter().map(|n| self.node_macs(n)).sum()
    }

    /// Multiply-accumulates of one node (0 for ops that are not Conv, Gemm or MatMul).
    pub fn node_macs(&self, n: &Node) -> u64 {
        let shapes: Vec<&Shape> = n.inputs.iter().map(|&i| self.shape(i)).collect();
        n.op.macs(&shapes, self.shape(n.output))
    }

    /// A rough count of the scalar operations the interpreter spends on one node: its
    /// multiply-accumulates, plus the elements it reads and writes, plus the pooling windows
    /// it sums. Saturating; used to keep compile-time work (constant folding) bounded.
    pub fn node_work(&self, n: &Node) -> u64 {
        let size = |t: TensorId| self.shape(t).iter().fold(1u64, |acc, &d| acc.saturating_mul(d as u64));
        let out = size(n.output);
        let read = n.inputs.iter().fold(0u64, |acc, &t| acc.saturating_add(size(t)));
        let window = match &n.op {
            Op::AveragePool(p) | Op::MaxPool(p) => out.saturating_mul(p.kernel[0] as u64).saturating_mul(p.kernel[1] as u64),
            Op::Resize(r) if matches!(r.mode, ResizeMode::Linear) => out.saturating_mul(1 << r.sizes.len().min(16)),
            _ => 0,
        };
        self.node_macs(n).saturating_add(out).saturating_add(read).saturating_add(window)
    }

    /// [`Graph::node_work`] of every node, summed.
    pub fn work(&self) -> u64 {
        self.nodes.iter().fold(0u64, |acc, n| acc.saturating_add(self.node_work(n)))
    }

    /// One message per constant holding NaN or infinite values. The front ends refuse such
    /// weights: a network computing with them gives NaN or infinite outputs, silently.
    pub fn nonfinite_constants(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for t in &self.tensors {
            let Some(d) = &t.data else { continue };
            let nan = d.iter().filter(|v| v.is_nan()).count();
            let inf = d.iter().filter(|v| v.is_infinite()).count();
            if nan + inf > 0 {
                let first = d.iter().position(|v| !v.is_finite()).unwrap_or(0);
                problems.push(format!(
                    "weight '{}' has {nan} NaN and {inf} infinite value(s) (the first at index {first}); non-finite weights are refused",
                    t.name
                ));
            }
        }
        problems
    }

    /// Weight values one node reads (its constant inputs).
    pub fn node_params(&self, n: &Node) -> usize {
        n.inputs.iter().filter(|&&t| self.tensor(t).is_const()).map(|&t| self.tensor(t).numel()).sum()
    }
}
