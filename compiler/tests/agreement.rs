//! `ghostc run` (the interpreter) and `ghostc` (the Rust back end) accept the same networks:
//! every model here that loads, and that the interpreter therefore runs, also lowers. The
//! models: the bad-input corpus (the files that load with default limits), the inputs the
//! fuzzers kept, the fixtures, the checked-in exports, and DSL networks. Random networks
//! get the same check, and more, in the test `differential`.

mod common;

use std::path::{Path, PathBuf};

use ghostnet_compiler::back::rust::lower;
use ghostnet_compiler::{interp, optimize, optimize_for, Limits, Source};

/// Loads `path`; when it loads, the graph optimized as `ghostc` does it (a QDQ model in
/// int8) must lower. Returns whether it loaded.
fn agrees(path: &Path, failures: &mut Vec<String>) -> bool {
    let source = Source::Onnx { path: path.to_path_buf(), input_shape: None };
    let Ok(graph) = source.load(&Limits::default()) else { return false };
    // Small graphs are also run, as `ghostc run` would.
    if graph.work() < 1 << 24 {
        let input = vec![0.5; graph.tensor(graph.inputs[0]).numel()];
        if let Err(e) = interp::run(&graph, &[&input]) {
            failures.push(format!("{}: the interpreter refused it: {e}", path.display()));
        }
    }
    let optimized = optimize_for(graph, None, &Default::default(), &Limits::default()).map_err(|e| e.to_string());
    match optimized.and_then(|(g, _)| lower::lower(&g).map_err(|e| e.to_string())) {
        Ok(_) => {}
        Err(e) => failures.push(format!("{}: {e}", path.display())),
    }
    true
}

fn onnx_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).map_or(Vec::new(), |d| d.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "onnx")).collect());
    v.sort();
    v
}

#[test]
fn every_model_that_loads_also_lowers() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files = onnx_files(&tests.join("bad-inputs"));
    for target in ["onnx_load", "onnx_mutate"] {
        let dir = tests.join("fuzz-regressions").join(target);
        files.extend(std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.')));
    }
    files.extend(onnx_files(&tests.join("exports")));
    if let Some(fx) = common::fixtures() {
        files.extend(onnx_files(&fx));
    }
    let mut failures = Vec::new();
    let loaded = files.iter().filter(|f| agrees(f, &mut failures)).count();
    eprintln!("{} models, {loaded} of them load; each of those lowers", files.len());
    assert!(loaded >= 10, "only {loaded} models loaded");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_dsl_network_lowers() {
    for seed in 0..40 {
        let spec = common::random_spec(seed);
        for features in [false, true] {
            let spec = ghostnet_compiler::front::dsl::Spec { features, ..spec.clone() };
            let graph = Source::Dsl { spec, weights: None, seed }.load(&Limits::default()).unwrap();
            lower::lower(&optimize(graph).unwrap()).unwrap_or_else(|e| panic!("seed {seed}, features {features}: {e}"));
        }
    }
}
