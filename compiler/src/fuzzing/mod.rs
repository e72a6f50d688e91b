//! The compiler as the fuzz targets (`fuzz/`) drive it, shared with the test that replays
//! every input they ever crashed on (`tests/fuzz_regressions.rs`).
//!
//! Each entry point runs one untrusted input the way `ghostc` would: load and validate, run
//! the passes, lower the graph for the Rust back end, and run the reference interpreter when
//! the graph is small enough to do so quickly. A clean `Err` anywhere is a success; only a
//! compiler bug panics: a panic in the code itself, a pass that leaves the graph invalid, a
//! graph the interpreter refuses after it was accepted, or one the back end refuses although
//! the interpreter runs it. [`differential`] goes further on random networks
//! ([`generate`]): the compiled program must compute what the interpreter does.

pub mod generate;

use std::path::Path;

use crate::front::dsl::{self, weights::Source as Weights, Block, Spec, Version};
use crate::front::onnx;
use crate::ir::Graph;
use crate::{interp, optimize, Error, Limits};

/// Limits for fuzzing: small enough that no input can take more than a fraction of a
/// second or a few hundred MB (libFuzzer runs with `-rss_limit_mb=2048 -timeout=1`), large
/// enough for the seed models.
pub fn limits() -> Limits {
    Limits {
        max_file_bytes: 64 << 20,
        max_nodes: 4096,
        max_tensor_elements: 1 << 22,
        max_weight_bytes: 128 << 20,
        max_depth: 2048,
    }
}

/// The interpreter runs a graph only when its estimated work is below this.
pub const INTERP_BUDGET: u64 = 1 << 16;

/// ONNX bytes: the `onnx_load` target.
pub fn onnx_bytes(bytes: &[u8], dir: &Path) {
    let options = onnx::Options { input_shape: None, limits: limits(), outputs: Vec::new() };
    let loaded = onnx::from_bytes(bytes, "fuzz", Path::new("fuzz.onnx"), dir, &options);
    graph(loaded.map_err(Error::from));
}

/// A parsed (and mutated) ONNX model: the `onnx_mutate` target.
pub fn onnx_model(model: &onnx_protobuf::ModelProto, dir: &Path) {
    let options = onnx::Options { input_shape: None, limits: limits(), outputs: Vec::new() };
    let loaded = onnx::from_model(model, "fuzz", Path::new("fuzz.onnx"), dir, &options);
    graph(loaded.map_err(Error::from));
}

/// A network description for the `safetensors_load` target: the digits GhostNet
/// (`fixtures/README.md`), whose timm weights are the seed of that target.
pub fn digits_spec() -> Spec {
    let b = Block::new;
    Spec {
        stages: vec![
            vec![b(3, 16, 16, 0.0, 1)],
            vec![b(3, 48, 24, 0.0, 2)],
            vec![b(3, 72, 24, 0.0, 1)],
            vec![b(5, 72, 40, 0.25, 2)],
            vec![b(3, 120, 40, 0.25, 1)],
            vec![b(3, 240, 80, 0.0, 2)],
            vec![b(3, 184, 80, 0.0, 1), b(3, 480, 112, 0.25, 1)],
        ],
        input: [1, 1, 32, 32],
        num_classes: 10,
        ..Spec::default()
    }
}

/// Small DSL networks: seeds of `onnx_mutate` (through the ONNX writer) and the second
/// network `safetensors_load` reads weights for.
pub fn tiny_specs() -> Vec<Spec> {
    let b = Block::new;
    vec![
        Spec {
            stages: vec![vec![b(3, 16, 16, 0.0, 1)], vec![b(3, 48, 24, 0.25, 2)]],
            input: [1, 3, 12, 12],
            num_classes: 10,
            head_channels: 32,
            ..Spec::default()
        },
        Spec {
            version: Version::V2,
            width: 0.5,
            stages: vec![vec![b(3, 16, 16, 0.0, 1)], vec![b(5, 32, 24, 0.0, 2)], vec![b(3, 48, 24, 0.25, 1)]],
            input: [1, 2, 16, 16],
            num_classes: 5,
            head_channels: 16,
            features: false,
        },
    ]
}

/// A folder with a small external-data file (`w.bin`, 4 KiB of f32) that fuzzed models may
/// point their initializers at; anything outside it must be refused.
pub fn data_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ghostnet-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder for external data");
        let bytes: Vec<u8> = (0..1024u32).flat_map(|i| (i as f32 / 64.0 - 8.0).to_le_bytes()).collect();
        std::fs::write(dir.join("w.bin"), bytes).expect("the external data file");
        dir
    })
}

/// A one-block GhostNet (16x16 RGB, 2 classes, timm's 1280-channel head), the network of the
/// small safetensors seeds and of the bad-input corpus' weights files.
pub fn tiny_weights_spec() -> Spec {
    Spec { stages: vec![vec![Block::new(3, 8, 8, 0.0, 1)]], input: [1, 3, 16, 16], num_classes: 2, ..Spec::default() }
}

/// The `safetensors_load` target: the first byte (the low byte of the header length) picks
/// the network, the digits GhostNet when even, [`tiny_weights_spec`] when odd, so that the
/// fuzzer finds both sets of keys.
pub fn safetensors_load(bytes: &[u8]) {
    let spec = if bytes.first().is_some_and(|b| b % 2 == 1) { tiny_weights_spec() } else { digits_spec() };
    safetensors_bytes(bytes, &spec);
}

/// Safetensors bytes as the weights of `spec`. The graph is
/// built and optimized, not interpreted (the digits net is too slow for that).
pub fn safetensors_bytes(bytes: &[u8], spec: &Spec) {
    let limits = limits();
    let Ok(mut source) = Weights::from_safetensors_bytes(bytes, Path::new("fuzz.safetensors"), &limits) else { return };
    let Ok(g) = dsl::build_with_limits(spec, &mut source, &limits) else { return };
    passes(g);
}

/// A DSL description with seeded weights: the `dsl` target.
pub fn dsl_spec(spec: &Spec, seed: u64) {
    let built = dsl::build_with_limits(spec, &mut Weights::seeded(seed), &limits());
    graph(built.map_err(Error::from));
}

/// Runs the passes on a loaded graph and lowers it; panics on an internal error, or when
/// the back end refuses what the interpreter runs.
fn passes(g: Graph) -> Option<Graph> {
    let g = match optimize(g) {
        Ok(g) => g,
        Err(Error::Pass(e)) => panic!("{e}"),
        Err(_) => return None,
    };
    if let Err(e) = crate::back::rust::lower::lower(&g) {
        panic!("the back end refused a graph the interpreter runs: {e}");
    }
    Some(g)
}

/// A random network from `bytes` ([`generate::network`]), compiled and compared with the
/// interpreter on every tier ([`generate::check`]): the `differential` target. Panics on any
/// disagreement.
pub fn differential(bytes: &[u8]) {
    let g = generate::network(&mut generate::Bytes::new(bytes));
    if let Err(e) = generate::check(&g) {
        panic!("{e}");
    }
}

/// The rest of the pipeline for a graph a front end accepted: interpreter (when small),
/// passes, interpreter again.
pub fn graph(loaded: Result<Graph, Error>) {
    let Ok(g) = loaded else { return };
    if let Err(e) = g.validate() {
        panic!("a front end returned an invalid graph: {e}");
    }
    let small = g.work() <= INTERP_BUDGET;
    if small {
        interpret(&g);
    }
    let Some(opt) = passes(g) else { return };
    if small && opt.work() <= INTERP_BUDGET {
        interpret(&opt);
    }
}

/// Runs the interpreter on a deterministic input; it must accept any validated graph.
fn interpret(g: &Graph) {
    let inputs: Vec<Vec<f32>> =
        g.inputs.iter().map(|&i| (0..g.tensor(i).numel()).map(|k| ((k * 7919) % 255) as f32 / 128.0 - 1.0).collect()).collect();
    let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    if let Err(e) = interp::run(g, &refs) {
        panic!("the interpreter refused a validated graph: {e}");
    }
}

/// A DSL description as JSON, the form in which `dsl` crashes are kept as regression files.
pub fn spec_to_json(spec: &Spec, seed: u64) -> String {
    let stages: Vec<Vec<serde_json::Value>> = spec
        .stages
        .iter()
        .map(|s| s.iter().map(|b| serde_json::json!([b.kernel, b.expansion, b.out, b.se_ratio, b.stride])).collect())
        .collect();
    serde_json::json!({
        "version": if spec.version == Version::V2 { 2 } else { 1 },
        "width": spec.width,
        "stages": stages,
        "input": spec.input,
        "num_classes": spec.num_classes,
        "head_channels": spec.head_channels,
        "features": spec.features,
        "seed": seed,
    })
    .to_string()
}

/// Reads what [`spec_to_json`] writes.
pub fn spec_from_json(text: &str) -> Result<(Spec, u64), String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let u = |k: &str| v[k].as_u64().map(|x| x as usize).ok_or(format!("'{k}' is missing"));
    let input: Vec<usize> =
        v["input"].as_array().ok_or("'input' is missing")?.iter().map(|d| d.as_u64().unwrap_or(0) as usize).collect();
    let spec = Spec {
        version: if u("version")? == 2 { Version::V2 } else { Version::V1 },
        width: v["width"].as_f64().ok_or("'width' is missing")? as f32,
        stages: dsl::parse_stages(&v["stages"].to_string()).map_err(|e| e.to_string())?,
        input: input.try_into().map_err(|_| "'input' needs four dimensions")?,
        num_classes: u("num_classes")?,
        head_channels: u("head_channels")?,
        features: v["features"].as_bool().unwrap_or(false),
    };
    Ok((spec, v["seed"].as_u64().unwrap_or(0)))
}
