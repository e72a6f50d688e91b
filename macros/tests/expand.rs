//! `ghostnet!` end to end: networks expanded by the macro in a user crate that depends on
//! `ghostnet-macros` alone, built in release and run on every kernel tier of this CPU.
//! They give bit for bit the outputs of the module `ghostc` writes for the same model, match
//! ONNX Runtime on the fixtures, and a changed model file is picked up by a rebuild.

mod support;

use std::path::Path;
use std::process::Command;

use ghostnet_compiler::back::rust::{Options, WeightsSource};
use ghostnet_compiler::front::dsl::{self, Spec, Version};
use ghostnet_compiler::ir::{numel, Precision};
use ghostnet_compiler::{compile_with, interp, quantize, Limits, Source};
use support::{assert_close, read_f32, test_input, write_f32, ScratchCrate};

/// `main` of the scratch crate: `NAME ISA IN.bin OUT.bin` runs network module `NAME` on
/// tier `ISA` over every input in `IN.bin` and writes the outputs; exit code 3 when this
/// CPU cannot run the tier.
const MAIN: &str = r#"#![deny(warnings)]

macro_rules! nets {
    (std: [$($m:ident),*], no_std: [$($n:ident),*]) => {
        fn main() {
            let a: Vec<String> = std::env::args().collect();
            let bytes = std::fs::read(&a[3]).unwrap();
            let x: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            let mut out: Vec<u8> = Vec::new();
            match a[1].as_str() {
                $(stringify!($m) => {
                    let Some(isa) = $m::Isa::from_name(&a[2]).filter(|i| i.supported()) else { std::process::exit(3) };
                    let mut net = $m::Net::with_isa(isa);
                    let mut y = [0f32; $m::OUTPUT_LEN];
                    for chunk in x.chunks($m::INPUT_LEN) {
                        net.forward(chunk.try_into().unwrap(), &mut y);
                        out.extend(y.iter().flat_map(|v| v.to_le_bytes()));
                    }
                })*
                $(stringify!($n) => {
                    let Some(isa) = $n::Isa::from_name(&a[2]).filter(|i| i.supported()) else { std::process::exit(3) };
                    let mut arena: Box<$n::Arena> = vec![0f32; $n::ARENA_LEN].into_boxed_slice().try_into().unwrap();
                    let mut net = $n::Net::with_isa(&mut arena, isa);
                    let mut y = [0f32; $n::OUTPUT_LEN];
                    for chunk in x.chunks($n::INPUT_LEN) {
                        net.forward(chunk.try_into().unwrap(), &mut y);
                        out.extend(y.iter().flat_map(|v| v.to_le_bytes()));
                    }
                })*
                other => panic!("no network {other}"),
            }
            std::fs::write(&a[4], out).unwrap();
        }
    };
}
"#;

/// One network module of the scratch crate.
struct Module {
    name: &'static str,
    kind: Kind,
    no_std: bool,
}

enum Kind {
    /// `mod NAME { ghostnet_macros::ghostnet!(ARGS); }`
    Macro(String),
    /// `mod NAME;`, the module `ghostc` writes for this source, in this precision, with
    /// these outputs (none: the model's).
    Ghostc(Source, Precision, quantize::Settings, Vec<String>),
}

impl Module {
    fn ghostnet(name: &'static str, args: &str) -> Self {
        Module { name, kind: Kind::Macro(args.to_string()), no_std: args.contains("no_std") }
    }
    fn ghostc(name: &'static str, source: Source, no_std: bool) -> Self {
        Module { name, kind: Kind::Ghostc(source, Precision::F32, Default::default(), Vec::new()), no_std }
    }
    fn ghostc_in(name: &'static str, source: Source, precision: Precision, int8: quantize::Settings) -> Self {
        Module { name, kind: Kind::Ghostc(source, precision, int8, Vec::new()), no_std: false }
    }
    fn ghostc_outputs(name: &'static str, source: Source, outputs: &[&str]) -> Self {
        Module { name, kind: Kind::Ghostc(source, Precision::F32, Default::default(), outputs.iter().map(|o| o.to_string()).collect()), no_std: false }
    }
}

/// Writes the modules into `krate` (ghostc's as `src/<name>.rs` plus weights, through the
/// library function `ghostc` calls) and builds it.
fn build(krate: &ScratchCrate, modules: &[Module]) {
    let mut main = MAIN.to_string();
    for m in modules {
        match &m.kind {
            Kind::Macro(args) => main.push_str(&format!("mod {} {{\n    ghostnet_macros::ghostnet!({args});\n}}\n", m.name)),
            Kind::Ghostc(..) => main.push_str(&format!("mod {};\n", m.name)),
        }
    }
    let list = |no_std: bool| modules.iter().filter(|m| m.no_std == no_std).map(|m| m.name).collect::<Vec<_>>().join(", ");
    main.push_str(&format!("nets!(std: [{}], no_std: [{}]);\n", list(false), list(true)));
    krate.write_main(&main);
    for m in modules {
        let Kind::Ghostc(source, precision, int8, outputs) = &m.kind else { continue };
        let weights = format!("{}.weights.bin", m.name);
        let options =
            Options { no_std: m.no_std, source: m.name.into(), weights: WeightsSource::File(weights.clone()), precision: Some(*precision), int8: int8.clone() };
        let c = compile_with(source, &Limits::default(), outputs, &options).unwrap_or_else(|e| panic!("{}: {e}", m.name));
        std::fs::write(krate.dir.join("src").join(format!("{}.rs", m.name)), &c.code).unwrap();
        std::fs::write(krate.dir.join("src").join(weights), c.weight_bytes()).unwrap();
    }
    krate.build();
}

/// Tiers to check on this machine (unsupported ones are skipped by the binary).
const TIERS: [&str; 6] = ["scalar", "avx2", "avxvnni", "avx512", "avx512vnni", "neon"];

/// Outputs of module `name` on `input`, or `None` when this CPU cannot run `isa`.
fn run(krate: &ScratchCrate, name: &str, isa: &str, input: &[f32]) -> Option<Vec<f32>> {
    let (inp, out) = (krate.dir.join(format!("{name}.in.bin")), krate.dir.join(format!("{name}.{isa}.out.bin")));
    write_f32(&inp, input);
    let o = Command::new(krate.binary()).args([name, isa]).arg(&inp).arg(&out).output().unwrap();
    if o.status.code() == Some(3) {
        return None;
    }
    assert!(o.status.success(), "{name} on {isa}: {}", String::from_utf8_lossy(&o.stderr));
    Some(read_f32(&out))
}

/// Runs `a` and `b` on every tier and asserts identical bits; returns one tier's outputs.
fn assert_same(krate: &ScratchCrate, a: &str, b: &str, input: &[f32]) -> Vec<f32> {
    let mut last = None;
    for isa in TIERS {
        let (Some(x), Some(y)) = (run(krate, a, isa, input), run(krate, b, isa, input)) else { continue };
        let same = x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(same, "{a} and {b} differ on {isa}");
        eprintln!("{a} == {b} on {isa} ({} outputs)", x.len());
        last = Some(x);
    }
    last.expect("the scalar tier always runs")
}

fn dsl(spec: Spec, seed: u64) -> Source {
    Source::Dsl { spec, weights: None, seed }
}

/// The reference interpreter on the unoptimized graph: every output, back to back.
fn interpret(source: &Source, outputs: &[String], input: &[f32]) -> Vec<f32> {
    let graph = source.load_with(&Limits::default(), outputs).unwrap();
    interp::run(&graph, &[input]).unwrap().concat()
}

/// Links (or copies) `from` to `dir/to`.
fn place(from: &Path, dir: &Path, to: &str) {
    let dest = dir.join(to);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(from, &dest).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(from, &dest).unwrap();
}

/// The macro and `ghostc` agree bit for bit on DSL networks (seeded, custom stage tables in
/// both spellings, V2, `no_std`) and on an ONNX model, on every tier; the digits network
/// (its 397 test images) and the fixture GhostNet 0.5x from safetensors match ONNX Runtime.
#[test]
fn macro_matches_ghostc_and_onnx_runtime() {
    let synth_spec = Spec { input: [1, 3, 160, 160], num_classes: 100, ..Spec::with_width(0.75) };
    let small_spec = Spec { input: [2, 3, 64, 64], num_classes: 10, ..Spec::with_width(0.5) };
    let table = "[[[3, 16, 16, 0, 1]], [[3, 48, 24, 0, 2]], [[5, 72, 40, 0.25, 2], [3, 120, 40, 0.25, 1]]]";
    let v2_spec = Spec {
        version: Version::V2,
        stages: dsl::parse_stages(table).unwrap(),
        input: [1, 1, 96, 80],
        num_classes: 20,
        ..Spec::with_width(1.0)
    };
    let features_spec = Spec { input: [1, 3, 64, 64], features: true, ..Spec::with_width(0.5) };
    let digits_repo = support::workspace().join("compiler/models/digits_ghostnet.onnx").canonicalize().unwrap();
    // Calibration inputs for the int8 modules: the first 16 digits.
    let calib = support::scratch_file("macro-calib.bin");
    let digits_images = std::fs::read(support::workspace().join("compiler/models/digits_ghostnet.test_x.bin")).unwrap();
    std::fs::write(&calib, &digits_images[..16 * 4096]).unwrap();
    let mut modules = vec![
        Module::ghostnet("synth", "alpha = 0.75, input = [1, 3, 160, 160], classes = 100, seed = 7"),
        Module::ghostc("synth_ghostc", dsl(synth_spec.clone(), 7), false),
        Module::ghostnet("small", "alpha = 0.5, input = [2, 3, 64, 64], classes = 10, seed = 3"),
        Module::ghostnet("small_no_std", "alpha = 0.5, input = [2, 3, 64, 64], classes = 10, seed = 3, no_std"),
        Module::ghostc("small_no_std_ghostc", dsl(small_spec.clone(), 3), true),
        Module::ghostnet(
            "v2_array",
            "version = 2, in_chans = 1, input = [1, 1, 96, 80], classes = 20, seed = 5, \
             stages = [[[3, 16, 16, 0, 1]], [[3, 48, 24, 0, 2]], [[5, 72, 40, 0.25, 2], [3, 120, 40, 0.25, 1]]]",
        ),
        Module::ghostnet("v2_text", &format!("version = 2, input = [1, 1, 96, 80], classes = 20, seed = 5, stages = {table:?}")),
        Module::ghostc("v2_ghostc", dsl(v2_spec.clone(), 5), false),
        // Several outputs: a features_only backbone, and chosen layers.
        Module::ghostnet("features", "alpha = 0.5, input = [1, 3, 64, 64], seed = 4, features"),
        Module::ghostc("features_ghostc", dsl(features_spec.clone(), 4), false),
        Module::ghostnet("embedding", "alpha = 0.5, input = [1, 3, 64, 64], seed = 4, outputs = [\"flatten\", \"blocks.3\"]"),
        Module::ghostc_outputs("embedding_ghostc", dsl(Spec { input: [1, 3, 64, 64], ..Spec::with_width(0.5) }, 4), &["flatten", "blocks.3"]),
        Module::ghostnet("digits_repo", "onnx = \"models/repo/digits_ghostnet.onnx\""),
        Module::ghostc("digits_ghostc", Source::Onnx { path: digits_repo.clone(), input_shape: None }, false),
        Module::ghostnet("digits_bf16", "onnx = \"models/repo/digits_ghostnet.onnx\", precision = \"bf16\""),
        Module::ghostc_in("digits_bf16_ghostc", Source::Onnx { path: digits_repo.clone(), input_shape: None }, Precision::Bf16, Default::default()),
        Module::ghostnet(
            "digits_int8",
            "onnx = \"models/repo/digits_ghostnet.onnx\", precision = \"int8\", calibrate = \"models/repo/calib.bin\", keep_float = [\"classifier\"]",
        ),
        Module::ghostc_in(
            "digits_int8_ghostc",
            Source::Onnx { path: digits_repo.clone(), input_shape: None },
            Precision::Int8,
            quantize::Settings { calibrate: Some(calib.clone()), keep_float: vec!["classifier".into()], ..Default::default() },
        ),
    ];
    let fixtures = support::fixtures();
    if fixtures.is_some() {
        modules.push(Module::ghostnet("g050", "alpha = 0.5, weights = \"models/fixtures/ghostnet_050_legacy.safetensors\""));
    }
    let krate = ScratchCrate::new("macro-nets");
    place(&digits_repo, &krate.dir, "models/repo/digits_ghostnet.onnx");
    place(&calib, &krate.dir, "models/repo/calib.bin");
    if let Some(f) = &fixtures {
        place(&f.join("ghostnet_050_legacy.safetensors"), &krate.dir, "models/fixtures/ghostnet_050_legacy.safetensors");
    }
    build(&krate, &modules);

    let x = test_input(numel(&synth_spec.input), 1);
    let got = assert_same(&krate, "synth", "synth_ghostc", &x);
    assert_close("synth vs interpreter", &got, &interpret(&dsl(synth_spec, 7), &[], &x), 1e-4, 100);

    let x = test_input(numel(&small_spec.input), 2);
    let got = assert_same(&krate, "small", "small_no_std", &x);
    assert_same(&krate, "small_no_std", "small_no_std_ghostc", &x);
    assert_close("small vs interpreter", &got, &interpret(&dsl(small_spec, 3), &[], &x), 1e-4, 10);

    let x = test_input(numel(&v2_spec.input), 3);
    assert_same(&krate, "v2_array", "v2_text", &x);
    let got = assert_same(&krate, "v2_array", "v2_ghostc", &x);
    assert_close("v2 vs interpreter", &got, &interpret(&dsl(v2_spec, 5), &[], &x), 1e-4, 20);

    let x = test_input(3 * 64 * 64, 4);
    let got = assert_same(&krate, "features", "features_ghostc", &x);
    assert_close("features vs interpreter", &got, &interpret(&dsl(features_spec, 4), &[], &x), 1e-4, 1);
    let got = assert_same(&krate, "embedding", "embedding_ghostc", &x);
    let outputs = ["flatten".to_string(), "blocks.3".to_string()];
    let want = interpret(&dsl(Spec { input: [1, 3, 64, 64], ..Spec::with_width(0.5) }, 4), &outputs, &x);
    assert_close("embedding vs interpreter", &got, &want, 1e-4, 1);

    let digits_x = read_f32(&support::workspace().join("compiler/models/digits_ghostnet.test_x.bin"));
    assert_same(&krate, "digits_repo", "digits_ghostc", &digits_x[..32 * 32 * 16]);
    assert_same(&krate, "digits_bf16", "digits_bf16_ghostc", &digits_x[..32 * 32 * 16]);
    assert_same(&krate, "digits_int8", "digits_int8_ghostc", &digits_x[..32 * 32 * 16]);

    // The digits network of the repository is the fixture's (the same file), with ONNX
    // Runtime's logits for all its test images beside it.
    let want = read_f32(&support::workspace().join("compiler/models/digits_ghostnet.ort.bin"));
    for isa in TIERS {
        let Some(got) = run(&krate, "digits_repo", isa, &digits_x) else { continue };
        assert_close(&format!("digits on {isa} vs ONNX Runtime"), &got, &want, 1e-4, 10);
        let argmax = |v: &[f32]| support::top_k(v, 1)[0];
        let differ = got.chunks(10).zip(want.chunks(10)).filter(|(g, w)| argmax(g) != argmax(w)).count();
        assert_eq!(differ, 0, "digits on {isa}: {differ} of {} predictions differ from ONNX Runtime's", want.len() / 10);
    }
    let Some(f) = fixtures else { return };
    let x = read_f32(&f.join("ghostnet_050_legacy.input.bin"));
    let want = read_f32(&f.join("ghostnet_050_legacy.ort.bin"));
    for isa in TIERS {
        let Some(got) = run(&krate, "g050", isa, &x) else { continue };
        assert_close(&format!("ghostnet_050 (safetensors) on {isa} vs ONNX Runtime"), &got, &want, 1e-4, 1000);
    }
}

/// Changing the model file, and nothing else, then building again compiles the new model:
/// the expansion names the file in an `include_bytes!`, so cargo sees it as an input.
#[test]
fn a_changed_model_file_is_picked_up_by_a_rebuild() {
    let spec = Spec {
        stages: dsl::parse_stages("[[[3, 16, 16, 0, 1]], [[3, 32, 24, 0.25, 2]]]").unwrap(),
        input: [1, 3, 32, 32],
        num_classes: 7,
        ..Spec::with_width(1.0)
    };
    let krate = ScratchCrate::new("macro-rebuild");
    let model = krate.dir.join("models/net.onnx");
    std::fs::create_dir_all(model.parent().unwrap()).unwrap();
    let write_model = |seed| {
        let graph = dsl::build(&spec, &mut dsl::weights::Source::seeded(seed)).unwrap();
        std::fs::write(&model, ghostnet_compiler::back::onnx::write(&graph).unwrap()).unwrap();
        graph
    };
    let x = test_input(numel(&spec.input), 9);

    let graph = write_model(1);
    build(&krate, &[Module::ghostnet("net", "onnx = \"models/net.onnx\"")]);
    let first = run(&krate, "net", "scalar", &x).unwrap();
    assert_close("the first model", &first, &interp::run(&graph, &[&x]).unwrap()[0], 1e-4, 7);

    let graph = write_model(2);
    let log = krate.build();
    assert!(log.contains("Compiling macro-rebuild"), "cargo did not rebuild after the model changed:\n{log}");
    let second = run(&krate, "net", "scalar", &x).unwrap();
    assert_close("the changed model", &second, &interp::run(&graph, &[&x]).unwrap()[0], 1e-4, 7);
    assert_ne!(first, second, "the two models should give different outputs");

    // Nothing changed: nothing is rebuilt.
    let log = krate.build();
    assert!(!log.contains("Compiling macro-rebuild"), "cargo rebuilt with no change:\n{log}");
}

/// The user crate's binary links only the system libraries every Rust binary links.
#[cfg(target_os = "linux")]
#[test]
fn the_binary_needs_only_the_standard_library() {
    let krate = ScratchCrate::new("macro-deps");
    build(&krate, &[Module::ghostnet("net", "alpha = 0.5, input = [1, 3, 32, 32], classes = 4")]);
    // The one dependency is the proc-macro: it runs in the compiler, nothing of it is linked.
    let tree = Command::new(env!("CARGO")).args(["tree", "--edges", "normal", "--depth", "1", "--prefix", "none"]).current_dir(&krate.dir).output().unwrap();
    let tree = String::from_utf8_lossy(&tree.stdout);
    let direct: Vec<&str> = tree.lines().skip(1).collect();
    assert!(direct.len() == 1 && direct[0].starts_with("ghostnet-macros ") && direct[0].contains("(proc-macro)"), "{tree}");
    let Ok(o) = Command::new("readelf").arg("-d").arg(krate.binary()).output() else {
        eprintln!("notice: readelf is missing; skipping the check of the binary's shared libraries");
        return;
    };
    let text = String::from_utf8_lossy(&o.stdout);
    let needed: Vec<&str> = text.lines().filter(|l| l.contains("(NEEDED)")).filter_map(|l| l.split('[').nth(1)?.split(']').next()).collect();
    let system = ["libc.so.6", "libm.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"];
    assert!(needed.iter().all(|n| system.contains(n)), "the binary needs {needed:?}");
    eprintln!("shared libraries: {needed:?}");
}

/// The `no_std` form builds in a `#![no_std]` library (no allocator, the caller's arena).
#[test]
fn the_no_std_form_builds_in_a_no_std_crate() {
    let krate = ScratchCrate::new("macro-no-std");
    krate.write(
        "src/lib.rs",
        r#"#![no_std]
#![deny(warnings)]

mod net {
    ghostnet_macros::ghostnet!(alpha = 0.5, input = [1, 3, 32, 32], classes = 4, no_std);
}

/// The class of `input`, computed in `arena`.
pub fn classify(arena: &mut [f32; net::ARENA_LEN], input: &[f32; net::INPUT_LEN]) -> usize {
    let mut out = [0f32; net::OUTPUT_LEN];
    net::Net::new(arena).forward(input, &mut out);
    (1..out.len()).fold(0, |best, i| if out[i] > out[best] { i } else { best })
}
"#,
    );
    krate.build();
}
