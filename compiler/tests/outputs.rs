//! Networks with several outputs: the features_only fixture (five stage outputs) lowered and
//! run in process on every tier against ONNX Runtime's outputs.

mod common;

use ghostnet_compiler::back::rust::lower;
use ghostnet_compiler::front::onnx;
use ghostnet_compiler::{interp, optimize};
use ghostnet_runtime::isa::Isa;

fn tiers() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.supported()).collect()
}

#[test]
fn features_fixture_matches_onnx_runtime_on_every_tier() {
    let Some(dir) = common::fixtures() else { return };
    let stem = "ghostnet_050_features_dynamo";
    let graph = onnx::load(&dir.join(format!("{stem}.onnx")), &onnx::Options::default()).unwrap();
    let input = common::read_f32(&dir.join(format!("{stem}.input.bin")));
    let want = common::read_f32(&dir.join(format!("{stem}.ort.bin")));
    let shapes: Vec<Vec<usize>> = graph.outputs.iter().map(|&o| graph.shape(o).clone()).collect();
    assert_eq!(shapes, [vec![1, 8, 112, 112], vec![1, 12, 56, 56], vec![1, 20, 28, 28], vec![1, 40, 14, 14], vec![1, 80, 7, 7]]);
    let fused = optimize(graph).unwrap();
    let got: Vec<f32> = interp::run(&fused, &[&input]).unwrap().concat();
    common::assert_outputs_close(&format!("{stem} interpreter"), &got, &want, &shapes, 1e-5);
    let program = lower::lower(&fused).unwrap();
    assert_eq!(program.outputs.iter().map(|o| o.shape.clone()).collect::<Vec<_>>(), shapes);
    for isa in tiers() {
        for threads in [1, 2] {
            let got = program.run(isa, &input, threads);
            common::assert_outputs_close(&format!("{stem} {} x{threads}", isa.name()), &got, &want, &shapes, 1e-4);
        }
    }
}
