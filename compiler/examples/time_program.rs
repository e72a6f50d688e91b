//! Times a lowered program in process:
//! `cargo run --release --example time_program -- MODEL.onnx [isa] [threads]`, or
//! `-- --alpha A [--version 2] [isa] [threads]` for a seeded DSL network.
use ghostnet_compiler::back::rust::lower;
use ghostnet_compiler::front::dsl::{Spec, Version};
use ghostnet_compiler::{optimize, Limits, Source};
use ghostnet_runtime::isa::Isa;
use std::time::Instant;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let source = if args[0] == "--alpha" {
        let mut spec = Spec::with_width(args[1].parse().unwrap());
        args.drain(..2);
        if args.first().is_some_and(|a| a == "--version") {
            if args[1] == "2" {
                spec.version = Version::V2;
            }
            args.drain(..2);
        }
        Source::Dsl { spec, weights: None, seed: 0 }
    } else {
        Source::Onnx { path: args.remove(0).into(), input_shape: None }
    };
    let p = lower::lower(&optimize(source.load(&Limits::default()).unwrap()).unwrap()).unwrap();
    let isa = args.first().and_then(|s| Isa::from_name(s)).unwrap_or(Isa::best());
    let threads: usize = args.get(1).map_or(1, |s| s.parse().unwrap());
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
    println!("{} {} x{threads}: median {:.3} ms, min {:.3} ms", p.name, isa.name(), times[15], times[0]);
}
