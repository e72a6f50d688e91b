//! Back ends: where graphs go.

pub mod onnx;
pub mod rust;
