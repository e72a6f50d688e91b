//! Front ends: where graphs come from.

pub mod dsl;
pub mod onnx;
