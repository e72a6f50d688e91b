//! Regenerates the golden files in `generated/` and fails when they changed, so a change
//! to the generated code is always reviewed and committed. (CI also runs
//! `git diff --exit-code -- generated/` after the tests.)

use std::path::PathBuf;

use ghostnet_compiler::back::rust::{Options, WeightsSource};
use ghostnet_compiler::front::dsl::Spec;
use ghostnet_compiler::{compile, Limits, Source};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Writes `net.rs` and `net.weights.bin` into `generated/<dir>`; returns whether the code changed.
fn regenerate(dir: &str, source: Source, described: &str) -> bool {
    let out = root().join("generated").join(dir);
    std::fs::create_dir_all(&out).unwrap();
    let options = Options { no_std: false, source: described.into(), weights: WeightsSource::File("net.weights.bin".into()), ..Default::default() };
    let c = compile(&source, &Limits::default(), &options).unwrap();
    let weights = c.weight_bytes();
    let wpath = out.join("net.weights.bin");
    if std::fs::read(&wpath).ok().as_deref() != Some(&weights[..]) {
        std::fs::write(&wpath, &weights).unwrap();
    }
    let path = out.join("net.rs");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    if old != c.code {
        std::fs::write(&path, &c.code).unwrap();
        eprintln!("golden file {} was regenerated; review and commit it", path.display());
        return true;
    }
    false
}

#[test]
fn golden_files_are_up_to_date() {
    let digits = Source::Onnx { path: root().join("compiler/models/digits_ghostnet.onnx"), input_shape: None };
    let a = regenerate("digits", digits, "`digits_ghostnet.onnx`");
    let g100 = Source::Dsl { spec: Spec::with_width(1.0), weights: None, seed: 0 };
    let b = regenerate("ghostnet_100", g100, "the GhostNet DSL (ghostnet_100) with weights seeded by 0");
    assert!(!a && !b, "golden files changed (now rewritten); rerun the tests and commit generated/");
}
