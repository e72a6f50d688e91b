//! `ghostnet-runtime`: the kernels compiled GhostNets run on.
//!
//! Tiers: scalar (portable plain loops, the reference), AVX2+FMA and AVX-512F on x86-64,
//! Advanced SIMD on AArch64. Each kernel body is written once, generic over [`simd::Simd`],
//! and instantiated in thin `#[target_feature]` wrappers named `<isa>_<op>_f32_<tile>`;
//! the public entry points (`gemm::gemm`, `dwconv::depthwise`, `conv::dense`,
//! `pool::global_avg`) take the tier to run. [`isa::Isa::best`] detects the CPU once;
//! `detect::select` (with `std`) also honours `GHOSTNET_ISA`.
//!
//! All tensors are NHWC, one image at a time, in one `f32` arena at offsets planned at
//! compile time. Kernels check every range they touch, so a planning mistake panics
//! instead of corrupting memory.
//!
//! [`nd`] holds the general kernels (plain loops over strided views of any rank) for the
//! ops around a CNN that the fused kernels do not cover.
//!
//! The generated networks carry these sources inside themselves (so they need no
//! dependency): every module here is a single file that refers to its siblings through
//! `super::`, and says its own `cfg` in an inner attribute.
#![no_std]

#[cfg(feature = "std")]
extern crate std;

pub mod conv;
pub mod detect;
pub mod dwconv;
pub mod exec;
pub mod gemm;
pub mod isa;
pub mod nd;
pub mod neon;
pub mod ops;
pub mod pool;
pub mod qgemm;
mod simd;
pub mod team;
pub mod x86;
