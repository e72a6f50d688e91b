//! `ghostc -o` end to end: the generated modules are built in a scratch crate with no
//! dependencies (warnings are errors), run on every kernel tier with one and two threads,
//! and compared with ONNX Runtime (fixtures) or the reference interpreter (DSL networks).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ghostnet_compiler::front::dsl::{self, weights::Source, Spec, Version};
use ghostnet_compiler::{interp, ir::numel};

/// A network for the scratch crate: its module name, `ghostc` arguments, the input file,
/// the expected outputs, and classes per row.
struct Case {
    module: String,
    args: Vec<String>,
    input: PathBuf,
    want: Vec<f32>,
    classes: usize,
}

fn write_f32(path: &Path, v: &[f32]) {
    std::fs::write(path, v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
}

const MAIN: &str = r#"
macro_rules! nets {
    ($($m:ident),*) => {
        $(mod $m;)*
        fn main() {
            let a: Vec<String> = std::env::args().collect();
            let threads: usize = a[4].parse().unwrap();
            let bytes = std::fs::read(&a[2]).unwrap();
            let x: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            let mut out: Vec<u8> = Vec::new();
            match a[1].as_str() {
                $(stringify!($m) => {
                    let mut net = $m::Net::new();
                    eprintln!("{} runs on {:?}", a[1], net.isa());
                    let mut y = [0f32; $m::OUTPUT_LEN];
                    for chunk in x.chunks($m::INPUT_LEN) {
                        let input: &[f32; $m::INPUT_LEN] = chunk.try_into().unwrap();
                        if threads > 1 { net.forward_threads(input, &mut y, threads) } else { net.forward(input, &mut y) }
                        out.extend(y.iter().flat_map(|v| v.to_le_bytes()));
                    }
                })*
                other => panic!("no network {other}"),
            }
            std::fs::write(&a[3], out).unwrap();
        }
    };
}
"#;

/// Builds all cases into one crate at `opt_level` and checks each on every tier and thread
/// count.
///
/// Every level gives the same numbers (no fast-math in Rust, FMAs are explicit intrinsics);
/// the benchmarks and the golden crate build at 3. Level 1 builds in half the time of 3;
/// level 0 builds a network module with its kernels about six times faster than 1 but runs
/// it about ten times slower, which pays for small networks run on a few inputs.
fn build_and_check(name: &str, opt_level: u8, cases: &[Case]) {
    let dir = common::scratch_crate(name, &format!("\n[profile.release]\nopt-level = {opt_level}\n"));
    let mut main = MAIN.to_string();
    main.push_str(&format!("nets!({});\n", cases.iter().map(|c| c.module.as_str()).collect::<Vec<_>>().join(", ")));
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    for c in cases {
        let out = dir.join("src").join(format!("{}.rs", c.module));
        let o = Command::new(env!("CARGO_BIN_EXE_ghostc")).args(&c.args).arg("-o").arg(&out).output().unwrap();
        assert!(o.status.success(), "ghostc {:?}: {}", c.args, String::from_utf8_lossy(&o.stderr));
    }
    let o = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet"])
        .current_dir(&dir)
        .env("RUSTFLAGS", "-D warnings")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(o.status.success(), "the generated code does not build cleanly:\n{}", String::from_utf8_lossy(&o.stderr));
    let exe = dir.join("target/release").join(name);
    let tiers: Vec<&str> = ghostnet_runtime::isa::Isa::ALL.iter().filter(|i| i.supported() && i.base() == **i).map(|i| i.name()).collect();
    // `GHOSTNET_ISA=` (set but empty) means the best tier, as an unset variable does.
    let (c, out) = (&cases[0], dir.join("empty_isa.out"));
    let o = Command::new(&exe).args([&c.module, c.input.to_str().unwrap(), out.to_str().unwrap(), "1"]).env("GHOSTNET_ISA", "").output().unwrap();
    assert!(o.status.success(), "{} with GHOSTNET_ISA empty: {}", c.module, String::from_utf8_lossy(&o.stderr));
    let best = ghostnet_runtime::isa::Isa::best().name();
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("runs on {}", cap(best))), "{}", String::from_utf8_lossy(&o.stderr));
    for c in cases {
        for isa in &tiers {
            for threads in [1, 2] {
                let out = dir.join(format!("{}.{isa}.{threads}.out", c.module));
                let o = Command::new(&exe)
                    .args([&c.module, c.input.to_str().unwrap(), out.to_str().unwrap(), &threads.to_string()])
                    .env("GHOSTNET_ISA", isa)
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{} on {isa}: {}", c.module, String::from_utf8_lossy(&o.stderr));
                assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("runs on {}", cap(isa))));
                let got = common::read_f32(&out);
                common::assert_close(&format!("{} {isa} x{threads}", c.module), &got, &c.want, 1e-4, c.classes);
            }
        }
    }
}

/// How the generated `Isa` prints tier `isa` (its `Debug` form).
fn cap(isa: &str) -> String {
    format!("{:?}", ghostnet_runtime::isa::Isa::from_name(isa).expect("a tier name"))
}

#[test]
fn fixtures_match_onnx_runtime() {
    let Some(dir) = common::fixtures() else { return };
    let mut cases = Vec::new();
    for stem in ["ghostnet_050_legacy", "ghostnet_050_extdata", "ghostnet_100_dynamo", "ghostnetv2_100_dynamo", "ghostnetv3_050_dynamo"] {
        cases.push(Case {
            module: stem.into(),
            args: vec![dir.join(format!("{stem}.onnx")).to_string_lossy().into()],
            input: dir.join(format!("{stem}.input.bin")),
            want: common::read_f32(&dir.join(format!("{stem}.ort.bin"))),
            classes: 1000,
        });
    }
    // Five outputs back to back (a features_only backbone); no top-5 on feature maps.
    let stem = "ghostnet_050_features_dynamo";
    cases.push(Case {
        module: stem.into(),
        args: vec![dir.join(format!("{stem}.onnx")).to_string_lossy().into()],
        input: dir.join(format!("{stem}.input.bin")),
        want: common::read_f32(&dir.join(format!("{stem}.ort.bin"))),
        classes: 1,
    });
    // All 397 digits in one run: the same predictions as ONNX Runtime.
    cases.push(Case {
        module: "digits".into(),
        args: vec![dir.join("digits_ghostnet.onnx").to_string_lossy().into()],
        input: dir.join("digits_ghostnet.test_x.bin"),
        want: common::read_f32(&dir.join("digits_ghostnet.ort.bin")),
        classes: 10,
    });
    // Level 1: the ImageNet networks and the 397 digits would take longer to run unoptimized
    // than to optimize.
    build_and_check("e2e_fixtures", 1, &cases);
}

fn dsl_case(dir: &Path, module: &str, spec: &Spec, seed: u64, extra: &[String]) -> Case {
    let graph = dsl::build(spec, &mut Source::seeded(seed)).unwrap();
    let x = common::test_input(numel(&spec.input) * 2, seed);
    let mut want = Vec::new();
    for chunk in x.chunks(numel(&spec.input)) {
        want.extend(interp::run(&graph, &[chunk]).unwrap().remove(0));
    }
    let input = dir.join(format!("{module}.in"));
    write_f32(&input, &x);
    let s = &spec.input;
    let mut args = vec![
        "--alpha".into(),
        spec.width.to_string(),
        "--input".into(),
        format!("{}x{}x{}x{}", s[0], s[1], s[2], s[3]),
        "--classes".into(),
        spec.num_classes.to_string(),
        "--seed".into(),
        seed.to_string(),
    ];
    if spec.version == Version::V2 {
        args.extend(["--version".into(), "2".into()]);
    }
    args.extend(extra.iter().cloned());
    Case { module: module.into(), args, input, want, classes: spec.num_classes }
}

#[test]
fn dsl_networks_match_the_interpreter() {
    let dir = common::scratch_dir("e2e_dsl_inputs");
    let cases = vec![
        dsl_case(&dir, "alpha_050", &Spec { input: [1, 3, 128, 128], ..Spec::with_width(0.5) }, 1, &[]),
        dsl_case(&dir, "alpha_075", &Spec { input: [1, 3, 96, 96], ..Spec::with_width(0.75) }, 2, &[]),
        dsl_case(&dir, "alpha_100", &Spec::with_width(1.0), 3, &[]),
        dsl_case(&dir, "alpha_130", &Spec { input: [1, 3, 160, 160], ..Spec::with_width(1.3) }, 4, &[]),
        dsl_case(&dir, "non_square", &Spec { input: [1, 3, 160, 192], ..Spec::with_width(1.0) }, 5, &[]),
        dsl_case(&dir, "batch_2", &Spec { input: [2, 3, 64, 64], num_classes: 100, ..Spec::with_width(0.75) }, 6, &[]),
        dsl_case(&dir, "v2_alpha_100", &Spec { version: Version::V2, input: [1, 3, 160, 160], ..Spec::with_width(1.0) }, 7, &[]),
        dsl_case(&dir, "v2_alpha_130", &Spec { version: Version::V2, input: [1, 3, 96, 112], ..Spec::with_width(1.3) }, 8, &[]),
    ];
    build_and_check("e2e_dsl", 0, &cases);
}

#[test]
fn random_stage_tables_match_the_interpreter() {
    let dir = common::scratch_dir("e2e_random_inputs");
    let cases: Vec<Case> = (0..4)
        .map(|i| {
            let spec = common::random_spec(100 + i);
            let table = serde_json::to_string(
                &spec
                    .stages
                    .iter()
                    .map(|s| s.iter().map(|b| vec![b.kernel as f64, b.expansion as f64, b.out as f64, b.se_ratio as f64, b.stride as f64]).collect::<Vec<_>>())
                    .collect::<Vec<_>>(),
            )
            .unwrap();
            dsl_case(&dir, &format!("random_{i}"), &spec, 7 + i, &["--stages".into(), table])
        })
        .collect();
    build_and_check("e2e_random", 0, &cases);
}

#[test]
fn no_std_variant_builds_in_a_no_std_library() {
    let dir = common::scratch_crate("e2e_no_std", "");
    std::fs::write(
        dir.join("src/lib.rs"),
        "#![no_std]\npub mod net;\n\
         pub fn classify(arena: &mut net::Arena, x: &[f32; net::INPUT_LEN], y: &mut [f32; net::OUTPUT_LEN]) {\n\
         net::Net::new(arena).forward(x, y)\n}\n",
    )
    .unwrap();
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/digits_ghostnet.onnx");
    let o = Command::new(env!("CARGO_BIN_EXE_ghostc")).arg(&model).arg("--no-std").arg("-o").arg(dir.join("src/net.rs")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(env!("CARGO"))
        .args(["build", "--quiet"])
        .current_dir(&dir)
        .env("RUSTFLAGS", "-D warnings")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(o.status.success(), "the no_std variant does not build:\n{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn debug_build_runs_with_overflow_checks() {
    // Debug builds check integer overflow: every index the kernels form must be exact.
    let Some(fx) = common::fixtures() else { return };
    let dir = common::scratch_crate("e2e_debug", "");
    let mut main = MAIN.to_string();
    main.push_str("nets!(digits, stem_pad);\n");
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    let digits = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/digits_ghostnet.onnx");
    for (module, args) in [
        ("digits", vec![digits.to_string_lossy().into_owned()]),
        ("stem_pad", vec!["--alpha".into(), "0.5".into(), "--input".into(), "1x3x35x33".into(), "--classes".into(), "5".into()]),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_ghostc")).args(&args).arg("-o").arg(dir.join(format!("src/{module}.rs"))).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = Command::new(env!("CARGO")).args(["build", "--quiet"]).current_dir(&dir).env_remove("CARGO_TARGET_DIR").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let exe = dir.join("target/debug/e2e_debug");
    let xs = std::fs::read(fx.join("digits_ghostnet.test_x.bin")).unwrap();
    let inp = dir.join("digits.in");
    std::fs::write(&inp, &xs[..4 * 1024 * 4]).unwrap();
    let want = common::read_f32(&fx.join("digits_ghostnet.ort.bin"));
    let stem_in = dir.join("stem.in");
    write_f32(&stem_in, &common::test_input(3 * 35 * 33, 9));
    for isa in ghostnet_runtime::isa::Isa::ALL.iter().filter(|i| i.supported() && i.base() == **i).map(|i| i.name()) {
        let out = dir.join(format!("digits.{isa}.out"));
        let o = Command::new(&exe).args(["digits", inp.to_str().unwrap(), out.to_str().unwrap(), "2"]).env("GHOSTNET_ISA", isa).output().unwrap();
        assert!(o.status.success(), "debug build on {isa}: {}", String::from_utf8_lossy(&o.stderr));
        common::assert_close(&format!("debug digits {isa}"), &common::read_f32(&out), &want[..40], 1e-4, 10);
        let out = dir.join(format!("stem.{isa}.out"));
        let o = Command::new(&exe).args(["stem_pad", stem_in.to_str().unwrap(), out.to_str().unwrap(), "1"]).env("GHOSTNET_ISA", isa).output().unwrap();
        assert!(o.status.success(), "debug build on {isa}: {}", String::from_utf8_lossy(&o.stderr));
    }
}
