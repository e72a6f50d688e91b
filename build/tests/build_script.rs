//! `ghostnet-build` in a user's build script: a scratch crate whose only dependency is the
//! build-dependency `ghostnet-build` compiles a DSL GhostNet and an ONNX model into
//! `OUT_DIR`, includes them with `include!`, and gets the reference interpreter's outputs;
//! cargo reruns the script when the model changes; a bad model fails the build with
//! `ghostc`'s message.

#[path = "../../compiler/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ghostnet_compiler::front::dsl::{self, weights::Source, Block, Spec};
use ghostnet_compiler::{back, interp};

const MAIN: &str = r#"
mod net {
    include!(concat!(env!("OUT_DIR"), "/net.rs"));
}
mod tiny {
    include!(concat!(env!("OUT_DIR"), "/tiny.rs"));
}

fn main() {
    let mut out = String::new();
    let mut a = net::Net::new();
    let x: Vec<f32> = (0..net::INPUT_LEN).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect();
    let mut y = [0f32; net::OUTPUT_LEN];
    a.forward(x.as_slice().try_into().unwrap(), &mut y);
    out += &format!("net {:?}\n", y);
    let mut b = tiny::Net::new();
    let x: Vec<f32> = (0..tiny::INPUT_LEN).map(|i| ((i % 13) as f32 - 6.0) / 6.0).collect();
    let mut y = [0f32; tiny::OUTPUT_LEN];
    b.forward(x.as_slice().try_into().unwrap(), &mut y);
    out += &format!("tiny {:?}\n", y);
    print!("{out}");
}
"#;

const BUILD: &str = r#"
fn main() -> Result<(), Box<dyn std::error::Error>> {
    ghostnet_build::Config::new().alpha(0.5).input([1, 3, 48, 48]).classes(7).seed(3).module("net").compile()?;
    ghostnet_build::Config::new().onnx("models/tiny.onnx").module("tiny").compile()?;
    Ok(())
}
"#;

fn tiny_spec() -> Spec {
    Spec {
        stages: vec![vec![Block::new(3, 16, 16, 0.0, 1)], vec![Block::new(3, 48, 24, 0.25, 2)]],
        input: [1, 3, 32, 32],
        num_classes: 5,
        ..Spec::with_width(0.5)
    }
}

/// The tiny network with weights from `seed`, as ONNX.
fn write_tiny(path: &Path, seed: u64) {
    let g = dsl::build(&tiny_spec(), &mut Source::seeded(seed)).unwrap();
    std::fs::write(path, back::onnx::write(&g).unwrap()).unwrap();
}

/// The interpreter's outputs for the inputs `MAIN` builds.
fn expected(spec: &Spec, seed: u64, modulo: usize) -> Vec<f32> {
    let g = ghostnet_compiler::optimize(dsl::build(spec, &mut Source::seeded(seed)).unwrap()).unwrap();
    let n: usize = spec.input.iter().product();
    let half = (modulo / 2) as f32;
    let x: Vec<f32> = (0..n).map(|i| ((i % modulo) as f32 - half) / half).collect();
    interp::run(&g, &[&x]).unwrap().swap_remove(0)
}

fn parse(line: &str) -> Vec<f32> {
    let list = line.split_once('[').unwrap().1.trim_end_matches(']');
    list.split(", ").map(|v| v.parse().unwrap()).collect()
}

fn cargo(dir: &Path, target: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO")).args(args).current_dir(dir).env("CARGO_TARGET_DIR", target).env("RUSTFLAGS", "-D warnings").output().unwrap()
}

#[test]
fn a_crate_with_only_the_build_dependency_builds_and_runs_the_networks() {
    let build_crate = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let extra = format!("\n[build-dependencies]\nghostnet-build = {{ path = {:?} }}\n", build_crate.to_str().unwrap());
    let dir = common::scratch_crate("uses_ghostnet_build", "");
    // `[build-dependencies]` after the empty `[dependencies]`, before `[workspace]`.
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap().replace("[dependencies]\n", &format!("[dependencies]\n{extra}"));
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::create_dir_all(dir.join("models")).unwrap();
    write_tiny(&dir.join("models/tiny.onnx"), 1);
    std::fs::write(dir.join("build.rs"), BUILD).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
    // Kept between runs: the compiler as a build dependency takes a while to build.
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("uses_ghostnet_build-target");

    let check = |tiny_seed: u64| {
        let o = cargo(&dir, &target, &["run", "--quiet"]);
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "the crate does not build or run cleanly:\n{}", String::from_utf8_lossy(&o.stderr));
        let lines: Vec<&str> = stdout.lines().collect();
        let net = Spec { input: [1, 3, 48, 48], num_classes: 7, ..Spec::with_width(0.5) };
        common::assert_close("net (DSL)", &parse(lines[0]), &expected(&net, 3, 17), 1e-4, 7);
        common::assert_close("tiny (ONNX)", &parse(lines[1]), &expected(&tiny_spec(), tiny_seed, 13), 1e-4, 5);
    };
    check(1);

    // Only OUT_DIR was written, and the script asked to be rerun when the model changes.
    let mut files: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["Cargo.lock", "Cargo.toml", "build.rs", "models", "src"]);
    let out_dirs: Vec<PathBuf> = std::fs::read_dir(target.join("debug/build"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("uses_ghostnet_build-") && p.join("output").is_file())
        .collect();
    let output: String = out_dirs.iter().map(|d| std::fs::read_to_string(d.join("output")).unwrap()).collect();
    assert!(output.contains("cargo:rerun-if-changed=models/tiny.onnx"), "{output}");
    let generated: Vec<PathBuf> = out_dirs.iter().map(|d| d.join("out/tiny.rs")).filter(|p| p.is_file()).collect();
    assert!(!generated.is_empty() && out_dirs.iter().any(|d| d.join("out/net.weights.bin").is_file()));

    // A changed model is picked up by the next build.
    write_tiny(&dir.join("models/tiny.onnx"), 2);
    check(2);

    // A broken model fails the build with the compiler's message, not a panic.
    std::fs::write(dir.join("models/tiny.onnx"), b"not a model").unwrap();
    let o = cargo(&dir, &target, &["build", "--quiet"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && !stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("Error: ") && stderr.contains("tiny.onnx"), "{stderr}");
    eprintln!("{}", stderr.lines().find(|l| l.contains("Error: ")).unwrap());
}

#[test]
fn errors_name_the_problem_without_a_build_script() {
    assert!(std::env::var_os("OUT_DIR").is_none(), "tests run without OUT_DIR");
    let e = ghostnet_build::Config::new().alpha(1.0).compile().unwrap_err();
    assert!(e.to_string().starts_with("OUT_DIR is not set"), "{e}");
    assert_eq!(format!("{e:?}"), e.to_string(), "Debug prints the message, as `main` returning the error shows it");
    let dir = common::scratch_dir("ghostnet_build_errors");
    let e = ghostnet_build::Config::new().alpha(1.0).module("../escape").out_dir(&dir).compile().unwrap_err();
    assert!(e.to_string().contains("the module name '../escape' is not a Rust identifier"), "{e}");
    let e = ghostnet_build::Config::new().out_dir(&dir).compile().unwrap_err();
    assert!(e.to_string().contains("no model given: call .onnx("), "{e}");
    let e = ghostnet_build::Config::new().onnx("m.onnx").alpha(-1.0).stages("[[[3, 16]]]").out_dir(&dir).emit_rerun_if_changed(false).compile().unwrap_err();
    let e = e.to_string();
    assert!(e.contains(".alpha(..) describes a DSL network and cannot be combined with .onnx(..)") && e.contains(".stages(..)"), "{e}");
    let e = ghostnet_build::Config::new().onnx(dir.join("missing.onnx")).out_dir(&dir).emit_rerun_if_changed(false).compile().unwrap_err();
    assert!(e.to_string().contains("missing.onnx"), "{e}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "a failed compile writes nothing");
}
