//! `ghostnet-build`: compile a GhostNet into dependency-free Rust from a build script, as
//! `prost-build` and `tonic-build` do for their inputs.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     ghostnet_build::Config::new()
//!         .onnx("models/ghostnet_100.onnx") // or .alpha(1.3).weights("ghostnet_130.safetensors")
//!         .module("net")                     // OUT_DIR/net.rs and OUT_DIR/net.weights.bin
//!         .compile()?;
//!     Ok(())
//! }
//! ```
//! and in the crate, which needs no other dependency for it:
//! ```ignore
//! mod net {
//!     include!(concat!(env!("OUT_DIR"), "/net.rs"));
//! }
//!
//! let mut model = net::Net::new();
//! let mut logits = [0f32; net::OUTPUT_LEN];
//! model.forward(&[0.0; net::INPUT_LEN], &mut logits);
//! ```
//!
//! The module is the one `ghostc` writes for the same model (`INPUT_SHAPE`, `INPUT_LEN`,
//! `OUTPUT_LEN`, `Net::new`, `Net::forward`, `Net::forward_threads`, ...; see the
//! `ghostnet-compiler` crate). [`Config::compile`] writes only inside `OUT_DIR` (or
//! [`Config::out_dir`]), prints `cargo:rerun-if-changed` for the model, its external data
//! and the weights file (unless [`Config::emit_rerun_if_changed`] is `false`), and returns
//! errors — a missing `OUT_DIR` included — that read like `ghostc`'s, never panics.
//!
//! This crate is a thin shell over `ghostnet_compiler::compile_with`, the function `ghostc` and
//! the `ghostnet!` macro call.
//!
//! A compile outside a build script names its output folder:
//! ```
//! let dir = std::env::temp_dir().join("ghostnet-build-doc");
//! let out = ghostnet_build::Config::new()
//!     .alpha(0.5)
//!     .input([1, 3, 64, 64])
//!     .classes(10)
//!     .module("tiny")
//!     .out_dir(&dir)
//!     .emit_rerun_if_changed(false)
//!     .compile()?;
//! assert!(out.code.ends_with("tiny.rs") && out.weights.ends_with("tiny.weights.bin"));
//! assert_eq!(out.report.macs, 4_272_192);
//! # Ok::<(), ghostnet_build::Error>(())
//! ```

use std::path::{Path, PathBuf};

use ghostnet_compiler::back::rust::{Options as RustOptions, WeightsSource};
use ghostnet_compiler::front::dsl::{self, options};
pub use ghostnet_compiler::ir::Precision;
use ghostnet_compiler::quantize;
pub use ghostnet_compiler::Limits;

/// What to compile and where to write it; see the crate documentation.
#[derive(Clone, Debug)]
pub struct Config {
    options: options::Options,
    stages: Option<String>,
    module: String,
    out_dir: Option<PathBuf>,
    no_std: bool,
    precision: Option<Precision>,
    int8: quantize::Settings,
    limits: Limits,
    rerun: bool,
}

/// What [`Config::compile`] wrote.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The Rust module, `OUT_DIR/<module>.rs`.
    pub code: PathBuf,
    /// Its packed weights, `OUT_DIR/<module>.weights.bin`, read by the module with
    /// `include_bytes!`.
    pub weights: PathBuf,
    /// Layers, shapes, params, MACs and the arena of the compiled network.
    pub report: ghostnet_compiler::inspect::Report,
}

/// Why compiling failed. `Debug` prints the message too, so that a build script's
/// `main() -> Result<(), Box<dyn Error>>` shows it as `ghostc` would.
#[derive(thiserror::Error)]
pub enum Error {
    #[error("OUT_DIR is not set: ghostnet_build::Config::compile writes into cargo's OUT_DIR, which cargo sets for build scripts; outside one, give a folder with .out_dir(..)")]
    NoOutDir,
    #[error("the module name '{0}' is not a Rust identifier (letters, digits and '_', not starting with a digit): it names OUT_DIR/<module>.rs")]
    Module(String),
    #[error("{0}")]
    Options(String),
    #[error(transparent)]
    Compile(#[from] ghostnet_compiler::Error),
    #[error("cannot write '{path}': {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The builder methods' name of each model option, as the messages say it.
fn name(o: options::Opt) -> &'static str {
    use options::Opt;
    match o {
        Opt::Onnx => ".onnx(..)",
        Opt::Alpha => ".alpha(..)",
        Opt::Weights => ".weights(..)",
        Opt::Version => ".version(..)",
        Opt::Classes => ".classes(..)",
        Opt::InChans => ".in_chans(..)",
        Opt::Seed => ".seed(..)",
        Opt::Stages => ".stages(..)",
        Opt::Input => ".input(..)",
        Opt::Features => ".features(..)",
        Opt::Outputs => ".outputs(..)",
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// No model yet; module `net`, written to `OUT_DIR`, `cargo:rerun-if-changed` on, the
    /// compiler's default limits.
    pub fn new() -> Self {
        Config { options: options::Options::default(), stages: None, module: "net".into(), out_dir: None, no_std: false, precision: None, int8: Default::default(), limits: Limits::default(), rerun: true }
    }

    /// An ONNX model exported from PyTorch (either exporter); relative paths are relative
    /// to the package (where cargo runs build scripts).
    pub fn onnx(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.options.onnx = Some(path.as_ref().to_path_buf());
        self
    }

    /// The NCHW input shape: fixes an ONNX model's dynamic dimensions; the DSL's input
    /// (default `[1, 3, 224, 224]`).
    pub fn input(&mut self, shape: [usize; 4]) -> &mut Self {
        self.options.input = Some(shape.to_vec());
        self
    }

    /// DSL: a GhostNet of width multiplier `alpha` (timm's `GhostNet(width=alpha)`).
    pub fn alpha(&mut self, alpha: f32) -> &mut Self {
        self.options.alpha = Some(alpha);
        self
    }

    /// DSL: a timm `state_dict` as safetensors; without it the weights are seeded.
    pub fn weights(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.options.weights = Some(path.as_ref().to_path_buf());
        self
    }

    /// DSL: GhostNet version, 1 or 2 (GhostNetV2).
    pub fn version(&mut self, version: u8) -> &mut Self {
        self.options.version = Some(version.into());
        self
    }

    /// DSL: number of classes (default 1000).
    pub fn classes(&mut self, classes: usize) -> &mut Self {
        self.options.classes = Some(classes);
        self
    }

    /// DSL: input channels (default 3).
    pub fn in_chans(&mut self, channels: usize) -> &mut Self {
        self.options.in_chans = Some(channels);
        self
    }

    /// DSL: seed of the pseudo-random weights (default 0).
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.options.seed = Some(seed);
        self
    }

    /// DSL: the stage table as timm's `cfgs`, `"[[[3, 16, 16, 0, 1]], [[3, 48, 24, 0, 2]]]"`
    /// (the text `ghostc --stages` takes).
    pub fn stages(&mut self, table: &str) -> &mut Self {
        self.stages = Some(table.to_string());
        self
    }

    /// DSL: timm's `features_only` backbone (no head; the stem and every stride-2 stage are
    /// the outputs, written back to back; `net::OUTPUTS` says where each is).
    pub fn features(&mut self, features: bool) -> &mut Self {
        self.options.features = Some(features);
        self
    }

    /// Tensors to make the outputs instead of the model's (`ghostc --outputs`): ONNX tensor
    /// names or layer names as `ghostc inspect` lists them, e.g. `["flatten"]` for the
    /// pooled features.
    pub fn outputs<S: Into<String>>(&mut self, names: impl IntoIterator<Item = S>) -> &mut Self {
        self.options.outputs = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The module's name: the files are `OUT_DIR/<name>.rs` and `OUT_DIR/<name>.weights.bin`
    /// (default `net`).
    pub fn module(&mut self, name: &str) -> &mut Self {
        self.module = name.to_string();
        self
    }

    /// Where to write instead of `OUT_DIR` (created when missing).
    pub fn out_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Emit the `#![no_std]` form without `alloc`: `Net::new(&mut arena)` takes a `net::Arena`.
    pub fn no_std(&mut self, no_std: bool) -> &mut Self {
        self.no_std = no_std;
        self
    }

    /// The precision of the matrix products, as `ghostc --precision`: `F32` (the default,
    /// but int8 for a model already quantized in QDQ form), `Bf16` (weights rounded to
    /// bfloat16; activations and sums stay f32) or `Int8` (with [`Config::calibrate`]).
    pub fn precision(&mut self, precision: Precision) -> &mut Self {
        self.precision = Some(precision);
        self
    }

    /// int8: the calibration inputs, raw little-endian `f32` network inputs back to back
    /// (`ghostc --calibrate`).
    pub fn calibrate(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.int8.calibrate = Some(path.as_ref().to_path_buf());
        self
    }

    /// int8: the least SQNR (dB) of the outputs against f32 on the calibration inputs
    /// (`ghostc --int8-budget`).
    pub fn int8_budget(&mut self, db: f32) -> &mut Self {
        self.int8.budget_db = Some(db);
        self
    }

    /// int8: layers to keep in float (`ghostc --keep-float`).
    pub fn keep_float<S: Into<String>>(&mut self, layers: impl IntoIterator<Item = S>) -> &mut Self {
        self.int8.keep_float = layers.into_iter().map(Into::into).collect();
        self
    }

    /// Resource limits for reading the model and weights (`ghostc`'s `--max-*` flags).
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// Whether to print `cargo:rerun-if-changed` for the files read (default `true`). With
    /// `false`, cargo's default applies: rerun when any file of the package changes.
    pub fn emit_rerun_if_changed(&mut self, emit: bool) -> &mut Self {
        self.rerun = emit;
        self
    }

    /// Compiles the model and writes the module and its weights; see the crate documentation.
    pub fn compile(&self) -> Result<Generated, Error> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR").map(PathBuf::from).ok_or(Error::NoOutDir)?,
        };
        let module = &self.module;
        let identifier = module.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && module.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Err(Error::Module(module.clone()));
        }
        let mut options = self.options.clone();
        let mut problems = Vec::new();
        if let Some(table) = &self.stages {
            match dsl::parse_stages(table) {
                Ok(stages) => options.stages = Some(stages),
                Err(e) => problems.push(format!("{}: {e}", name(options::Opt::Stages))),
            }
        }
        let source = match options.source(name) {
            Ok(source) if problems.is_empty() => Some(source),
            Ok(_) => None,
            Err(options::Error::NoModel) => {
                problems.push("no model given: call .onnx(\"models/net.onnx\"), or describe a GhostNet with .alpha(1.0)".into());
                None
            }
            Err(e) => {
                problems.insert(0, e.to_string());
                None
            }
        };
        if self.rerun {
            for path in self.options.onnx.iter().chain(&self.options.weights).chain(&self.int8.calibrate) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        let Some(source) = source else { return Err(Error::Options(problems.join("\n"))) };
        let weights_name = format!("{module}.weights.bin");
        let rust = RustOptions { no_std: self.no_std, source: options::describe(&source), weights: WeightsSource::File(weights_name.clone()), precision: self.precision, int8: self.int8.clone() };
        let outputs = self.options.outputs.clone().unwrap_or_default();
        let compiled = ghostnet_compiler::compile_with(&source, &self.limits, &outputs, &rust)?;
        if self.rerun {
            // The external-data files the model names, now that it has loaded.
            for path in ghostnet_compiler::back::rust::embed::inputs(&source) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        std::fs::create_dir_all(&out_dir).map_err(|source| Error::Write { path: out_dir.clone(), source })?;
        let (code, weights) = (out_dir.join(format!("{module}.rs")), out_dir.join(weights_name));
        std::fs::write(&weights, compiled.weight_bytes()).map_err(|source| Error::Write { path: weights.clone(), source })?;
        std::fs::write(&code, &compiled.code).map_err(|source| Error::Write { path: code.clone(), source })?;
        Ok(Generated { code, weights, report: compiled.report() })
    }
}
