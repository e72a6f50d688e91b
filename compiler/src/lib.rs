//! `ghostnet-compiler`: an ahead-of-time compiler for GhostNet CNNs.
//!
//! The flow is one way: a front end ([`front::onnx`] or [`front::dsl`]) builds a static-shape
//! [`ir::Graph`], the [`passes`] fold and fuse it, and the back end writes dependency-free
//! Rust. The [`interp`] reference interpreter runs any graph and is the oracle of the tests.
//! `ghostc` and the `ghostnet!` macro are thin shells over [`Source`] and its methods.

pub mod back;
pub mod front;
#[doc(hidden)]
pub mod fuzzing;
pub mod interp;
pub mod ir;
pub mod passes;

/// Resource limits applied while reading untrusted model and weight files.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Largest model, external-data or weights file read, in bytes.
    pub max_file_bytes: u64,
    /// Most nodes in a graph.
    pub max_nodes: usize,
    /// Most elements in one tensor.
    pub max_tensor_elements: u64,
    /// Most bytes of weights in total (as f32).
    pub max_weight_bytes: u64,
    /// Longest chain of nodes.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 2 << 30,
            // The largest GhostNet export (V3 in training form) has about 1500 nodes; the
            // passes are linear in the node count (a 9 800-node net takes 0.25 s).
            max_nodes: 10_000,
            max_tensor_elements: 1 << 28,
            max_weight_bytes: 2 << 30,
            max_depth: 10_000,
        }
    }
}

pub mod inspect;

use std::path::PathBuf;

use front::dsl;
use ir::Graph;

/// Where a network comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// An ONNX file; `input_shape` fixes dynamic dimensions (batch defaults to 1).
    Onnx { path: PathBuf, input_shape: Option<Vec<usize>> },
    /// A DSL description, with weights from a timm safetensors file or seeded.
    Dsl { spec: dsl::Spec, weights: Option<PathBuf>, seed: u64 },
}

/// Every way compiling can fail; each variant's message names the file, node or option.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Onnx(#[from] front::onnx::Error),
    #[error(transparent)]
    Dsl(#[from] dsl::Error),
    #[error(transparent)]
    Pass(#[from] passes::Error),
    #[error(transparent)]
    Interp(#[from] interp::Error),
    #[error(transparent)]
    OnnxWriter(#[from] back::onnx::Error),
    #[error(transparent)]
    Rust(#[from] back::rust::Error),
    #[error("cannot choose the outputs: {0}")]
    Outputs(String),
}

impl Source {
    /// Runs the front end: the graph as the model describes it, validated.
    pub fn load(&self, limits: &Limits) -> Result<Graph, Error> {
        self.load_with(limits, &[])
    }

    /// Like [`Source::load`], with the tensors named in `outputs` as the outputs instead
    /// of the model's (all of them, when it is empty): ONNX tensor names, or layer names
    /// as `ghostc inspect` lists them.
    pub fn load_with(&self, limits: &Limits, outputs: &[String]) -> Result<Graph, Error> {
        match self {
            Source::Onnx { path, input_shape } => {
                let options = front::onnx::Options { input_shape: input_shape.clone(), limits: limits.clone(), outputs: outputs.to_vec() };
                Ok(front::onnx::load(path, &options)?)
            }
            Source::Dsl { spec, weights, seed } => {
                let mut source = match weights {
                    Some(p) => dsl::weights::Source::safetensors(p, limits)?,
                    None => dsl::weights::Source::seeded(*seed),
                };
                let mut g = dsl::build_with_limits(spec, &mut source, limits)?;
                if !outputs.is_empty() {
                    let (found, missing): (Vec<_>, Vec<_>) = outputs.iter().map(|n| (n, g.find_tensor(n))).partition(|(_, t)| t.is_some());
                    if !missing.is_empty() {
                        let names = missing.iter().map(|(n, _)| format!("'{n}'")).collect::<Vec<_>>().join(", ");
                        return Err(Error::Outputs(format!("{names}: no layer or module of {} has that name (`ghostc inspect` lists the layers)", g.name)));
                    }
                    g.outputs = found.iter().map(|(_, t)| t.expect("found")).collect();
                    g.output_names = outputs.to_vec();
                    g.validate().map_err(|e| Error::Outputs(e.to_string()))?;
                    g.compact();
                }
                Ok(g)
            }
        }
    }
}

/// Loads `source` and runs the passes that every back end wants.
pub fn optimize(mut graph: Graph) -> Result<Graph, Error> {
    passes::run(&mut graph, passes::NORMALIZE)?;
    passes::run(&mut graph, passes::FUSE)?;
    Ok(graph)
}

/// A compiled network: the fused graph, its program, and the generated Rust module.
pub struct Compiled {
    /// Nodes of the graph as loaded, before any pass.
    pub layers_before: usize,
    pub graph: Graph,
    pub program: back::rust::Program,
    pub code: String,
}

impl Compiled {
    /// The per-layer report, with the planned arena.
    pub fn report(&self) -> inspect::Report {
        inspect::Report::new(&self.graph, self.program.arena_len * 4)
    }

    /// The packed weights as the generated code reads them.
    pub fn weight_bytes(&self) -> Vec<u8> {
        back::rust::weight_bytes(&self.program)
    }
}

/// Loads, optimizes and lowers `source`, and writes the Rust module: what `ghostc -o` and
/// the `ghostnet!` macro both do.
pub fn compile(source: &Source, limits: &Limits, options: &back::rust::Options) -> Result<Compiled, Error> {
    compile_with(source, limits, &[], options)
}

/// [`compile`] with the tensors named in `outputs` as the network's outputs (see
/// [`Source::load_with`]).
pub fn compile_with(source: &Source, limits: &Limits, outputs: &[String], options: &back::rust::Options) -> Result<Compiled, Error> {
    let graph = source.load_with(limits, outputs)?;
    let layers_before = graph.nodes.len();
    let graph = optimize(graph)?;
    let (program, code) = back::rust::generate(&graph, options)?;
    Ok(Compiled { layers_before, graph, program, code })
}

/// A network compiled for the `ghostnet!` macro: the module [`compile`] writes, as tokens
/// a proc-macro can return ([`back::rust::embed`]).
pub struct Embedded {
    pub program: back::rust::Program,
    pub tokens: proc_macro2::TokenStream,
}

/// Loads, optimizes and lowers `source` like [`compile`], and returns the module as tokens,
/// with the weights inline and an `include_bytes!` of every file read (so cargo rebuilds
/// when one changes); `options.weights` is ignored. The paths in `source` should be absolute.
pub fn compile_tokens(source: &Source, limits: &Limits, options: &back::rust::Options) -> Result<Embedded, Error> {
    compile_tokens_with(source, limits, &[], options)
}

/// [`compile_tokens`] with the tensors named in `outputs` as the network's outputs.
pub fn compile_tokens_with(source: &Source, limits: &Limits, outputs: &[String], options: &back::rust::Options) -> Result<Embedded, Error> {
    let graph = optimize(source.load_with(limits, outputs)?)?;
    let inputs = back::rust::embed::inputs(source);
    let (program, tokens) = back::rust::embed::generate(&graph, options, &inputs)?;
    Ok(Embedded { program, tokens })
}
