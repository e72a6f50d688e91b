//! Reduced precision end to end, in process, every kernel tier, one and two threads:
//! - bfloat16 networks against the interpreter in the same precision (the same arithmetic
//!   up to the order of the sums): max |diff| <= 1e-4 * max |ref|, same top-5;
//! - against ONNX Runtime's `f32` outputs: the signal-to-quantization-noise ratio of the
//!   logits at least 46 dB and the same top-5, on each fixture's input and three more
//!   random-normal inputs; the trained digits network keeps its 397/397.

mod common;

use ghostnet_compiler::back::rust::lower;
use ghostnet_compiler::front::onnx;
use ghostnet_compiler::ir::{Graph, Precision};
use ghostnet_compiler::{interp, optimize_for};
use ghostnet_runtime::isa::Isa;

fn tiers() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.supported() && i.base() == *i).collect()
}

/// The bound the issue sets for bfloat16 logits against `f32` ONNX Runtime.
const MIN_SQNR_DB: f64 = 46.0;

fn load(path: &std::path::Path, precision: Precision) -> Graph {
    optimize_for(onnx::load(path, &onnx::Options::default()).unwrap(), precision).unwrap()
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
