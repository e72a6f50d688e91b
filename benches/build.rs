//! Compiles the benchmarked networks with the ghostnet compiler into OUT_DIR: GhostNet 1.0x
//! (seeded weights, the same module as generated/ghostnet_100), the digits model,
//! GhostNetV2 1.0x and 0.5x (seeded), and, when the fixtures are there, timm's GhostNetV3
//! 0.5x in training form (cfg `ghostnet_v3`).

use std::path::{Path, PathBuf};

use ghostnet_compiler::back::rust::{Options, WeightsSource};
use ghostnet_compiler::front::dsl::{Spec, Version};
use ghostnet_compiler::{compile, Limits, Source};

fn emit(out: &Path, name: &str, source: Source) {
    let options = Options { no_std: false, source: name.into(), weights: WeightsSource::File(format!("{name}.weights.bin")), ..Default::default() };
    let c = compile(&source, &Limits::default(), &options).unwrap_or_else(|e| panic!("{name}: {e}"));
    std::fs::write(out.join(format!("{name}.weights.bin")), c.weight_bytes()).unwrap();
    std::fs::write(out.join(format!("{name}.rs")), &c.code).unwrap();
}

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("..");
    emit(&out, "ghostnet_100", Source::Dsl { spec: Spec::with_width(1.0), weights: None, seed: 0 });
    emit(&out, "digits", Source::Onnx { path: root.join("compiler/models/digits_ghostnet.onnx"), input_shape: None });
    let mut names = vec!["ghostnet_100", "digits"];
    for (name, alpha) in [("ghostnetv2_100", 1.0), ("ghostnetv2_050", 0.5)] {
        let mut spec = Spec::with_width(alpha);
        spec.version = Version::V2;
        emit(&out, name, Source::Dsl { spec, weights: None, seed: 0 });
        names.push(name);
    }
    println!("cargo::rustc-check-cfg=cfg(ghostnet_v3)");
    let fixtures = std::env::var_os("GHOSTNET_FIXTURES").map_or_else(|| root.join("../shared/fixtures"), PathBuf::from);
    let v3 = fixtures.join("ghostnetv3_050_dynamo.onnx");
    if v3.is_file() {
        emit(&out, "ghostnetv3_050", Source::Onnx { path: v3, input_shape: None });
        names.push("ghostnetv3_050");
        println!("cargo::rustc-cfg=ghostnet_v3");
    } else {
        println!("cargo::warning=no {}: the GhostNetV3 benchmark is left out", v3.display());
    }
    // A module file per network (include! cannot take a file with inner attributes).
    let out_dir = out.display().to_string();
    let nets: String = names.iter().map(|n| format!("#[path = \"{out_dir}/{n}.rs\"]\npub mod {n};\n")).collect();
    std::fs::write(out.join("nets.rs"), nets).unwrap();
    println!("cargo:rerun-if-env-changed=GHOSTNET_FIXTURES");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../compiler/src");
    println!("cargo:rerun-if-changed=../runtime/src");
}
