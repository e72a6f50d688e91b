//! `ghostnet-runtime`: the kernels compiled GhostNets run on.
//!
//! Tiers: scalar (portable plain loops, the reference), AVX2+FMA and AVX-512F on x86-64,
//! Advanced SIMD on AArch64, simd128 on WebAssembly. Each kernel body is written once,
//! generic over [`simd::Simd`], and instantiated in thin `#[target_feature]` wrappers named
//! `<isa>_<op>_f32_<tile>`; the public entry points (`gemm::gemm`, `dwconv::depthwise`,
//! `conv::dense`, `pool::global_avg`) take the tier to run. [`isa::Isa::best`] detects the
//! CPU once (on WebAssembly, which cannot ask, the build's target features decide);
//! `detect::select` (with `std`) also honours `GHOSTNET_ISA`.
//!
//! All tensors are NHWC, one image at a time, in one `f32` arena at offsets planned at
//! compile time. Kernels check every range they touch, so a planning mistake panics
//! instead of corrupting memory.
//!
//! The generated networks carry these sources inside themselves (so they need no
//! dependency): every module here is a single file that refers to its siblings through
//! `super::`, and says its own `cfg` in an inner attribute.
#![no_std]
// Targets without a SIMD tier (wasm32 without simd128, other architectures) run the scalar
// kernels alone; the generic bodies are unused there.
#![cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64", all(target_arch = "wasm32", target_feature = "simd128"))), allow(dead_code))]

#[cfg(feature = "std")]
extern crate std;

pub mod conv;
pub mod detect;
pub mod dwconv;
pub mod exec;
pub mod gemm;
pub mod isa;
pub mod neon;
pub mod ops;
pub mod pool;
mod simd;
pub mod team;
pub mod wasm;
pub mod x86;
