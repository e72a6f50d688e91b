//! Compiles the benchmarked networks with the ghostnet compiler into OUT_DIR: GhostNet 1.0x
//! (seeded weights, the same module as generated/ghostnet_100) and the digits model.

use std::path::{Path, PathBuf};

use ghostnet_compiler::back::rust::{Options, WeightsSource};
use ghostnet_compiler::front::dsl::Spec;
use ghostnet_compiler::{compile, Limits, Source};

fn emit(out: &Path, name: &str, source: Source) {
    let options = Options { no_std: false, source: name.into(), weights: WeightsSource::File(format!("{name}.weights.bin")) };
    let c = compile(&source, &Limits::default(), &options).unwrap_or_else(|e| panic!("{name}: {e}"));
    std::fs::write(out.join(format!("{name}.weights.bin")), c.weight_bytes()).unwrap();
    std::fs::write(out.join(format!("{name}.rs")), &c.code).unwrap();
}

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("..");
    emit(&out, "ghostnet_100", Source::Dsl { spec: Spec::with_width(1.0), weights: None, seed: 0 });
    emit(&out, "digits", Source::Onnx { path: root.join("compiler/models/digits_ghostnet.onnx"), input_shape: None });
    // A module file per network (include! cannot take a file with inner attributes).
    let nets = "#[path = \"{out}/ghostnet_100.rs\"]\npub mod ghostnet_100;\n#[path = \"{out}/digits.rs\"]\npub mod digits;\n";
    std::fs::write(out.join("nets.rs"), nets.replace("{out}", &out.display().to_string())).unwrap();
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../compiler/src");
    println!("cargo:rerun-if-changed=../runtime/src");
}
