//! The Rust back end: a fused graph to a standalone Rust module and its packed weights.
//!
//! [`lower`] fixes every kernel call, offset and stride (a [`lower::Program`], which can also
//! run in process); [`writer`] prints it with `quote` and `prettyplease`, carrying the
//! runtime's kernel sources along so that the output needs no dependency.

pub mod embed;
pub mod lower;
pub mod memory;
pub mod writer;

pub use lower::Program;

/// Where the generated code finds its packed weights.
#[derive(Clone, Debug)]
pub enum WeightsSource {
    /// `include_bytes!` of this path (relative to the generated file, or absolute).
    File(String),
    /// The bytes themselves, as one byte-string literal.
    Inline(Vec<u8>),
}

/// How to write the module.
#[derive(Clone, Debug)]
pub struct Options {
    /// `no_std` without `alloc`: the caller passes the arena; no threads, no `GHOSTNET_ISA`.
    pub no_std: bool,
    /// What the network was compiled from, for the header comment.
    pub source: String,
    pub weights: WeightsSource,
    /// The precision of the matrix products ([`crate::ir::Precision`]); [`crate::compile`]
    /// gives it to the graph's nodes before lowering. `None`: `f32`, or int8 for a model
    /// quantized by another tool (QDQ).
    pub precision: Option<crate::ir::Precision>,
    /// With `int8`: the calibration inputs and the error budget.
    pub int8: crate::quantize::Settings,
}

impl Default for Options {
    /// `std`, `f32`, weights inline, no source named.
    fn default() -> Self {
        Options {
            no_std: false,
            source: String::new(),
            weights: WeightsSource::Inline(Vec::new()),
            precision: Default::default(),
            int8: Default::default(),
        }
    }
}

/// Why the back end could not write a graph.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nodes or a graph the back end cannot run; the message groups them by op and reason.
    #[error("{0}")]
    Unsupported(lower::Problems),
    #[error("{0}")]
    Internal(String),
}

/// The little-endian bytes of the packed weights.
pub fn weight_bytes(p: &Program) -> Vec<u8> {
    p.weights.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Lowers `graph` and writes the module.
pub fn generate(graph: &crate::ir::Graph, options: &Options) -> Result<(Program, String), Error> {
    let program = lower::lower(graph).map_err(Error::Unsupported)?;
    let code = writer::write_string(&program, options).map_err(Error::Internal)?;
    Ok((program, code))
}
