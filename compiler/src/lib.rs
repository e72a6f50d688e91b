//! `ghostnet-compiler`: an ahead-of-time compiler for GhostNet CNNs.
//!
//! The flow is one way: a front end ([`front::onnx`] or [`front::dsl`]) builds a static-shape
//! [`ir::Graph`], the [`passes`] fold and fuse it, and the back end writes dependency-free
//! Rust. The [`interp`] reference interpreter runs any graph and is the oracle of the tests.
//! `ghostc` and the `ghostnet!` macro are thin shells over [`Source`] and its methods.

pub mod back;
pub mod front;
pub mod interp;
pub mod ir;

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
            max_nodes: 100_000,
            max_tensor_elements: 1 << 28,
            max_weight_bytes: 2 << 30,
            max_depth: 10_000,
        }
    }
}
