//! A deployment binary: the digits GhostNet compiled by `ghostc` (`../digits/net.rs`, golden
//! output checked in) runs on its 397 test images and reports accuracy and latency.
//! No dependencies: `cargo tree -p ghostnet-deploy` shows this crate alone.

use std::time::Instant;

#[path = "../../digits/net.rs"]
mod net;

static TEST_X: &[u8] = include_bytes!("../../../compiler/models/digits_ghostnet.test_x.bin");
static TEST_Y: &[u8] = include_bytes!("../../../compiler/models/digits_ghostnet.test_y.bin");

fn main() {
    let mut net = match net::Net::try_new() {
        Ok(net) => net,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let xs: Vec<f32> = TEST_X.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let mut output = [0f32; net::OUTPUT_LEN];
    let mut correct = 0;
    let mut times = Vec::with_capacity(TEST_Y.len());
    for (image, &label) in xs.chunks_exact(net::INPUT_LEN).zip(TEST_Y) {
        let input: &[f32; net::INPUT_LEN] = image.try_into().expect("whole images");
        let start = Instant::now();
        net.forward(input, &mut output);
        times.push(start.elapsed().as_secs_f64() * 1e6);
        let best = (0..output.len()).max_by(|&a, &b| output[a].total_cmp(&output[b])).unwrap_or(0);
        correct += (best == label as usize) as usize;
    }
    times.sort_by(f64::total_cmp);
    let n = TEST_Y.len();
    println!("digits GhostNet, {:?} kernels: {correct}/{n} correct ({:.2}%)", net.isa(), 100.0 * correct as f64 / n as f64);
    println!(
        "latency per image: median {:.1} us, mean {:.1} us, min {:.1} us",
        times[n / 2],
        times.iter().sum::<f64>() / n as f64,
        times[0]
    );
}
