//! `ghostnet-compiler`: an ahead-of-time compiler for GhostNet CNNs.
//!
//! The flow is one way: a front end ([`front::onnx`] or [`front::dsl`]) builds a static-shape
//! [`ir::Graph`], the [`passes`] fold and fuse it, and the back end writes dependency-free
//! Rust. The [`interp`] reference interpreter runs any graph and is the oracle of the tests.
//! `ghostc` and the `ghostnet!` macro are thin shells over [`Source`] and its methods;
//! [`preprocess`] turns photos into inputs as timm does, [`profile`] times a compiled
//! network per layer.
//!
//! ```
//! use ghostnet_compiler::back::rust::{Options, WeightsSource};
//! use ghostnet_compiler::front::dsl::Spec;
//! use ghostnet_compiler::{compile, interp, Limits, Source};
//!
//! // GhostNet 0.5x for 64x64 inputs and 10 classes, with seeded weights.
//! let spec = Spec { input: [1, 3, 64, 64], num_classes: 10, ..Spec::with_width(0.5) };
//! let source = Source::Dsl { spec, weights: None, seed: 0 };
//! let options = Options { source: "an example".into(), weights: WeightsSource::File("net.weights.bin".into()), ..Options::default() };
//! let net = compile(&source, &Limits::default(), &options)?;
//! // What `ghostc -o net.rs` writes: the module and its packed weights.
//! assert!(net.code.contains("pub const OUTPUT_LEN: usize = 10;"));
//! assert_eq!(net.weight_bytes().len(), net.program.weights.len() * 4);
//! // The same kernel calls run in process; the reference interpreter agrees.
//! let x = vec![0.5f32; net.program.image_len()];
//! let y = net.program.run(ghostnet_runtime::isa::Isa::best(), &x, 1);
//! let want = interp::run(&net.graph, &[&x])?.swap_remove(0);
//! assert!(y.iter().zip(&want).all(|(a, b)| (a - b).abs() <= 1e-4));
//! # Ok::<(), ghostnet_compiler::Error>(())
//! ```
//!
//! Features: `cli` (default) builds `ghostc`; `images` (implied by `cli`) adds PNG and JPEG
//! decoding to [`preprocess`].

pub mod back;
pub mod front;
#[doc(hidden)]
pub mod fuzzing;
pub mod imagenet;
pub mod interp;
pub mod ir;
pub mod passes;
pub mod preprocess;
pub mod profile;
pub mod quantize;

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
    #[error(transparent)]
    Quantize(#[from] quantize::Error),
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

/// [`optimize`], then every node gets its precision: the graph the back end lowers and the
/// interpreter runs for that precision. `bf16`: [`passes::set_precision`]. `int8`: the
/// other large products in bfloat16, then [`quantize::quantize`] over the calibration
/// inputs of `int8` (read within `limits`), whose summary is returned.
pub fn optimize_for(
    mut graph: Graph,
    precision: Option<ir::Precision>,
    int8: &quantize::Settings,
    limits: &Limits,
) -> Result<(Graph, Option<quantize::Summary>), Error> {
    // A model quantized by another tool (QDQ) compiles in int8 with its own quantization.
    let qdq = graph.nodes.iter().any(|n| matches!(n.op, ir::Op::FakeQuant(_)));
    let precision = precision.unwrap_or(if qdq { ir::Precision::Int8 } else { ir::Precision::F32 });
    if qdq {
        if precision == ir::Precision::Int8 && int8.calibrate.is_some() {
            return Err(quantize::Error::AlreadyQuantized.into());
        }
        passes::absorb_fake_quant(&mut graph, precision == ir::Precision::Int8)?;
    }
    let mut graph = optimize(graph)?;
    match precision {
        ir::Precision::Int8 if qdq => {
            let summary = quantize::finish_qdq(&mut graph);
            passes::set_precision(&mut graph, ir::Precision::Bf16)?;
            Ok((graph, Some(summary)))
        }
        ir::Precision::Int8 => {
            let path = int8.calibrate.as_ref().ok_or(quantize::Error::NoCalibration)?;
            let inputs = quantize::read_calibration(path, graph.shape(graph.inputs[0]), limits)?;
            passes::set_precision(&mut graph, ir::Precision::Bf16)?;
            let summary = quantize::quantize(&mut graph, &inputs, int8)?;
            graph.validate().map_err(|errors| passes::Error { pass: "quantize", errors })?;
            Ok((graph, Some(summary)))
        }
        p => {
            passes::set_precision(&mut graph, p)?;
            Ok((graph, None))
        }
    }
}

/// A compiled network: the fused graph, its program, and the generated Rust module.
pub struct Compiled {
    /// Nodes of the graph as loaded, before any pass.
    pub layers_before: usize,
    /// What int8 quantization chose and measured.
    pub quantization: Option<quantize::Summary>,
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
    let (graph, quantization) = optimize_for(graph, options.precision, &options.int8, limits)?;
    let (program, code) = back::rust::generate(&graph, options)?;
    Ok(Compiled { layers_before, quantization, graph, program, code })
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
    let (graph, _) = optimize_for(source.load_with(limits, outputs)?, options.precision, &options.int8, limits)?;
    let mut inputs = back::rust::embed::inputs(source);
    if options.precision == Some(ir::Precision::Int8) {
        inputs.extend(options.int8.calibrate.iter().filter_map(|p| p.canonicalize().ok()));
    }
    let (program, tokens) = back::rust::embed::generate(&graph, options, &inputs)?;
    Ok(Embedded { program, tokens })
}
