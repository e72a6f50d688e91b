//! `ghostnet-runtime`: the kernels compiled GhostNets run on.
//!
//! Tiers: scalar (portable plain loops, the reference), AVX2+FMA and AVX-512F on x86-64,
//! Advanced SIMD on AArch64, simd128 on WebAssembly. Each kernel body is written once,
//! generic over `simd::Simd`, and instantiated in thin `#[target_feature]` wrappers named
//! `<isa>_<op>_f32_<tile>`; the public entry points (`gemm::gemm`, `dwconv::depthwise`,
//! `conv::dense`, `pool::global_avg`) take the tier to run. [`isa::Isa::best`] detects the
//! CPU once (on WebAssembly, which cannot ask, the build's target features decide);
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
//!
//! ```
//! use ghostnet_runtime::gemm::View;
//! use ghostnet_runtime::isa::{Arena, Isa, Part};
//! use ghostnet_runtime::pool::{global_avg, GlobalAvg};
//!
//! // The mean over 2 pixels of 3 channels, NHWC at offset 0, into offset 6.
//! let mut mem = [1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 0.0, 0.0, 0.0];
//! let g = GlobalAvg { pixels: 2, c: 3, x: View { off: 0, ld: 3 }, y: 6 };
//! global_avg(Isa::best(), Arena::new(&mut mem), &g, Part::ALL);
//! assert_eq!(&mem[6..], &[2.0, 3.0, 4.0]);
//! ```
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
pub mod nd;
pub mod neon;
pub mod ops;
pub mod pool;
pub mod qgemm;
mod simd;
pub mod team;
pub mod wasm;
pub mod x86;

/// Every module's source text, `(name, text)`, in the order the generated code carries them
/// (`mod rt { pub mod isa { .. } .. }`): `ghostnet-compiler` copies them into each network,
/// so that it needs no dependency. Modules whose first line is `#![cfg(feature = "std")]`
/// are left out of the `no_std` form.
pub const SOURCES: &[(&str, &str)] = &[
    ("isa", include_str!("isa.rs")),
    ("simd", include_str!("simd.rs")),
    ("gemm", include_str!("gemm.rs")),
    ("qgemm", include_str!("qgemm.rs")),
    ("dwconv", include_str!("dwconv.rs")),
    ("conv", include_str!("conv.rs")),
    ("pool", include_str!("pool.rs")),
    ("ops", include_str!("ops.rs")),
    ("nd", include_str!("nd.rs")),
    ("exec", include_str!("exec.rs")),
    ("x86", include_str!("x86.rs")),
    ("neon", include_str!("neon.rs")),
    ("wasm", include_str!("wasm.rs")),
    ("detect", include_str!("detect.rs")),
    ("team", include_str!("team.rs")),
];

#[cfg(test)]
mod tests {
    /// Every module file is carried into the generated code, under its own name.
    #[test]
    #[cfg_attr(miri, ignore = "reads the source folder")]
    fn sources_hold_every_module() {
        extern crate std;
        use std::string::String;
        use std::vec::Vec;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| f.ends_with(".rs") && f != "lib.rs")
            .map(|f| String::from(f.trim_end_matches(".rs")))
            .collect();
        files.sort();
        let mut carried: Vec<String> = super::SOURCES.iter().map(|(m, _)| String::from(*m)).collect();
        carried.sort();
        assert_eq!(carried, files);
        for (m, text) in super::SOURCES {
            assert_eq!(*text, std::fs::read_to_string(dir.join(std::format!("{m}.rs"))).unwrap());
        }
    }
}
