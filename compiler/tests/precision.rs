//! Reduced precision end to end, in process, every kernel tier, one and two threads:
//! - bfloat16 networks against the interpreter in the same precision (the same arithmetic
//!   up to the order of the sums): max |diff| <= 1e-4 * max |ref|, same top-5;
//! - against ONNX Runtime's `f32` outputs: the signal-to-quantization-noise ratio of the
//!   logits at least 46 dB and the same top-5, on each fixture's input and three more
//!   random-normal inputs; the trained digits network keeps its 397/397;
//! - int8 networks against the interpreter in int8, and against ONNX Runtime's own
//!   quantization (`quantize_static`) by SQNR and accuracy.

mod common;

use ghostnet_compiler::back::rust::lower;
use ghostnet_compiler::front::onnx;
use ghostnet_compiler::ir::{Graph, Precision};
use ghostnet_compiler::{interp, optimize_for, quantize};
use ghostnet_runtime::isa::Isa;

fn tiers() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.supported() && i.base() == *i).collect()
}

/// The bound the issue sets for bfloat16 logits against `f32` ONNX Runtime.
const MIN_SQNR_DB: f64 = 46.0;

fn load(path: &std::path::Path, precision: Precision) -> Graph {
    let graph = onnx::load(path, &onnx::Options::default()).unwrap();
    optimize_for(graph, Some(precision), &Default::default(), &Default::default()).unwrap().0
}

fn check_fixture(stem: &str) {
    let Some(dir) = common::fixtures() else { return };
    if !common::have_onnxruntime() {
        return;
    }
    let model = dir.join(format!("{stem}.onnx"));
    let graph = load(&model, Precision::Bf16);
    let program = lower::lower(&graph).unwrap();
    let per = program.image_len();
    let mut inputs = common::read_f32(&dir.join(format!("{stem}.input.bin")));
    let mut want = common::read_f32(&dir.join(format!("{stem}.ort.bin")));
    let scratch = common::scratch_dir(&format!("precision_{stem}"));
    let random: Vec<f32> = (0..3).flat_map(|s| common::normal_input(per, 1000 + s)).collect();
    want.extend(common::onnxruntime_in(&scratch, &model, &random));
    inputs.extend(random);
    let classes = want.len() / 4;
    for (i, x) in inputs.chunks(per).enumerate() {
        let ort = &want[i * classes..(i + 1) * classes];
        let reference = interp::run(&graph, &[x]).unwrap().remove(0);
        let db = common::sqnr_db(&reference, ort);
        eprintln!("{stem} input {i}: bf16 interpreter vs ONNX Runtime f32: SQNR {db:.1} dB");
        assert!(db >= MIN_SQNR_DB, "{stem} input {i}: SQNR {db:.1} dB < {MIN_SQNR_DB} dB");
        assert_eq!(common::top_k(&reference, 5), common::top_k(ort, 5), "{stem} input {i}: top-5 in bf16");
        for isa in tiers() {
            for threads in [1, 2] {
                let got = program.run(isa, x, threads);
                let tag = format!("{stem} bf16 input {i} {} x{threads}", isa.name());
                common::assert_close(&tag, &got, &reference, 1e-4, classes);
                let db = common::sqnr_db(&got, ort);
                assert!(db >= MIN_SQNR_DB, "{tag}: SQNR {db:.1} dB < {MIN_SQNR_DB} dB");
            }
        }
    }
}

#[test]
fn bf16_ghostnet_050_legacy() {
    check_fixture("ghostnet_050_legacy");
}

#[test]
fn bf16_ghostnet_050_extdata() {
    check_fixture("ghostnet_050_extdata");
}

#[test]
fn bf16_ghostnet_100_dynamo() {
    check_fixture("ghostnet_100_dynamo");
}

#[test]
fn bf16_ghostnetv2_100_dynamo() {
    check_fixture("ghostnetv2_100_dynamo");
}

#[test]
fn bf16_ghostnetv3_050_training_form() {
    check_fixture("ghostnetv3_050_dynamo");
}

#[test]
fn bf16_digits_keeps_every_prediction() {
    let Some(dir) = common::fixtures() else { return };
    let program = lower::lower(&load(&dir.join("digits_ghostnet.onnx"), Precision::Bf16)).unwrap();
    let xs = common::read_f32(&dir.join("digits_ghostnet.test_x.bin"));
    let labels = std::fs::read(dir.join("digits_ghostnet.test_y.bin")).unwrap();
    let ort = common::read_f32(&dir.join("digits_ghostnet.ort.bin"));
    for isa in tiers() {
        let got: Vec<f32> = xs.chunks(program.image_len()).flat_map(|x| program.run(isa, x, 1)).collect();
        let correct = got.chunks(10).zip(&labels).filter(|(y, l)| common::top_k(y, 1)[0] == **l as usize).count();
        let db = common::sqnr_db(&got, &ort);
        eprintln!("digits bf16 on {}: {correct}/{} correct, logits SQNR {db:.1} dB against ONNX Runtime f32", isa.name(), labels.len());
        assert_eq!(correct, labels.len(), "bf16 digits on {}", isa.name());
    }
}

#[test]
fn bf16_halves_the_matrix_weights() {
    // The packed blob of GhostNet 1.0x: bf16 stores the matrix products' weights in half.
    let Some(dir) = common::fixtures() else { return };
    let model = dir.join("ghostnet_100_dynamo.onnx");
    let f32_len = lower::lower(&load(&model, Precision::F32)).unwrap().weights.len();
    let bf16_len = lower::lower(&load(&model, Precision::Bf16)).unwrap().weights.len();
    eprintln!("packed weights: f32 {} bytes, bf16 {} bytes", f32_len * 4, bf16_len * 4);
    assert!(bf16_len * 100 < f32_len * 53, "bf16 blob {bf16_len} is not about half of {f32_len}");
}

/// int8 tiers: every tier this machine runs (each has its own 8-bit dot product).
fn int8_tiers() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.supported()).collect()
}

/// The graph of `model` quantized over `calibration`, and what quantizing said.
fn int8(model: &std::path::Path, calibration: &[Vec<f32>]) -> (Graph, quantize::Summary) {
    let mut graph = load(model, Precision::Bf16);
    let summary = quantize::quantize(&mut graph, calibration, &quantize::Settings::default()).unwrap();
    eprintln!("{}: {summary}", model.display());
    (graph, summary)
}

/// Accuracy, and the SQNR of int8 logits against f32, on the trained digits network:
/// calibrated on the first 100 test images, scored on the other 297, as ONNX Runtime's
/// `quantize_static` model of the fixtures was; compiled, every tier, against the interpreter.
#[test]
fn int8_digits_accuracy_and_sqnr_against_onnx_runtime_int8() {
    let Some(dir) = common::fixtures() else { return };
    let xs = common::read_f32(&dir.join("digits_ghostnet.test_x.bin"));
    let labels = std::fs::read(dir.join("digits_ghostnet.test_y.bin")).unwrap();
    let f32_logits = common::read_f32(&dir.join("digits_ghostnet.ort.bin"));
    let ort_int8 = common::read_f32(&dir.join("digits_ghostnet.qdq.ort.bin"));
    let images: Vec<Vec<f32>> = xs.chunks(1024).map(<[f32]>::to_vec).collect();
    let (graph, summary) = int8(&dir.join("digits_ghostnet.onnx"), &images[..100]);
    assert!(summary.int8.len() >= 20, "most layers should be int8: {summary}");
    let program = lower::lower(&graph).unwrap();
    let (test, want, theirs) = (&images[100..], &f32_logits[100 * 10..], &ort_int8[100 * 10..]);
    let accuracy = |logits: &[f32]| logits.chunks(10).zip(&labels[100..]).filter(|(y, l)| common::top_k(y, 1)[0] == **l as usize).count();
    let reference: Vec<f32> = test.iter().flat_map(|x| interp::run(&graph, &[x]).unwrap().remove(0)).collect();
    let (ours_db, theirs_db) = (common::sqnr_db(&reference, want), common::sqnr_db(theirs, want));
    let (ours_acc, theirs_acc, f32_acc) = (accuracy(&reference), accuracy(theirs), accuracy(want));
    eprintln!(
        "digits int8 on the 297 held-out images: ours {ours_acc}/297, SQNR {ours_db:.1} dB; ONNX Runtime quantize_static {theirs_acc}/297, {theirs_db:.1} dB; f32 {f32_acc}/297"
    );
    assert!(ours_db >= theirs_db - 1.0, "int8 SQNR {ours_db:.1} dB is more than 1 dB below ONNX Runtime's {theirs_db:.1} dB");
    // At least the f32 accuracy minus 0.5 points.
    assert!((ours_acc as f64) >= f32_acc as f64 - 0.005 * 297.0, "int8 {ours_acc}/297 against f32 {f32_acc}/297");
    check_int8_tiers("digits", &program, test, &reference, |got| {
        let (db, acc) = (common::sqnr_db(got, want), accuracy(got));
        assert!(db >= theirs_db - 1.0 && acc as f64 >= f32_acc as f64 - 0.005 * 297.0, "compiled: {acc}/297, {db:.1} dB");
    });
}

/// The compiled int8 `program` on every tier against the interpreter's `reference`, with
/// `check` on each tier's outputs; tiers that share their `f32` kernels and differ only in
/// the 8-bit dot product give the same bits.
///
/// Against the interpreter only loosely (at least 30 dB): both quantize alike, but the
/// `f32` layers between round differently (the interpreter sums in `f64`), which moves a
/// quantized input by one step now and then, and the next layers quantize the difference
/// anew; in a deep network the two end up with independent quantization noise. A lowering
/// mistake (a wrong scale, zero point or layout) gives far less. The exactness of the int8
/// layers themselves is tested layer by layer (`int8_layers_match_the_interpreter`) and
/// kernel by kernel (the runtime's tests).
fn check_int8_tiers(tag: &str, program: &lower::Program, inputs: &[Vec<f32>], reference: &[f32], check: impl Fn(&[f32])) {
    let mut by_base: Vec<(Isa, Vec<f32>)> = Vec::new();
    for isa in int8_tiers() {
        for threads in [1, 2] {
            let got: Vec<f32> = inputs.iter().flat_map(|x| program.run(isa, x, threads)).collect();
            let db = common::sqnr_db(&got, reference);
            eprintln!("{tag} int8 {} x{threads}: {db:.1} dB against the interpreter", isa.name());
            assert!(db >= 30.0, "{tag} int8 {} x{threads}: {db:.1} dB against the interpreter", isa.name());
            check(&got);
            match by_base.iter().find(|(b, _)| *b == isa.base()) {
                Some((_, first)) => assert!(
                    first.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{tag} int8 {} x{threads} differs from {}, which has the same f32 kernels",
                    isa.name(),
                    isa.base().name()
                ),
                None => by_base.push((isa.base(), got)),
            }
        }
    }
}

/// An ImageNet-size fixture in int8, calibrated on 8 random-normal inputs: on the fixture's
/// input and three more, the same top-1 as `f32` and an SQNR against `f32` at most 1 dB
/// below ONNX Runtime's `quantize_static` on the same calibration inputs.
fn check_int8_fixture(stem: &str) {
    let Some(dir) = common::fixtures() else { return };
    if !common::have_onnxruntime() {
        return;
    }
    let model = dir.join(format!("{stem}.onnx"));
    let per = lower::lower(&load(&model, Precision::F32)).unwrap().image_len();
    let calibration: Vec<Vec<f32>> = (0..8).map(|s| common::normal_input(per, 2000 + s)).collect();
    let mut inputs = vec![common::read_f32(&dir.join(format!("{stem}.input.bin")))];
    inputs.extend((0..3).map(|s| common::normal_input(per, 3000 + s)));
    let scratch = common::scratch_dir(&format!("int8_{stem}"));
    let (calib, eval) = (scratch.join("calib.bin"), scratch.join("eval.bin"));
    let bytes = |xs: &[Vec<f32>]| xs.iter().flatten().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(&calib, bytes(&calibration)).unwrap();
    std::fs::write(&eval, bytes(&inputs)).unwrap();
    let want = common::onnxruntime_in(&scratch, &model, &inputs.concat());
    let theirs_path = scratch.join("ort_int8.bin");
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ort_quantize.py");
    let o = std::process::Command::new("python3").arg(script).args([&model, &calib, &eval, &theirs_path]).output().unwrap();
    assert!(o.status.success(), "ONNX Runtime quantization failed: {}", String::from_utf8_lossy(&o.stderr));
    let theirs = common::read_f32(&theirs_path);
    let (graph, _) = int8(&model, &calibration);
    let reference: Vec<f32> = inputs.iter().flat_map(|x| interp::run(&graph, &[x]).unwrap().remove(0)).collect();
    let (ours_db, theirs_db) = (common::sqnr_db(&reference, &want), common::sqnr_db(&theirs, &want));
    eprintln!("{stem} int8 on 4 inputs: ours {ours_db:.1} dB, ONNX Runtime quantize_static {theirs_db:.1} dB against f32");
    let top1 = |y: &[f32]| y.chunks(1000).map(|r| common::top_k(r, 1)[0]).collect::<Vec<_>>();
    let program = lower::lower(&graph).unwrap();
    check_int8_tiers(stem, &program, &inputs, &reference, |got| {
        let db = common::sqnr_db(got, &want);
        assert!(db >= theirs_db - 1.0, "{stem} int8: {db:.1} dB is more than 1 dB below ONNX Runtime's {theirs_db:.1} dB");
        assert_eq!(top1(got), top1(&want), "{stem} int8: top-1 differs from f32");
    });
}

#[test]
fn int8_ghostnet_100_dynamo() {
    check_int8_fixture("ghostnet_100_dynamo");
}

#[test]
fn int8_ghostnetv2_100_dynamo() {
    check_int8_fixture("ghostnetv2_100_dynamo");
}

/// Each kind of int8 layer reading the network input (so that the compiled program and the
/// interpreter quantize the very same values): the compiled layer equals the interpreter's
/// on every tier up to `f32` rounding. 1x1 convolutions with bias, ReLU, clip and a residual
/// (odd channel counts), a ghost module with a residual and an attention gate, a classifier.
#[test]
fn int8_layers_match_the_interpreter() {
    use ghostnet_compiler::ir::{Act, Conv, Op};
    let konst = |g: &mut Graph, name: &str, shape: Vec<usize>, seed: u64| {
        let n = shape.iter().product();
        g.add_const(name, shape, common::normal_input(n, seed).iter().map(|v| v * 0.3).collect())
    };
    let mut graphs = Vec::new();
    for (c_in, c_out, act) in [(16, 24, Some(Act::Relu)), (13, 36, None), (40, 20, Some(Act::Clip { min: 0.0, max: 6.0 })), (7, 5, None)] {
        let mut g = Graph::new("pointwise");
        let x = g.add_input("x", vec![1, c_in, 9, 7]);
        let (w, b) = (konst(&mut g, "w", vec![c_out, c_in, 1, 1], 1), konst(&mut g, "b", vec![c_out], 2));
        let mut conv = Conv::new(1, 1, 0, 1);
        (conv.bias, conv.act) = (true, act);
        let y = g.push("pw", Op::Conv(conv), vec![x, w, b]).unwrap();
        // A residual from a second (f32) branch, added after the product (over relu(x), so
        // that re-parameterization does not merge the two convolutions into one).
        let w2 = konst(&mut g, "w2", vec![c_out, c_in, 3, 3], 3);
        let xr = g.push("relu", Op::Activation(Act::Relu), vec![x]).unwrap();
        let r = g.push("dense", Op::Conv(Conv::new(3, 1, 1, 1)), vec![xr, w2]).unwrap();
        let out = g.push("add", Op::Add, vec![y, r]).unwrap();
        g.outputs.push(out);
        graphs.push(g);
    }
    {
        // A ghost module (primary 1x1 + ReLU, cheap 3x3 depthwise), gated by a sigmoid
        // attention map from a pooled branch, plus a residual.
        let mut g = Graph::new("ghost");
        let x = g.add_input("x", vec![1, 24, 8, 8]);
        let (w1, b1) = (konst(&mut g, "w1", vec![12, 24, 1, 1], 4), konst(&mut g, "b1", vec![12], 5));
        let mut p = Conv::new(1, 1, 0, 1);
        (p.bias, p.act) = (true, Some(Act::Relu));
        let prim = g.push("g.primary_conv", Op::Conv(p), vec![x, w1, b1]).unwrap();
        let (w2, b2) = (konst(&mut g, "w2", vec![12, 1, 3, 3], 6), konst(&mut g, "b2", vec![12], 7));
        let mut c = Conv::new(3, 1, 1, 12);
        (c.bias, c.act) = (true, Some(Act::Relu));
        let cheap = g.push("g.cheap_operation", Op::Conv(c), vec![prim, w2, b2]).unwrap();
        let cat = g.push("g.cat", Op::Concat { axis: 1 }, vec![prim, cheap]).unwrap();
        let pooled = g.push("att.pool", Op::AveragePool(ghostnet_compiler::ir::Pool::new([2, 2], [2, 2])), vec![x]).unwrap();
        let wa = konst(&mut g, "wa", vec![24, 24, 1, 1], 8);
        let att = g.push("att.conv", Op::Conv(Conv::new(1, 1, 0, 1)), vec![pooled, wa]).unwrap();
        let gate = g.push("att.sigmoid", Op::Activation(Act::Sigmoid), vec![att]).unwrap();
        let up = g.push("att.up", Op::Resize(ghostnet_compiler::ir::Resize::nearest(&[1, 24, 4, 4], vec![1, 24, 8, 8])), vec![gate]).unwrap();
        let gated = g.push("mul", Op::Mul, vec![cat, up]).unwrap();
        let out = g.push("add", Op::Add, vec![gated, x]).unwrap();
        g.outputs.push(out);
        graphs.push(g);
    }
    {
        let mut g = Graph::new("classifier");
        let x = g.add_input("x", vec![1, 40, 3, 3]);
        let pooled = g.push("pool", Op::GlobalAveragePool, vec![x]).unwrap();
        let flat = g.push("flatten", Op::Reshape { shape: vec![1, 40] }, vec![pooled]).unwrap();
        let (w, b) = (konst(&mut g, "w", vec![11, 40], 9), konst(&mut g, "b", vec![11], 10));
        let y = g.push("fc", Op::Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: true }, vec![flat, w, b]).unwrap();
        g.outputs.push(y);
        graphs.push(g);
    }
    for (gi, g) in graphs.into_iter().enumerate() {
        let name = g.name.clone();
        let mut graph = ghostnet_compiler::optimize(g).unwrap();
        let per: usize = graph.shape(graph.inputs[0]).iter().product();
        let calibration: Vec<Vec<f32>> = (0..4).map(|s| common::normal_input(per, 40 + s)).collect();
        let settings = quantize::Settings { budget_db: Some(-100.0), ..Default::default() };
        let summary = quantize::quantize(&mut graph, &calibration, &settings).unwrap();
        assert!(!summary.int8.is_empty(), "{name}: no int8 layer ({summary})");
        let program = lower::lower(&graph).unwrap();
        assert!(program.steps.iter().any(|s| matches!(s.kind, lower::Kind::QGemm(_))), "{name}: no int8 product");
        for (i, x) in (0..3).map(|s| common::normal_input(per, 50 + s)).enumerate() {
            let want = interp::run(&graph, &[&x]).unwrap().remove(0);
            for isa in int8_tiers() {
                let got = program.run(isa, &x, 1 + i % 2);
                common::assert_close(&format!("{name} {gi} input {i} int8 {}", isa.name()), &got, &want, 1e-4, want.len());
            }
        }
    }
}

/// A model quantized by ONNX Runtime (`quantize_static`, QDQ) compiles in int8 with its own
/// scales and zero points: the same top-1 as ONNX Runtime on at least 99% of the digits
/// test set and the same accuracy within 0.5 points, on every tier; the interpreter runs
/// it as ONNX Runtime does (each difference at most a few steps of the output's scale).
#[test]
fn qdq_digits_compiles_with_its_own_quantization() {
    let Some(dir) = common::fixtures() else { return };
    let model = dir.join("digits_ghostnet.qdq.onnx");
    let xs = common::read_f32(&dir.join("digits_ghostnet.test_x.bin"));
    let labels = std::fs::read(dir.join("digits_ghostnet.test_y.bin")).unwrap();
    let ort = common::read_f32(&dir.join("digits_ghostnet.qdq.ort.bin"));
    let top1 = |y: &[f32]| y.chunks(10).map(|r| common::top_k(r, 1)[0]).collect::<Vec<_>>();
    let correct = |y: &[f32]| top1(y).iter().zip(&labels).filter(|(p, l)| **p == **l as usize).count();
    let agree = |y: &[f32]| top1(y).iter().zip(top1(&ort)).filter(|(a, b)| **a == *b).count();
    let n = labels.len();
    // The interpreter on the model as loaded.
    let graph = onnx::load(&model, &onnx::Options::default()).unwrap();
    let fake = graph.nodes.iter().filter(|n| matches!(n.op, ghostnet_compiler::ir::Op::FakeQuant(_))).count();
    assert!(fake > 50, "{fake} QuantizeLinear/DequantizeLinear pairs");
    let run: Vec<f32> = xs.chunks(1024).flat_map(|x| interp::run(&graph, &[x]).unwrap().remove(0)).collect();
    let worst = run.iter().zip(&ort).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    eprintln!("interpreter vs ONNX Runtime on the QDQ model: top-1 {}/{n} equal, max |diff| {worst}", agree(&run));
    assert_eq!(agree(&run), n);
    // Compiled: int8 by default, with the model's quantization.
    let (graph, summary) = optimize_for(onnx::load(&model, &onnx::Options::default()).unwrap(), None, &Default::default(), &Default::default()).unwrap();
    let summary = summary.expect("a QDQ model compiles in int8");
    eprintln!("{summary}");
    assert!(summary.int8.len() >= 20, "{summary}");
    let program = lower::lower(&graph).unwrap();
    for isa in int8_tiers() {
        let got: Vec<f32> = xs.chunks(1024).flat_map(|x| program.run(isa, x, 1)).collect();
        let (same, ours, theirs) = (agree(&got), correct(&got), correct(&ort));
        eprintln!("QDQ digits compiled on {}: top-1 equal to ONNX Runtime's on {same}/{n}; accuracy {ours}/{n} (ONNX Runtime {theirs}/{n})", isa.name());
        assert!(same * 100 >= n * 99, "{}: top-1 equal on only {same}/{n}", isa.name());
        assert!((ours as f64 - theirs as f64).abs() <= 0.005 * n as f64, "{}: accuracy {ours} vs {theirs}", isa.name());
    }
}
