//! Every input the fuzz targets (`fuzz/`) ever crashed on, replayed through the same code
//! path (`ghostnet_compiler::fuzzing`): it must now give a clean error or a result.
//!
//! Files live in `tests/fuzz-regressions/<target>/`: raw inputs for `onnx_load`,
//! `safetensors_load` and `differential`, the mutated model (`.onnx`) for `onnx_mutate`, and the description
//! (`.json`, as `fuzzing::spec_to_json` writes it) for `dsl`. See `fuzz/README.md` for how a
//! crash becomes such a file.

use std::path::{Path, PathBuf};

use ghostnet_compiler::fuzzing;

fn files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions").join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')))
        .collect();
    v.sort();
    v
}

/// Replays every file of `target` and reports all that still panic.
fn replay(target: &str, run: impl Fn(&[u8])) {
    let mut failed = Vec::new();
    let files = files(target);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&bytes))).is_err() {
            failed.push(f.display().to_string());
        }
    }
    eprintln!("{target}: {} regression input(s) replayed", files.len());
    assert!(failed.is_empty(), "{target}: {} input(s) still crash:\n  {}", failed.len(), failed.join("\n  "));
}

#[test]
fn onnx_load() {
    replay("onnx_load", |b| fuzzing::onnx_bytes(b, fuzzing::data_dir()));
}

#[test]
fn onnx_mutate() {
    replay("onnx_mutate", |b| fuzzing::onnx_bytes(b, fuzzing::data_dir()));
}

#[test]
fn safetensors_load() {
    replay("safetensors_load", fuzzing::safetensors_load);
}

#[test]
fn differential() {
    replay("differential", fuzzing::differential);
}

#[test]
fn dsl() {
    replay("dsl", |b| {
        let (spec, seed) = fuzzing::spec_from_json(std::str::from_utf8(b).unwrap()).unwrap();
        fuzzing::dsl_spec(&spec, seed);
    });
}
