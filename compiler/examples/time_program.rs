//! Times a lowered program in process: `cargo run --release --example time_program -- MODEL.onnx [isa] [threads]`.
use ghostnet_compiler::{back::rust::lower, front::onnx, optimize};
use ghostnet_runtime::isa::Isa;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let graph = onnx::load(args[1].as_ref(), &onnx::Options::default()).unwrap();
    let p = lower::lower(&optimize(graph).unwrap()).unwrap();
    let isa = args.get(2).and_then(|s| Isa::from_name(s)).unwrap_or(Isa::best());
    let threads: usize = args.get(3).map_or(1, |s| s.parse().unwrap());
    let x = vec![0.5f32; p.batch() * p.image_len()];
    for _ in 0..5 {
        p.run(isa, &x, threads);
    }
    let mut times = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        std::hint::black_box(p.run(isa, &x, threads));
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!("{} {} x{threads}: median {:.3} ms, min {:.3} ms", args[1], isa.name(), times[15], times[0]);
}
