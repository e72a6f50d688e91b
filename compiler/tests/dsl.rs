//! DSL networks: timm weights give timm's outputs; bad weights files are reported in full.

mod common;

use ghostnet_compiler::front::dsl::{self, weights::Source, Spec};
use ghostnet_compiler::front::onnx;
use ghostnet_compiler::{interp, Limits};

#[test]
fn alpha_050_with_timm_weights_matches_the_onnx_export() {
    let Some(dir) = common::fixtures() else { return };
    let mut src = Source::safetensors(&dir.join("ghostnet_050_legacy.safetensors"), &Limits::default()).unwrap();
    let graph = dsl::build(&Spec::with_width(0.5), &mut src).unwrap();
    let input = common::read_f32(&dir.join("ghostnet_050_legacy.input.bin"));
    let want = common::read_f32(&dir.join("ghostnet_050_legacy.ort.bin"));
    let got = interp::run(&graph, &[&input]).unwrap().remove(0);
    common::assert_close("dsl 0.5 + safetensors", &got, &want, 1e-5, 1000);
    // And the ONNX file of the same weights.
    let onnx_graph = onnx::load(&dir.join("ghostnet_050_legacy.onnx"), &onnx::Options::default()).unwrap();
    let from_onnx = interp::run(&onnx_graph, &[&input]).unwrap().remove(0);
    common::assert_close("dsl vs onnx", &got, &from_onnx, 1e-5, 1000);
}

#[test]
fn digits_table_with_its_weights_classifies_like_onnx_runtime() {
    let Some(dir) = common::fixtures() else { return };
    let stages = dsl::parse_stages(
        "[[[3, 16, 16, 0, 1]], [[3, 48, 24, 0, 2]], [[3, 72, 24, 0, 1]], [[5, 72, 40, 0.25, 2]],
          [[3, 120, 40, 0.25, 1]], [[3, 240, 80, 0, 2]], [[3, 184, 80, 0, 1], [3, 480, 112, 0.25, 1]]]",
    )
    .unwrap();
    let spec = Spec { stages, input: [1, 1, 32, 32], num_classes: 10, ..Spec::default() };
    let mut src = Source::safetensors(&dir.join("digits_ghostnet.safetensors"), &Limits::default()).unwrap();
    let graph = dsl::build(&spec, &mut src).unwrap();
    let xs = common::read_f32(&dir.join("digits_ghostnet.test_x.bin"));
    let want = common::read_f32(&dir.join("digits_ghostnet.ort.bin"));
    for (i, x) in xs.chunks(1024).enumerate().step_by(7) {
        let got = interp::run(&graph, &[x]).unwrap().remove(0);
        common::assert_close(&format!("digit {i}"), &got, &want[i * 10..][..10], 1e-5, 10);
    }
}

#[test]
fn seeded_networks_have_spread_out_logits() {
    for alpha in [0.5, 0.75, 1.0, 1.3] {
        let spec = Spec { input: [1, 3, 64, 64], ..Spec::with_width(alpha) };
        let graph = dsl::build(&spec, &mut Source::seeded(1)).unwrap();
        let x: Vec<f32> = (0..3 * 64 * 64).map(|i| ((i * 7919) % 255) as f32 / 128.0 - 1.0).collect();
        let y = interp::run(&graph, &[&x]).unwrap().remove(0);
        let max = y.iter().fold(0f32, |m, v| m.max(v.abs()));
        let mean = y.iter().sum::<f32>() / y.len() as f32;
        let var = y.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / y.len() as f32;
        eprintln!("alpha {alpha}: max |logit| {max}, std {}", var.sqrt());
        assert!(max.is_finite() && var.sqrt() > 1e-3 * max && max > 1e-3, "degenerate logits at alpha {alpha}");
    }
}
