//! Lowered programs run in process with the runtime's kernels, every tier, one and two
//! threads, against ONNX Runtime's outputs; and DSL networks against the interpreter.

mod common;

use ghostnet_compiler::back::rust::lower;
use ghostnet_compiler::front::dsl::{self, weights::Source, Spec};
use ghostnet_compiler::front::onnx;
use ghostnet_compiler::{interp, ir::numel, optimize};
use ghostnet_runtime::isa::Isa;

fn tiers() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.supported() && i.base() == *i).collect()
}

fn check_fixture(stem: &str) {
    let Some(dir) = common::fixtures() else { return };
    let graph = onnx::load(&dir.join(format!("{stem}.onnx")), &onnx::Options::default()).unwrap();
    let program = lower::lower(&optimize(graph).unwrap()).unwrap();
    let input = common::read_f32(&dir.join(format!("{stem}.input.bin")));
    let want = common::read_f32(&dir.join(format!("{stem}.ort.bin")));
    for isa in tiers() {
        for threads in [1, 2] {
            let got = program.run(isa, &input, threads);
            common::assert_close(&format!("{stem} {} x{threads}", isa.name()), &got, &want, 1e-4, 1000);
        }
    }
}

#[test]
fn ghostnet_050_legacy() {
    check_fixture("ghostnet_050_legacy");
}

#[test]
fn ghostnet_050_extdata() {
    check_fixture("ghostnet_050_extdata");
}

#[test]
fn ghostnet_100_dynamo() {
    check_fixture("ghostnet_100_dynamo");
}

#[test]
fn ghostnetv2_100_dynamo() {
    check_fixture("ghostnetv2_100_dynamo");
}

#[test]
fn ghostnetv3_050_training_form() {
    check_fixture("ghostnetv3_050_dynamo");
}

#[test]
fn dsl_v2_widths() {
    for alpha in [1.0, 1.3] {
        check_dsl(&format!("v2 alpha {alpha}"), Spec { version: dsl::Version::V2, input: [1, 3, 112, 96], ..Spec::with_width(alpha) });
    }
    // 7x7 -> 3x3 -> 7x7 gates (odd sizes) at the last stages.
    check_dsl("v2 224", Spec { version: dsl::Version::V2, ..Spec::with_width(1.0) });
}

#[test]
fn digits_predictions_equal_onnx_runtime() {
    let Some(dir) = common::fixtures() else { return };
    let graph = onnx::load(&dir.join("digits_ghostnet.onnx"), &onnx::Options::default()).unwrap();
    let program = lower::lower(&optimize(graph).unwrap()).unwrap();
    let xs = common::read_f32(&dir.join("digits_ghostnet.test_x.bin"));
    let want = common::read_f32(&dir.join("digits_ghostnet.ort.bin"));
    for isa in tiers() {
        for (i, x) in xs.chunks(1024).enumerate() {
            let got = program.run(isa, x, 1);
            let w = &want[i * 10..(i + 1) * 10];
            common::assert_close(&format!("digit {i} {}", isa.name()), &got, w, 1e-4, 10);
        }
    }
}

fn check_dsl(tag: &str, spec: Spec) {
    let graph = dsl::build(&spec, &mut Source::seeded(11)).unwrap();
    let x = common::test_input(numel(&spec.input), 5);
    let want = interp::run(&graph, &[&x]).unwrap().remove(0);
    let program = lower::lower(&optimize(graph).unwrap()).unwrap();
    for isa in tiers() {
        let got = program.run(isa, &x, 1);
        common::assert_close(&format!("{tag} {}", isa.name()), &got, &want, 1e-4, spec.num_classes);
    }
    let got = program.run(Isa::best(), &x, 2);
    common::assert_close(&format!("{tag} 2 threads"), &got, &want, 1e-4, spec.num_classes);
}

#[test]
fn dsl_widths_shapes_and_batch() {
    for alpha in [0.5, 0.75, 1.0, 1.3] {
        check_dsl(&format!("alpha {alpha}"), Spec { input: [1, 3, 96, 96], ..Spec::with_width(alpha) });
    }
    check_dsl("non-square", Spec { input: [1, 3, 160, 192], ..Spec::with_width(1.0) });
    check_dsl("batch 2", Spec { input: [2, 3, 64, 64], num_classes: 100, ..Spec::with_width(0.75) });
}

#[test]
fn random_stage_tables_match_the_interpreter() {
    for seed in 0..40 {
        let spec = common::random_spec(seed);
        check_dsl(&format!("random {seed}: {:?}", spec.stages), spec);
    }
}
