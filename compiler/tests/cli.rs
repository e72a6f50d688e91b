//! `ghostc` as a user runs it: results, and a clear error (never a panic) for bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ghostnet_compiler::back::onnx as writer;
use ghostnet_compiler::front::dsl::{self, weights::Source, Block, Spec};
use onnx_protobuf::ModelProto;
use protobuf::Message;

fn ghostc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ghostc")).args(args).output().unwrap()
}

/// Runs `ghostc` expecting failure; returns stderr after checking it is a clean error.
fn fails(args: &[&str]) -> String {
    let o = ghostc(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "ghostc {args:?} succeeded; stdout: {}", String::from_utf8_lossy(&o.stdout));
    assert!(!err.contains("panicked"), "ghostc {args:?} panicked: {err}");
    assert!(err.starts_with("error"), "ghostc {args:?}: {err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A small seeded DSL network written as ONNX, for mutation.
fn tiny_model() -> ModelProto {
    let spec = Spec {
        stages: vec![vec![Block::new(3, 16, 16, 0.0, 1)], vec![Block::new(3, 48, 24, 0.25, 2)]],
        input: [1, 3, 32, 32],
        num_classes: 10,
        ..Spec::default()
    };
    let g = dsl::build(&spec, &mut Source::seeded(1)).unwrap();
    ModelProto::parse_from_bytes(&writer::write(&g).unwrap()).unwrap()
}

fn save(dir: &Path, name: &str, m: &ModelProto) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, m.write_to_bytes().unwrap()).unwrap();
    p
}

#[test]
fn inspect_reports_timm_ghostnet_100_totals_from_onnx_and_dsl() {
    let dsl = ghostc(&["inspect", "--alpha", "1.0", "--json"]);
    assert!(dsl.status.success());
    let v: serde_json::Value = serde_json::from_slice(&dsl.stdout).unwrap();
    assert_eq!(v["params"], 5_171_524);
    assert_eq!(v["macs"], 141_150_512);
    assert!(v["layers"].as_array().unwrap().len() > 10);
    assert!(v.get("arena_bytes").is_some());
    let Some(dir) = common::fixtures() else { return };
    let onnx = ghostc(&["inspect", "--json", s(&dir.join("ghostnet_100_dynamo.onnx"))]);
    let w: serde_json::Value = serde_json::from_slice(&onnx.stdout).unwrap();
    assert_eq!((&w["params"], &w["macs"]), (&v["params"], &v["macs"]));
    let table = String::from_utf8(ghostc(&["inspect", s(&dir.join("ghostnet_100_dynamo.onnx"))]).stdout).unwrap();
    assert!(table.lines().last().unwrap().contains("5.172 M"), "{table}");
    assert!(table.lines().last().unwrap().contains("141.2 M"), "{table}");
}

#[test]
fn run_prints_top5_and_writes_every_output() {
    let Some(fx) = common::fixtures() else { return };
    let dir = common::scratch_dir("cli_run");
    let xs = std::fs::read(fx.join("digits_ghostnet.test_x.bin")).unwrap();
    let inp = dir.join("three.bin");
    std::fs::write(&inp, &xs[..3 * 32 * 32 * 4]).unwrap();
    let out = dir.join("out.bin");
    let o = ghostc(&["run", s(&fx.join("digits_ghostnet.onnx")), "--input", s(&inp), "--output", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    let labels = std::fs::read(fx.join("digits_ghostnet.test_y.bin")).unwrap();
    for (line, label) in text.lines().zip(&labels) {
        assert!(line.contains(&format!("top-5 {label} (")), "{line} should rank {label} first");
    }
    let got = common::read_f32(&out);
    let want = common::read_f32(&fx.join("digits_ghostnet.ort.bin"));
    common::assert_close("ghostc run", &got, &want[..30], 1e-5, 10);
}

/// `--outputs` on run, inspect and compile, `--features` on the DSL: the outputs back to
/// back in the order asked, their names in the report and the module.
#[test]
fn chosen_outputs_and_features() {
    let dir = common::scratch_dir("cli_outputs");
    let dsl = ["--alpha", "0.5", "--seed", "3"];
    let x = common::test_input(2 * 3 * 32 * 32, 8);
    let inp = dir.join("two.bin");
    std::fs::write(&inp, x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let out = dir.join("out.bin");
    let mut args = vec!["run", "--shape", "1x3x32x32", "--outputs", "flatten,logits", "--input", s(&inp), "--output", s(&out)];
    args.extend(dsl);
    let o = ghostc(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("input 1, output 'logits': top-5") && text.contains("input 0, output 'flatten': top-5"), "{text}");
    // Per input, both outputs back to back, as the interpreter gives them.
    let spec = Spec { input: [1, 3, 32, 32], ..Spec::with_width(0.5) };
    let source = ghostnet_compiler::Source::Dsl { spec, weights: None, seed: 3 };
    let graph = source.load_with(&Default::default(), &["flatten".into(), "logits".into()]).unwrap();
    let want: Vec<f32> = x.chunks(3 * 32 * 32).flat_map(|x| ghostnet_compiler::interp::run(&graph, &[x]).unwrap().concat()).collect();
    assert_eq!(want.len(), 2 * (1280 + 1000));
    common::assert_close("ghostc run --outputs", &common::read_f32(&out), &want, 1e-6, 1);

    let mut args = vec!["inspect", "--features", "--json", "--input", "1x3x64x64"];
    args.extend(dsl);
    let v: serde_json::Value = serde_json::from_slice(&ghostc(&args).stdout).unwrap();
    let names: Vec<&str> = v["outputs"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["conv_stem", "blocks.1", "blocks.3", "blocks.5", "blocks.7"]);
    assert_eq!(v["outputs"][4]["shape"], serde_json::json!([1, 80, 2, 2]));

    let rs = dir.join("net.rs");
    let mut args = vec!["--outputs", "blocks.3,flatten", "--input", "1x3x32x32", "-o", s(&rs)];
    args.extend(dsl);
    let o = ghostc(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let code = std::fs::read_to_string(&rs).unwrap();
    assert!(code.contains("pub const OUTPUTS: [OutputInfo; 2]") && code.contains("pub fn output_blocks_3(") && code.contains("pub fn output_flatten("));
    assert!(!code.contains("OUTPUT_SHAPE"), "several outputs have no one OUTPUT_SHAPE");

    let mut args = vec!["inspect", "--outputs", "flatten,nope,blocks.99"];
    args.extend(dsl);
    let e = fails(&args);
    assert!(e.contains("'nope', 'blocks.99': no layer or module"), "{e}");
    let e = fails(&["inspect", "--alpha", "0.5", "--features", "--outputs", "flatten"]);
    assert!(e.contains("--outputs cannot be combined with --features"), "{e}");
}

#[test]
fn missing_file() {
    let e = fails(&["inspect", "no/such/model.onnx"]);
    assert!(e.contains("cannot read 'no/such/model.onnx'"), "{e}");
}

#[test]
fn a_file_that_is_not_onnx() {
    let dir = common::scratch_dir("cli_not_onnx");
    let p = dir.join("notes.onnx");
    std::fs::write(&p, "these are not the bytes you are looking for\n").unwrap();
    let e = fails(&["inspect", s(&p)]);
    assert!(e.contains("is not an ONNX model"), "{e}");
}

#[test]
fn truncated_onnx() {
    let dir = common::scratch_dir("cli_truncated");
    let bytes = tiny_model().write_to_bytes().unwrap();
    let p = dir.join("cut.onnx");
    std::fs::write(&p, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let e = fails(&["inspect", s(&p)]);
    assert!(e.contains("cut.onnx") && e.contains("is not an ONNX model"), "{e}");
}

#[test]
fn unsupported_ops_are_listed_all_at_once() {
    let dir = common::scratch_dir("cli_unsupported");
    let mut m = tiny_model();
    let g = m.graph.as_mut().unwrap();
    g.node[1].op_type = "Einsum".into();
    g.node[4].op_type = "Softplus".into();
    g.node[7].domain = "com.example".into();
    let names: Vec<String> = [1, 4, 7].iter().map(|&i| g.node[i].name.clone()).collect();
    let p = save(&dir, "custom.onnx", &m);
    let e = fails(&["inspect", s(&p)]);
    assert!(e.contains("3 node(s) with unsupported ops"), "{e}");
    assert!(e.contains(&format!("'{}' (Einsum)", names[0])), "{e}");
    assert!(e.contains(&format!("'{}' (Softplus)", names[1])), "{e}");
    assert!(e.contains(&format!("'{}' (com.example::", names[2])), "{e}");
}

#[test]
fn conv_weight_that_disagrees_with_its_input() {
    let dir = common::scratch_dir("cli_conv_shape");
    let mut m = tiny_model();
    let g = m.graph.as_mut().unwrap();
    let stem = g.initializer.iter_mut().find(|t| t.name.starts_with("conv_stem.weight")).unwrap();
    // [16, 3, 3, 3] claimed as [16, 4, 3, 3] with matching data, so only the shapes disagree.
    stem.dims = vec![16, 4, 3, 3];
    stem.raw_data = vec![0; 16 * 4 * 9 * 4];
    let p = save(&dir, "badconv.onnx", &m);
    let e = fails(&["inspect", s(&p)]);
    assert!(e.contains("conv_stem") && e.contains("expects 4 input channels") && e.contains("has 3 channels"), "{e}");
}

#[test]
fn absurd_tensor_size_is_refused_without_allocating() {
    let dir = common::scratch_dir("cli_absurd");
    let mut m = tiny_model();
    m.graph.as_mut().unwrap().initializer[0].dims = vec![1 << 20, 1 << 20, 1 << 20];
    let p = save(&dir, "huge.onnx", &m);
    let e = fails(&["inspect", s(&p)]);
    assert!(e.contains("over the limit") && e.contains("elements"), "{e}");
    m.graph.as_mut().unwrap().initializer[0].dims = vec![1 << 40, 1 << 40];
    let p = save(&dir, "overflow.onnx", &m);
    let e = fails(&["inspect", s(&p)]);
    assert!(e.contains("overflows") || e.contains("over the limit"), "{e}");
}

#[test]
fn safetensors_with_a_missing_and_a_misshaped_key() {
    let Some(fx) = common::fixtures() else { return };
    let dir = common::scratch_dir("cli_safetensors");
    let bytes = std::fs::read(fx.join("ghostnet_050_legacy.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    let mut h: serde_json::Value = serde_json::from_str(header).unwrap();
    let map = h.as_object_mut().unwrap();
    // Rename one key (so it is missing and an unexpected one appears) and reshape another.
    let v = map.remove("blocks.3.0.se.conv_reduce.bias").unwrap();
    map.insert("blocks.3.0.se.conv_reduce.biass".into(), v);
    map.get_mut("conv_stem.weight").unwrap()["shape"] = serde_json::json!([8, 3, 9, 1]);
    let new_header = serde_json::to_string(&h).unwrap();
    let mut out = (new_header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(new_header.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    let p = dir.join("edited.safetensors");
    std::fs::write(&p, out).unwrap();
    let e = fails(&["inspect", "--alpha", "0.5", "--weights", s(&p)]);
    assert!(e.contains("missing tensor 'blocks.3.0.se.conv_reduce.bias' of shape 12"), "{e}");
    assert!(e.contains("tensor 'conv_stem.weight' has shape 8x3x9x1, expected 8x3x3x3"), "{e}");
    assert!(e.contains("unexpected tensor 'blocks.3.0.se.conv_reduce.biass'"), "{e}");
}

#[test]
fn alpha_must_be_positive() {
    for a in ["0", "-1.3", "nan", "1e40"] {
        let e = fails(&["inspect", "--alpha", a]);
        assert!(e.contains("--alpha (width multiplier) must be a positive, finite number"), "{a}: {e}");
    }
}

#[test]
fn dsl_flags_with_an_onnx_model_and_bad_shapes() {
    let e = fails(&["inspect", "model.onnx", "--alpha", "1.0"]);
    assert!(e.contains("--alpha") && e.contains("cannot be combined"), "{e}");
    let o = ghostc(&["inspect", "--alpha", "1.0", "--input", "1x3xfoo"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a shape like 1x3x224x224"));
    // GhostNetV2's 2x2 average pool cannot run on the 1x1 maps a 16x16 input leads to.
    let e = fails(&["inspect", "--alpha", "1.0", "--version", "2", "--input", "1x3x16x16"]);
    assert!(e.contains("does not fit its input") && e.contains("avg_pool") && e.contains("window 2x2"), "{e}");
    let e = fails(&["inspect", "--alpha", "1.0", "--version", "5"]);
    assert!(e.contains("--version must be 1 (GhostNet) or 2 (GhostNetV2), got 5"), "{e}");
}

#[test]
fn seed_with_weights_and_disagreeing_channels_are_refused() {
    let e = fails(&["inspect", "--alpha", "0.5", "--weights", "w.safetensors", "--seed", "7"]);
    assert!(e.contains("--seed only applies to seeded weights; it cannot be combined with --weights"), "{e}");
    let e = fails(&["inspect", "--alpha", "0.5", "--in-chans", "1", "--input", "1x3x32x32", "--version", "3"]);
    assert!(e.starts_with("error: 2 problems:"), "{e}");
    assert!(e.contains("--in-chans is 1, but the input shape has 3 channels") && e.contains("--version must be 1"), "{e}");
    let e = fails(&["inspect", "--alpha", "0.5", "--shape", "1x3x32"]);
    assert!(e.contains("the input shape must have 4 dimensions (N, C, H, W), got 3"), "{e}");
    let e = fails(&["inspect", "--input", "1x3x32x32"]);
    assert!(e.contains("give an ONNX model"), "{e}");
}

#[test]
fn run_rejects_an_input_of_the_wrong_length() {
    let dir = common::scratch_dir("cli_run_len");
    let p = dir.join("short.bin");
    std::fs::write(&p, [0u8; 100]).unwrap();
    let e = fails(&["run", "--alpha", "0.5", "--shape", "1x3x32x32", "--input", s(&p)]);
    assert!(e.contains("not a whole number of inputs of shape 1x3x32x32"), "{e}");
}

#[test]
fn compile_writes_the_module_and_its_weights_and_summarizes() {
    let dir = common::scratch_dir("cli_compile");
    let out = dir.join("net.rs");
    let o = ghostc(&["--alpha", "0.5", "--input", "1x3x64x64", "--classes", "7", "-o", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("layers before fusion") && text.contains("arena") && text.contains("net.weights.bin"), "{text}");
    let code = std::fs::read_to_string(&out).unwrap();
    assert!(code.contains("pub const INPUT_SHAPE: [usize; 4] = [1, 3, 64, 64];"));
    assert!(code.contains("pub const OUTPUT_LEN: usize = 7;"));
    assert!(code.contains("include_bytes!(\"net.weights.bin\")"));
    assert!(dir.join("net.weights.bin").is_file());
}

#[test]
fn unwritable_output_is_an_error() {
    let e = fails(&["--alpha", "0.5", "--input", "1x3x32x32", "-o", "/nonexistent-dir/sub/net.rs"]);
    assert!(e.contains("cannot write '/nonexistent-dir/sub/net"), "{e}");
    let e = fails(&["--alpha", "0.5", "-o", "net.txt"]);
    assert!(e.contains("must be a .rs file"), "{e}");
}

#[test]
fn a_failed_compile_leaves_no_files() {
    let dir = common::scratch_dir("cli_compile_fail");
    let model = save(&dir, "tiny.onnx", &tiny_model());
    // The Rust file cannot be written (a folder is in its way) after the weights were:
    // the weights go too.
    let out = dir.join("net.rs");
    std::fs::create_dir_all(out.join("in_the_way")).unwrap();
    let e = fails(&[s(&model), "-o", s(&out)]);
    assert!(e.contains("cannot write") && e.contains("net.rs"), "{e}");
    assert!(!dir.join("net.weights.bin").exists(), "a failed run left the weights behind");
}
