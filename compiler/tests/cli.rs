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
    assert!(table.lines().any(|l| l.contains("5.172 M") && l.contains("141.2 M")), "{table}");
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
fn missing_output_directories_are_created() {
    let dir = common::scratch_dir("cli_compile_mkdir");
    let out = dir.join("a/b/net.rs");
    let o = ghostc(&["--alpha", "0.5", "--input", "1x3x32x32", "-o", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.is_file() && dir.join("a/b/net.weights.bin").is_file());
}

#[test]
fn unwritable_output_is_an_error() {
    let dir = common::scratch_dir("cli_compile_unwritable");
    // A directory cannot be made below a file (not even by root).
    std::fs::write(dir.join("file"), b"x").unwrap();
    let out = dir.join("file/sub/net.rs");
    let e = fails(&["--alpha", "0.5", "--input", "1x3x32x32", "-o", s(&out)]);
    assert!(e.contains("cannot create the directory") && e.contains("file/sub"), "{e}");
    let e = fails(&["--alpha", "0.5", "--input", "1x3x32x32", "-o", s(&dir)]);
    assert!(e.contains("must be a .rs file"), "{e}");
    std::fs::create_dir(dir.join("d.rs")).unwrap();
    let e = fails(&["--alpha", "0.5", "--input", "1x3x32x32", "-o", s(&dir.join("d.rs"))]);
    assert!(e.contains("cannot write"), "{e}");
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

#[test]
fn int8_from_the_command_line_and_its_bad_inputs() {
    let dir = common::scratch_dir("cli_int8");
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/digits_ghostnet.onnx");
    let images = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/digits_ghostnet.test_x.bin")).unwrap();
    let calib = dir.join("calib.bin");
    std::fs::write(&calib, &images[..8 * 4096]).unwrap();
    // Compiling prints what quantization chose; inspect shows each layer's precision and error.
    let out = dir.join("net.rs");
    let o = ghostc(&[s(&model), "--precision", "int8", "--calibrate", s(&calib), "-o", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("layers in int8") && text.contains("SQNR"), "{text}");
    assert!(std::fs::read_to_string(&out).unwrap().contains("c.qgemm("));
    let o = ghostc(&["inspect", s(&model), "--precision", "int8", "--calibrate", s(&calib), "--keep-float", "classifier", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let layers = v["layers"].as_array().unwrap();
    let layer = |name: &str| layers.iter().find(|l| l["name"] == name).unwrap();
    assert_eq!(layer("blocks.7.0.conv")["precision"], "int8");
    assert!(layer("blocks.7.0.conv")["int8_sqnr_db"].as_f64().is_some_and(|db| db > 20.0));
    assert_eq!(layer("classifier")["precision"], "f32");
    assert_eq!(layer("conv_stem")["precision"], "f32");
    // An impossible budget keeps every layer float.
    let o = ghostc(&["inspect", s(&model), "--precision", "int8", "--calibrate", s(&calib), "--int8-budget", "200", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["layers"].as_array().unwrap().iter().all(|l| l["precision"] != "int8"));

    // Bad calibration input: each a clear error naming the file.
    let empty = dir.join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let short = dir.join("short.bin");
    std::fs::write(&short, &images[..4096 + 12]).unwrap();
    let nan = dir.join("nan.bin");
    let mut bytes = images[..2 * 4096].to_vec();
    bytes[4096 + 40..4096 + 44].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&nan, &bytes).unwrap();
    for (file, want) in [
        (&empty, "it is empty"),
        (&short, "not a whole number of inputs of shape 1x1x32x32"),
        (&nan, "NaN or infinite (the first is value 10 of input 1)"),
        (&dir.join("missing.bin"), "cannot read it"),
    ] {
        let err = fails(&[s(&model), "--precision", "int8", "--calibrate", s(file), "-o", s(&out)]);
        assert!(err.contains(&format!("calibration file '{}'", file.display())) && err.contains(want), "{err}");
    }
    let err = fails(&[s(&model), "--precision", "int8", "-o", s(&out)]);
    assert!(err.contains("int8 needs calibration inputs"), "{err}");
    let err = fails(&["inspect", s(&model), "--precision", "int8", "--calibrate", s(&calib), "--keep-float", "classifer,blocks.9"]);
    assert!(err.contains("no layer is called 'classifer', 'blocks.9'"), "{err}");
}

#[test]
fn preprocess_writes_timms_tensors_back_to_back() {
    let Some(fx) = common::fixtures() else { return };
    let dir = common::scratch_dir("cli_preprocess");
    let names = ["astronaut", "camera", "chelsea", "coffee"];
    let images: Vec<PathBuf> = names.iter().map(|n| fx.join(format!("images/{n}.png"))).collect();
    let out = dir.join("sub/inputs.bin");
    let mut args: Vec<&str> = vec!["preprocess"];
    args.extend(images.iter().map(|p| s(p)));
    args.extend(["--input", "1x3x224x224", "-o", s(&out)]);
    let o = ghostc(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: Vec<u8> = names.iter().flat_map(|n| std::fs::read(fx.join(format!("images/{n}.timm224.bin"))).unwrap()).collect();
    assert!(std::fs::read(&out).unwrap() == want, "the PNGs' tensors are timm's, bit for bit");
    // Flags change the tensor: a grayscale 1x1x64x48 input, bilinear, another crop and mean.
    let o = ghostc(&["preprocess", s(&images[0]), "--input", "1x1x64x48", "--interpolation", "bilinear", "--crop-pct", "1.0", "--mean", "0.5", "--std", "0.25", "-o", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 64 * 48 * 4);
}

#[test]
fn preprocess_lists_every_bad_image_and_option() {
    let dir = common::scratch_dir("cli_preprocess_bad");
    let text = dir.join("notes.png");
    std::fs::write(&text, "not an image").unwrap();
    let cmyk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/images/cmyk.jpg");
    let e = fails(&["preprocess", s(&text), s(&dir.join("missing.jpg")), s(&cmyk), "-o", s(&dir.join("x.bin"))]);
    assert!(e.contains("3 of the images cannot be used"), "{e}");
    assert!(e.contains("notes.png' is not a PNG or JPEG image") && e.contains("cannot read '") && e.contains("CMYK JPEG images are not supported"), "{e}");
    assert!(!dir.join("x.bin").exists());
    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/images/tiny.jpg");
    let e = fails(&["preprocess", s(&tiny), "--crop-pct", "0", "--mean", "1,2", "--std", "0", "-o", s(&dir.join("x.bin"))]);
    assert!(e.contains("--crop-pct 0 is not in (0, 4]") && e.contains("--mean has 2 values; give 1 or 3") && e.contains("--std has a zero"), "{e}");
    let e = fails(&["preprocess", s(&tiny), "--input", "2x3x32x32", "-o", s(&dir.join("x.bin"))]);
    assert!(e.contains("1 image(s) do not fill whole inputs of 2 images"), "{e}");
    let e = fails(&["preprocess", s(&tiny), "--max-image-pixels", "100", "-o", s(&dir.join("x.bin"))]);
    assert!(e.contains("is 16x12 pixels, more than the limit of 100 pixels (--max-image-pixels)"), "{e}");
    let o = ghostc(&["preprocess", s(&tiny), "--interpolation", "nearest", "-o", s(&dir.join("x.bin"))]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("'nearest' is not an interpolation; use bicubic or bilinear"));
}

#[test]
fn run_classifies_photos_with_imagenet_names_as_onnx_runtime_does() {
    let Some(fx) = common::fixtures() else { return };
    let model = fx.join("ghostnet_100_dynamo.onnx");
    let names = ["chelsea.png", "coffee.png", "rocket.jpg"];
    let images: Vec<PathBuf> = names.iter().map(|n| fx.join("images").join(n)).collect();
    let dir = common::scratch_dir("cli_run_image");
    let out = dir.join("logits.bin");
    let mut args = vec!["run", s(&model), "--image"];
    args.extend(images.iter().map(|p| s(p)));
    args.extend(["--output", s(&out)]);
    let o = ghostc(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let logits = common::read_f32(&out);
    for ((name, line), got) in names.iter().zip(text.lines()).zip(logits.chunks(1000)) {
        let want = common::read_f32(&fx.join("images").join(name.replace(".png", "").replace(".jpg", "") + ".ghostnet_100_dynamo.ort.bin"));
        let top = common::top_k(&want, 5);
        assert!(line.starts_with(s(&fx.join("images").join(name))) && line.contains("top-5"), "{line}");
        // The photo's tensor is timm's (PNG: bit for bit; JPEG: within the decoders' rounding).
        if name.ends_with(".png") {
            common::assert_close(name, got, &want, 1e-4, 1000);
        }
        let first = top[0];
        let label = ghostnet_compiler::imagenet::class_name(first).unwrap();
        assert!(line.contains(&format!("top-5 {first} {label} (")), "{line}: ONNX Runtime's first class is {first} {label}");
    }
    let e = fails(&["run", s(&model), "--image", s(&dir.join("missing.png"))]);
    assert!(e.contains("cannot read '") && e.contains("missing.png"), "{e}");
}

#[test]
fn profile_times_every_layer_and_stage() {
    let o = ghostc(&["profile", "--alpha", "0.5", "--input", "1x3x64x64", "--classes", "10", "--isa", "scalar", "--runs", "3", "--threads", "2", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["isa"].as_str(), v["threads"].as_u64(), v["runs"].as_u64()), (Some("scalar"), Some(2), Some(3)));
    let inspect: serde_json::Value = serde_json::from_slice(&ghostc(&["inspect", "--alpha", "0.5", "--input", "1x3x64x64", "--classes", "10", "--json"]).stdout).unwrap();
    assert_eq!(v["macs"], inspect["macs"]);
    let layers = v["layers"].as_array().unwrap();
    // Every layer that computes is timed; a reshape (timm's flatten) runs no kernel.
    let names: Vec<&serde_json::Value> = layers.iter().map(|l| &l["name"]).collect();
    for l in inspect["layers"].as_array().unwrap() {
        assert_eq!(names.contains(&&l["name"]), l["op"] != "Reshape", "{}", l["name"]);
    }
    assert!(layers.iter().all(|l| l["ms"].as_f64().unwrap() >= 0.0 && !l["kernels"].as_array().unwrap().is_empty()));
    // Each kernel call's time, adding up to the layer's.
    for l in layers {
        let calls: Vec<f64> = l["kernel_ms"].as_array().unwrap().iter().map(|t| t.as_f64().unwrap()).collect();
        assert_eq!(calls.len(), l["kernels"].as_array().unwrap().len(), "{}", l["name"]);
        assert!((calls.iter().sum::<f64>() - l["ms"].as_f64().unwrap()).abs() < 1e-9, "{}", l["name"]);
    }
    let stages: Vec<&str> = v["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(stages.first(), Some(&"stem"));
    assert_eq!(stages.last(), Some(&"head"));
    assert!(v["fma_peak_gflops"].as_f64().unwrap() > 0.0 && v["fma_bound_ms"].as_f64().unwrap() > 0.0);
    let table = String::from_utf8(ghostc(&["profile", "--alpha", "0.5", "--input", "1x3x64x64", "--runs", "2"]).stdout).unwrap();
    assert!(table.contains("GFLOP/s") && table.contains("blocks.9") && table.contains("FMA bound"), "{table}");

    let o = ghostc(&["profile", "--alpha", "0.5", "--input", "1x3x64x64", "--runs", "2", "--precision", "bf16", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let layer = |name: &str| v["layers"].as_array().unwrap().iter().find(|l| l["name"] == name).cloned().unwrap();
    assert_eq!((layer("conv_head")["precision"].as_str(), layer("conv_stem")["precision"].as_str()), (Some("bf16"), Some("f32")));

    let e = fails(&["profile", "--alpha", "0.5", "--isa", "sse9"]);
    assert!(e.contains("--isa sse9 is not a kernel tier"), "{e}");
    let e = fails(&["profile", "--alpha", "0.5", "--threads", "0"]);
    assert!(e.contains("--threads and --runs must be at least 1"), "{e}");
    let e = fails(&["profile", "--alpha", "-1"]);
    assert!(e.contains("--alpha"), "{e}");
}
