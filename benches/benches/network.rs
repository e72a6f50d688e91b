//! Whole networks per kernel tier, one and two threads: GhostNet 1.0x at 224x224 (141 M
//! MACs) and the digits model.
//!
//! `cargo bench --manifest-path benches/Cargo.toml --bench network`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use ghostnet_benches::{digits, ghostnet_100};

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("ghostnet_100");
    group.throughput(Throughput::Elements(1));
    group.sample_size(30);
    let input = vec![0.5f32; ghostnet_100::INPUT_LEN];
    let input: &[f32; ghostnet_100::INPUT_LEN] = input.as_slice().try_into().unwrap();
    let mut out = [0f32; ghostnet_100::OUTPUT_LEN];
    for isa in ghostnet_100::Isa::ALL.into_iter().filter(|i| i.supported()) {
        let mut net = ghostnet_100::Net::with_isa(isa);
        group.bench_function(BenchmarkId::new("1 thread", isa.name()), |b| b.iter(|| net.forward(black_box(input), &mut out)));
    }
    let mut net = ghostnet_100::Net::with_isa(ghostnet_100::Isa::best());
    group.bench_function(BenchmarkId::new("2 threads", net.isa().name()), |b| {
        b.iter(|| net.forward_threads(black_box(input), &mut out, 2))
    });
    group.finish();

    let mut group = c.benchmark_group("digits");
    let input = [0.5f32; digits::INPUT_LEN];
    let mut out = [0f32; digits::OUTPUT_LEN];
    for isa in digits::Isa::ALL.into_iter().filter(|i| i.supported()) {
        let mut net = digits::Net::with_isa(isa);
        group.bench_function(BenchmarkId::from_parameter(isa.name()), |b| b.iter(|| net.forward(black_box(&input), &mut out)));
    }
    group.finish();
    c.final_summary();
}
