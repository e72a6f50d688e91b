//! DSL networks written as ONNX and run by ONNX Runtime agree with the interpreter.

mod common;

use ghostnet_compiler::back::onnx as writer;
use ghostnet_compiler::front::dsl::{self, weights::Source, Spec, Version};
use ghostnet_compiler::ir::numel;
use ghostnet_compiler::{front::onnx, interp};

fn check(tag: &str, spec: Spec) {
    if !common::have_onnxruntime() {
        return;
    }
    let graph = dsl::build(&spec, &mut Source::seeded(7)).unwrap();
    let dir = common::scratch_dir(&format!("onnx_writer_{tag}"));
    let path = dir.join("model.onnx");
    std::fs::write(&path, writer::write(&graph).unwrap()).unwrap();
    let x = common::test_input(numel(&spec.input), 3);
    let want = common::onnxruntime(&path, &x);
    let got = interp::run(&graph, &[&x]).unwrap().remove(0);
    common::assert_close(tag, &got, &want, 1e-5, spec.num_classes);
    // The written file reads back to the same network.
    let back = onnx::load(&path, &onnx::Options::default()).unwrap();
    let again = interp::run(&back, &[&x]).unwrap().remove(0);
    assert_eq!(got, again, "{tag}: round trip through ONNX changed the outputs");
}

#[test]
fn alpha_050() {
    check("alpha_050", Spec::with_width(0.5));
}

#[test]
fn alpha_075() {
    check("alpha_075", Spec::with_width(0.75));
}

#[test]
fn alpha_100() {
    check("alpha_100", Spec::with_width(1.0));
}

#[test]
fn alpha_130() {
    check("alpha_130", Spec::with_width(1.3));
}

#[test]
fn non_square_input() {
    check("non_square", Spec { input: [1, 3, 160, 192], ..Spec::with_width(1.0) });
}

#[test]
fn batch_of_two_with_100_classes() {
    check("batch2", Spec { input: [2, 3, 96, 96], num_classes: 100, ..Spec::with_width(0.75) });
}

#[test]
fn v2_alpha_100() {
    check("v2_alpha_100", Spec { version: Version::V2, ..Spec::with_width(1.0) });
}

#[test]
fn v2_alpha_130_odd_sizes() {
    check("v2_alpha_130", Spec { version: Version::V2, input: [1, 3, 200, 200], ..Spec::with_width(1.3) });
}
