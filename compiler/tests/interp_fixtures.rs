//! The reference interpreter against ONNX Runtime's outputs on every fixture.

mod common;

use ghostnet_compiler::front::onnx;
use ghostnet_compiler::interp;

fn check(stem: &str) {
    let Some(dir) = common::fixtures() else { return };
    let graph = onnx::load(&dir.join(format!("{stem}.onnx")), &onnx::Options::default()).unwrap();
    let input = common::read_f32(&dir.join(format!("{stem}.input.bin")));
    let want = common::read_f32(&dir.join(format!("{stem}.ort.bin")));
    let got = interp::run(&graph, &[&input]).unwrap().remove(0);
    common::assert_close(stem, &got, &want, 1e-5, 1000);
    // The fused graph computes the same function.
    let fused = ghostnet_compiler::optimize(graph).unwrap();
    let got = interp::run(&fused, &[&input]).unwrap().remove(0);
    common::assert_close(&format!("{stem} fused"), &got, &want, 1e-5, 1000);
}

#[test]
fn ghostnet_050_legacy() {
    check("ghostnet_050_legacy");
}

#[test]
fn ghostnet_050_extdata() {
    check("ghostnet_050_extdata");
}

#[test]
fn ghostnet_100_dynamo() {
    check("ghostnet_100_dynamo");
}

#[test]
fn ghostnetv2_100_dynamo() {
    check("ghostnetv2_100_dynamo");
}

#[test]
fn ghostnetv3_050_dynamo() {
    check("ghostnetv3_050_dynamo");
}

#[test]
fn digits_classifies_like_onnx_runtime() {
    let Some(dir) = common::fixtures() else { return };
    let graph = onnx::load(&dir.join("digits_ghostnet.onnx"), &onnx::Options::default()).unwrap();
    let xs = common::read_f32(&dir.join("digits_ghostnet.test_x.bin"));
    let want = common::read_f32(&dir.join("digits_ghostnet.ort.bin"));
    let labels = std::fs::read(dir.join("digits_ghostnet.test_y.bin")).unwrap();
    assert_eq!(xs.len(), 397 * 32 * 32);
    let mut correct = 0;
    for (i, x) in xs.chunks(32 * 32).enumerate() {
        let got = interp::run(&graph, &[x]).unwrap().remove(0);
        let w = &want[i * 10..(i + 1) * 10];
        common::assert_close(&format!("digit {i}"), &got, w, 1e-5, 10);
        correct += (common::top_k(&got, 1)[0] == labels[i] as usize) as usize;
    }
    assert_eq!(correct, 397, "ONNX Runtime classifies all 397 test images correctly");
}
