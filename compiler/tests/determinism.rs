//! Determinism: the same input gives bit-identical outputs run after run, and splitting the
//! work over threads (`forward_threads`) gives exactly what one thread (`forward`) gives, on
//! every kernel tier this machine runs.
//!
//! Checked twice: in process with the lowered [`Program`] (what the generated code does,
//! with the runtime crate's kernels), and on the generated Rust itself, built in a scratch
//! crate with no dependencies.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ghostnet_compiler::back::rust::{lower, Program};
use ghostnet_compiler::front::dsl::{self, weights::Source, Block, Spec, Version};
use ghostnet_compiler::front::onnx;
use ghostnet_compiler::ir::numel;
use ghostnet_runtime::isa::Isa;

fn digits_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/digits_ghostnet.onnx")
}

/// A GhostNetV2 (attention gate, resize) with squeeze-excite, strides and two images per
/// batch: the ops and the batch loop the digits model does not have.
fn v2_spec() -> Spec {
    let b = Block::new;
    Spec {
        version: Version::V2,
        width: 0.75,
        stages: vec![
            vec![b(3, 16, 16, 0.0, 1)],
            vec![b(3, 48, 24, 0.0, 2)],
            vec![b(5, 72, 40, 0.25, 2), b(3, 120, 40, 0.25, 1)],
        ],
        input: [2, 3, 40, 32],
        num_classes: 7,
        head_channels: 64,
        features: false,
    }
}

fn programs() -> Vec<(&'static str, Program)> {
    let digits = onnx::load(&digits_path(), &onnx::Options::default()).unwrap();
    let v2 = dsl::build(&v2_spec(), &mut Source::seeded(21)).unwrap();
    [("digits", digits), ("v2", v2)]
        .into_iter()
        .map(|(name, g)| (name, lower::lower(&ghostnet_compiler::optimize(g).unwrap()).unwrap()))
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn tiers() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.supported() && i.base() == *i).collect()
}

#[test]
fn programs_are_deterministic_across_runs_and_threads() {
    for (name, p) in programs() {
        let input = common::test_input(p.batch() * p.image_len(), 5);
        for isa in tiers() {
            let first = p.run(isa, &input, 1);
            assert!(first.iter().all(|v| v.is_finite()), "{name} on {isa:?}: non-finite outputs");
            assert_eq!(bits(&p.run(isa, &input, 1)), bits(&first), "{name} on {isa:?}: a second run differs");
            for threads in [2, 3, 4, 7] {
                assert_eq!(bits(&p.run(isa, &input, threads)), bits(&first), "{name} on {isa:?}: {threads} threads differ from one");
            }
            eprintln!("{name} on {isa:?}: bit-identical over runs and 1, 2, 3, 4, 7 threads");
        }
    }
}

/// The scratch crate's main: for every tier, several inputs through `forward` twice (and on
/// a fresh `Net`), and through `forward_threads` with 2 to 4 threads, all compared by bits.
const MAIN: &str = r#"
mod digits;
mod v2;

macro_rules! check {
    ($m:ident, $input:expr) => {{
        let input: &[f32] = $input;
        for isa in $m::Isa::ALL.into_iter().filter(|i| i.supported() && i.base() == *i) {
            let mut net = $m::Net::with_isa(isa);
            let mut fresh = $m::Net::with_isa(isa);
            for (i, chunk) in input.chunks_exact($m::INPUT_LEN).enumerate() {
                let x: &[f32; $m::INPUT_LEN] = chunk.try_into().unwrap();
                let mut want = [0f32; $m::OUTPUT_LEN];
                net.forward(x, &mut want);
                let bits = |y: &[f32]| y.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
                let mut y = [0f32; $m::OUTPUT_LEN];
                net.forward(x, &mut y);
                assert_eq!(bits(&y), bits(&want), "{} {:?} input {i}: second forward differs", stringify!($m), isa);
                fresh.forward(x, &mut y);
                assert_eq!(bits(&y), bits(&want), "{} {:?} input {i}: a fresh Net differs", stringify!($m), isa);
                for threads in 2..=4 {
                    let mut y = [0f32; $m::OUTPUT_LEN];
                    net.forward_threads(x, &mut y, threads);
                    assert_eq!(bits(&y), bits(&want), "{} {:?} input {i}: forward_threads({threads}) differs from forward", stringify!($m), isa);
                }
            }
            println!("{} {:?}: deterministic", stringify!($m), isa);
        }
    }};
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let read = |p: &str| -> Vec<f32> {
        std::fs::read(p).unwrap().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
    };
    check!(digits, &read(&a[1]));
    check!(v2, &read(&a[2]));
}
"#;

#[test]
fn generated_forward_threads_is_bit_identical_to_forward() {
    let dir = common::scratch_crate("determinism", "");
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
    let ghostc = |args: &[&str], out: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_ghostc")).args(args).arg("-o").arg(dir.join("src").join(out)).output().unwrap();
        assert!(o.status.success(), "ghostc {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    ghostc(&[digits_path().to_str().unwrap()], "digits.rs");
    // The same network as `v2_spec` through the command line.
    let spec = v2_spec();
    let stages = serde_json::to_string(
        &spec.stages.iter().map(|s| s.iter().map(|b| serde_json::json!([b.kernel, b.expansion, b.out, b.se_ratio, b.stride])).collect::<Vec<_>>()).collect::<Vec<_>>(),
    )
    .unwrap();
    ghostc(&["--alpha", "0.75", "--version", "2", "--stages", &stages, "--input", "2x3x40x32", "--classes", "7", "--seed", "21"], "v2.rs");
    let write = |name: &str, n: usize, seed: u64| {
        let p = dir.join(name);
        std::fs::write(&p, common::test_input(n, seed).iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
        p
    };
    let digits_in = write("digits.in", 3 * 32 * 32, 1);
    let v2_in = write("v2.in", 2 * numel(&spec.input), 2);
    let o = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet"])
        .current_dir(&dir)
        .env("RUSTFLAGS", "-D warnings")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(o.status.success(), "the generated code does not build:\n{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(dir.join("target/release/determinism")).arg(&digits_in).arg(&v2_in).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    eprint!("{text}");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tiers = tiers().len();
    assert_eq!(text.matches("deterministic").count(), 2 * tiers, "every tier of both networks must be checked");
}
