//! timm networks exported with PyTorch's TorchScript exporter (`tests/exports/export_timm.py`):
//! GhostNetV3 0.5x in training form (its `y = 0; y += branch` sums are `Add`s of a constant
//! 0) and `features_only` backbones with five outputs. Each must compile to the layers of
//! the dynamo export of the same network and match ONNX Runtime, run at test time, on every
//! tier.
//!
//! The models are checked in (`tests/exports/`; the script says why); `$GHOSTNET_EXPORTS`
//! points the tests at another folder of them.

mod common;

use std::path::PathBuf;

use ghostnet_compiler::back::rust::lower;
use ghostnet_compiler::front::onnx;
use ghostnet_compiler::{interp, ir::numel, optimize};
use ghostnet_runtime::isa::Isa;

/// The folder of exported models, or `None` (after a notice) without ONNX Runtime.
fn exports() -> Option<PathBuf> {
    if !common::have_onnxruntime() {
        return None;
    }
    Some(match std::env::var_os("GHOSTNET_EXPORTS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/exports"),
    })
}

/// Compiles `stem` from `dir`, checks the layer count, and compares the interpreter and
/// the program on every tier (1 and 2 threads) with ONNX Runtime; returns the program's
/// outputs' shapes.
fn check(dir: &std::path::Path, stem: &str, layers: Option<usize>, classes: Option<usize>) -> Vec<Vec<usize>> {
    let model = dir.join(format!("{stem}.onnx"));
    let graph = onnx::load(&model, &onnx::Options::default()).unwrap();
    let input = common::test_input(numel(graph.shape(graph.inputs[0])), 7);
    let scratch = common::scratch_dir(&format!("exports_{stem}"));
    std::fs::copy(&model, scratch.join("model.onnx")).unwrap();
    let want = common::onnxruntime(&scratch.join("model.onnx"), &input);
    let shapes: Vec<Vec<usize>> = graph.outputs.iter().map(|&o| graph.shape(o).clone()).collect();
    let fused = optimize(graph).unwrap();
    if let Some(layers) = layers {
        assert_eq!(fused.nodes.len(), layers, "{stem}: layers after fusion");
    }
    let check_all = |what: &str, got: &[f32], rel: f32| match classes {
        Some(c) => common::assert_close(what, got, &want, rel, c),
        None => common::assert_outputs_close(what, got, &want, &shapes, rel),
    };
    check_all(&format!("{stem} interpreter"), &interp::run(&fused, &[&input]).unwrap().concat(), 1e-5);
    let program = lower::lower(&fused).unwrap();
    for isa in Isa::ALL.into_iter().filter(|i| i.supported()) {
        for threads in [1, 2] {
            check_all(&format!("{stem} {} x{threads}", isa.name()), &program.run(isa, &input, threads), 1e-4);
        }
    }
    shapes
}

#[test]
fn ghostnetv3_training_form_from_torchscript() {
    let Some(dir) = exports() else { return };
    // The dynamo export of the same network fuses to 115 layers.
    if let Some(fx) = common::fixtures() {
        let dynamo = optimize(onnx::load(&fx.join("ghostnetv3_050_dynamo.onnx"), &onnx::Options::default()).unwrap()).unwrap();
        assert_eq!(dynamo.nodes.len(), 115);
    }
    check(&dir, "ghostnetv3_050_torchscript", Some(115), Some(1000));
}

#[test]
fn features_only_from_torchscript() {
    let Some(dir) = exports() else { return };
    let shapes = check(&dir, "ghostnet_100_features_torchscript", None, None);
    assert_eq!(shapes, [vec![1, 16, 112, 112], vec![1, 24, 56, 56], vec![1, 40, 28, 28], vec![1, 80, 14, 14], vec![1, 160, 7, 7]]);
    // Not checked in; compared when made (`export_timm.py DIR ghostnetv2_100_features_torchscript`).
    if dir.join("ghostnetv2_100_features_torchscript.onnx").is_file() {
        assert_eq!(check(&dir, "ghostnetv2_100_features_torchscript", None, None).len(), 5);
    }
}
