//! Whole networks per kernel tier, one and two threads: GhostNet 1.0x at 224x224 (141 M
//! MACs) and the digits model; then, best tier and one thread, GhostNetV2 1.0x and 0.5x and
//! GhostNetV3 0.5x in training form (compiled to the same layers as its deploy form).
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
    for isa in ghostnet_100::Isa::ALL.into_iter().filter(|i| i.supported() && i.base() == *i) {
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
    for isa in digits::Isa::ALL.into_iter().filter(|i| i.supported() && i.base() == *i) {
        let mut net = digits::Net::with_isa(isa);
        group.bench_function(BenchmarkId::from_parameter(isa.name()), |b| b.iter(|| net.forward(black_box(&input), &mut out)));
    }
    group.finish();
    let mut group = c.benchmark_group("v2_v3");
    group.sample_size(30);
    macro_rules! bench_net {
        ($net:ident) => {{
            use ghostnet_benches::$net as n;
            let input = vec![0.5f32; n::INPUT_LEN];
            let input: &[f32; n::INPUT_LEN] = input.as_slice().try_into().unwrap();
            let mut out = [0f32; n::OUTPUT_LEN];
            let mut net = n::Net::new();
            group.bench_function(stringify!($net), |b| b.iter(|| net.forward(black_box(input), &mut out)));
        }};
    }
    bench_net!(ghostnetv2_100);
    bench_net!(ghostnetv2_050);
    #[cfg(ghostnet_v3)]
    bench_net!(ghostnetv3_050);
    group.finish();
    c.final_summary();
}
