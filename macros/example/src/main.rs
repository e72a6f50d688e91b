//! The `ghostnet!` macro in a user's crate, whose only dependency is `ghostnet-macros`.
//!
//! `digits` is the trained digits GhostNet, compiled from its ONNX file at build time; it
//! classifies its 397 test images. `synth` is a GhostNet 0.75x built from the DSL with
//! seeded weights. `ghostnet-macros-example --logits OUT.bin` also writes the digits logits.

use std::time::Instant;

mod digits {
    ghostnet_macros::ghostnet!(onnx = "../../compiler/models/digits_ghostnet.onnx");
}

mod synth {
    ghostnet_macros::ghostnet!(alpha = 0.75, input = [1, 3, 96, 96], classes = 100, seed = 7);
}

static TEST_X: &[u8] = include_bytes!("../../../compiler/models/digits_ghostnet.test_x.bin");
static TEST_Y: &[u8] = include_bytes!("../../../compiler/models/digits_ghostnet.test_y.bin");

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let logits_path = match args.get(1..) {
        Some([flag, path]) if flag == "--logits" => Some(path.clone()),
        Some([]) | None => None,
        _ => {
            eprintln!("usage: ghostnet-macros-example [--logits OUT.bin]");
            std::process::exit(1);
        }
    };
    let mut net = match digits::Net::try_new() {
        Ok(net) => net,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let xs: Vec<f32> = TEST_X.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let mut output = [0f32; digits::OUTPUT_LEN];
    let mut logits = Vec::with_capacity(xs.len() / digits::INPUT_LEN * digits::OUTPUT_LEN);
    let mut correct = 0;
    let start = Instant::now();
    for (image, &label) in xs.chunks_exact(digits::INPUT_LEN).zip(TEST_Y) {
        let input: &[f32; digits::INPUT_LEN] = image.try_into().expect("whole images");
        net.forward(input, &mut output);
        correct += (argmax(&output) == label as usize) as usize;
        logits.extend_from_slice(&output);
    }
    let per_image = start.elapsed().as_secs_f64() * 1e6 / TEST_Y.len() as f64;
    println!("digits GhostNet (ghostnet! macro), {:?} kernels: {correct}/{} correct, {per_image:.1} us per image", net.isa(), TEST_Y.len());

    // Each module carries its own kernels and `Isa` type; this picks the same tier.
    let mut net = synth::Net::new();
    let image: Vec<f32> = (0..synth::INPUT_LEN).map(|i| (i % 17) as f32 / 17.0 - 0.5).collect();
    let mut output = [0f32; synth::OUTPUT_LEN];
    net.forward(image.as_slice().try_into().expect("one image"), &mut output);
    println!("GhostNet 0.75x (seeded) on a {:?} test pattern: class {}", synth::INPUT_SHAPE, argmax(&output));

    if let Some(path) = logits_path {
        let bytes: Vec<u8> = logits.iter().flat_map(|v| v.to_le_bytes()).collect();
        if let Err(e) = std::fs::write(&path, bytes) {
            eprintln!("error: cannot write '{path}': {e}");
            std::process::exit(1);
        }
    }
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap_or(0)
}
