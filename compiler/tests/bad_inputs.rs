//! The bad-input corpus (`tests/bad-inputs/`): `ghostc` on every file exits non-zero with the
//! expected message and never panics; the files are exactly what the generator
//! (`tests/corpus/mod.rs`, run by `cargo run -p ghostnet-compiler --example make_bad_inputs`)
//! writes. Also: f16 and bf16 safetensors weights convert exactly.

mod common;
mod corpus;

use std::path::{Path, PathBuf};
use std::process::Command;

use ghostnet_compiler::front::dsl::{self, weights::Source, Spec};
use ghostnet_compiler::Limits;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-inputs")
}

/// Every file under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn corpus_files_are_what_the_generator_writes() {
    let fresh = common::scratch_dir("bad_inputs_regenerated");
    let n = corpus::write_all(&fresh).unwrap();
    assert!(n >= 40, "the corpus has {n} cases; it needs at least 40");
    let (want, have) = (listing(&fresh), listing(&corpus_dir()));
    assert_eq!(have, want, "tests/bad-inputs differs from the generator's file list; regenerate it with `cargo run -p ghostnet-compiler --example make_bad_inputs`");
    for f in &want {
        let same = std::fs::read(fresh.join(f)).unwrap() == std::fs::read(corpus_dir().join(f)).unwrap();
        assert!(same, "tests/bad-inputs/{} differs from what the generator writes; regenerate it", f.display());
    }
}

#[test]
fn ghostc_refuses_every_bad_input_with_its_message() {
    let dir = corpus_dir();
    let out_dir = common::scratch_dir("bad_inputs_out");
    let table = std::fs::read_to_string(dir.join(corpus::EXPECTATIONS)).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for line in table.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let [file, args, expect]: [&str; 3] = line.split('\t').collect::<Vec<_>>().try_into().unwrap_or_else(|_| panic!("bad line: {line}"));
        let path = dir.join(file);
        let args: Vec<String> = args
            .split(' ')
            .map(|a| a.replace("{dir}", dir.to_str().unwrap()).replace("{}", path.to_str().unwrap()))
            .collect();
        // As `ghostc inspect` (load and passes) and as a compile to Rust (the back end too).
        let out = out_dir.join("net.rs");
        let compile: Vec<String> = args[1..].iter().cloned().chain(["-o".to_string(), out.to_str().unwrap().to_string()]).collect();
        for run in [args.clone(), compile] {
            count += 1;
            let o = Command::new(env!("CARGO_BIN_EXE_ghostc")).args(&run).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            let problem = if o.status.success() {
                Some("succeeded".to_string())
            } else if err.contains("panicked") || o.status.code() != Some(1) {
                Some(format!("crashed ({}): {err}", o.status))
            } else if !err.starts_with("error: ") || !err.contains(expect) {
                Some(format!("said: {err}"))
            } else {
                None
            };
            if let Some(p) = problem {
                failures.push(format!("{file} (ghostc {}): expected '{expect}'; {p}", run.join(" ")));
            }
        }
        assert!(!out.exists() && !out_dir.join("net.weights.bin").exists(), "{file}: a failed compile left files behind");
    }
    eprintln!("{count} ghostc runs over the corpus");
    assert!(failures.is_empty(), "{} of {count} runs failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn f16_and_bf16_weights_convert_exactly() {
    // Weights rounded to values both halves hold exactly (8 significant bits, small
    // exponents), written as F32, F16 and BF16: the three graphs must be identical.
    let round = |_: &str, v: &mut Vec<f32>| v.iter_mut().for_each(|x| *x = (*x * 64.0).round() / 64.0);
    let dir = common::scratch_dir("half_weights");
    let spec = Spec {
        stages: dsl::parse_stages(corpus::TINY_STAGES).unwrap(),
        input: [1, 3, 16, 16],
        num_classes: 2,
        ..Spec::default()
    };
    let mut graphs = Vec::new();
    for (name, dtype, encode) in [("f32", "F32", corpus::f32_bytes as fn(f32) -> Vec<u8>), ("f16", "F16", corpus::f16_bytes), ("bf16", "BF16", corpus::bf16_bytes)] {
        let p = dir.join(format!("{name}.safetensors"));
        std::fs::write(&p, corpus::tiny_safetensors(dtype, encode, round)).unwrap();
        let mut src = Source::safetensors(&p, &Limits::default()).unwrap();
        graphs.push(dsl::build(&spec, &mut src).unwrap_or_else(|e| panic!("{name}: {e}")));
    }
    let consts = |g: &ghostnet_compiler::ir::Graph| -> Vec<(String, Vec<u32>)> {
        g.tensors.iter().filter_map(|t| t.data.as_ref().map(|d| (t.name.clone(), d.iter().map(|v| v.to_bits()).collect()))).collect()
    };
    let want = consts(&graphs[0]);
    assert!(want.iter().any(|(_, d)| d.iter().any(|&b| f32::from_bits(b).fract() != 0.0)), "the weights should not all be integers");
    assert_eq!(consts(&graphs[1]), want, "f16 weights differ from the f32 ones");
    assert_eq!(consts(&graphs[2]), want, "bf16 weights differ from the f32 ones");
}
