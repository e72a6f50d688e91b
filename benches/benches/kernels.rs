//! Kernel throughput on GhostNet 1.0x's shapes, every tier this CPU runs: criterion's
//! statistics, then a summary in GFLOP/s and as a share of the measured FMA bound.
//!
//! `cargo bench --manifest-path benches/Cargo.toml --bench kernels`

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput};
use ghostnet_benches::peak;
use ghostnet_runtime::conv::{self, Dense, Strided};
use ghostnet_runtime::dwconv::{self, Depthwise};
use ghostnet_runtime::gemm::{self, Gemm, View};
use ghostnet_runtime::isa::{Act, Arena, Isa, Part};

/// A kernel call ready to run on some tier, with its flop count.
struct Case {
    name: String,
    flops: u64,
    arena: Vec<f32>,
    weights: Vec<f32>,
    input: Vec<f32>,
    run: fn(&Case, Isa, &mut [f32]),
    gemm: Option<Gemm>,
    dw: Option<Depthwise>,
    conv: Option<Dense>,
}

fn gemm_case(m: usize, k: usize, n: usize, ldc: usize) -> Case {
    let bias = gemm::packed_len(k, n).div_ceil(16) * 16;
    let g = Gemm {
        m,
        k,
        n,
        a: View { off: 0, ld: k },
        c: View { off: m * k, ld: ldc },
        b: 0,
        bias,
        act: Act::Relu,
        residual: None,
        raw: None,
        scale: None,
        gate: None,
    };
    Case {
        name: format!("gemm m{m} k{k} n{n}"),
        flops: 2 * (m * k * n) as u64,
        arena: vec![0.5; m * k + m * ldc],
        weights: vec![0.01; bias + n],
        input: Vec::new(),
        run: |c, isa, a| gemm::gemm(isa, Arena::new(a), &c.weights, c.gemm.as_ref().unwrap(), Part::ALL),
        gemm: Some(g),
        dw: None,
        conv: None,
    }
}

fn dw_case(h: usize, c: usize, ld: usize, s: usize, k: usize) -> Case {
    let o = (h + 2 * (k / 2) - k) / s + 1;
    let d = Depthwise {
        h,
        w: h,
        c,
        oh: o,
        ow: o,
        kh: k,
        kw: k,
        sh: s,
        sw: s,
        pt: k / 2,
        pl: k / 2,
        x: View { off: 0, ld },
        y: View { off: h * h * ld, ld },
        weights: 0,
        act: Act::Relu,
        gate: None,
        residual: None,
    };
    Case {
        name: format!("dw {k}x{k}/{s} {o}x{o}x{c}"),
        flops: 2 * (o * o * c * k * k) as u64,
        arena: vec![0.5; h * h * ld + o * o * ld],
        weights: vec![0.1; dwconv::packed_len(c, k * k)],
        input: Vec::new(),
        run: |c, isa, a| dwconv::depthwise(isa, Arena::new(a), &c.weights, c.dw.as_ref().unwrap(), Part::ALL),
        gemm: None,
        dw: Some(d),
        conv: None,
    }
}

fn stem_case() -> Case {
    let (h, o) = (224, 112);
    let d = Dense {
        h,
        w: h,
        cin: 3,
        oh: o,
        ow: o,
        cout: 16,
        kh: 3,
        kw: 3,
        sh: 2,
        sw: 2,
        pt: 1,
        pl: 1,
        x: Strided { off: 0, cs: h * h, rs: h, ps: 1 },
        y: View { off: 0, ld: 16 },
        weights: 0,
        act: Act::Relu,
        residual: None,
    };
    Case {
        name: "stem 3x3/2 3->16 112x112".into(),
        flops: 2 * (o * o * 16 * 27) as u64,
        arena: vec![0.0; o * o * 16],
        weights: vec![0.1; conv::packed_len(3, 3, 3, 16)],
        input: vec![0.5; 3 * h * h],
        run: |c, isa, a| conv::dense(isa, Arena::new(a), Some(&c.input), &c.weights, c.conv.as_ref().unwrap(), Part::ALL),
        gemm: None,
        dw: None,
        conv: Some(d),
    }
}

fn cases() -> Vec<Case> {
    vec![
        stem_case(),
        gemm_case(12544, 16, 24, 48),
        gemm_case(3136, 24, 36, 72),
        gemm_case(784, 40, 120, 240),
        gemm_case(196, 112, 336, 672),
        gemm_case(196, 672, 56, 112),
        gemm_case(49, 960, 80, 160),
        gemm_case(49, 160, 960, 960),
        gemm_case(1, 960, 1280, 1280),
        dw_case(112, 24, 48, 1, 3),
        dw_case(112, 48, 48, 2, 3),
        dw_case(28, 120, 240, 1, 3),
        dw_case(14, 336, 672, 1, 3),
        dw_case(56, 72, 72, 2, 5),
        dw_case(7, 480, 960, 1, 3),
    ]
}

fn tiers() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.supported() && i.base() == *i).collect()
}

fn main() {
    let mut crit = Criterion::default().configure_from_args();
    let mut cases = cases();
    for case in &mut cases {
        let mut group = crit.benchmark_group(&case.name);
        group.throughput(Throughput::Elements(case.flops));
        let mut arena = std::mem::take(&mut case.arena);
        for isa in tiers() {
            group.bench_function(BenchmarkId::from_parameter(isa.name()), |b| b.iter(|| (case.run)(case, black_box(isa), &mut arena)));
        }
        group.finish();
        case.arena = arena;
    }
    crit.final_summary();
    // A compact summary: best of 30 runs, GFLOP/s and share of the FMA bound.
    let peaks: Vec<(Isa, f64)> = tiers().into_iter().map(|i| (i, peak::gflops(i))).collect();
    println!("\nFMA bound of one core: {}", peaks.iter().map(|(i, g)| format!("{} {g:.0} GFLOP/s", i.name())).collect::<Vec<_>>().join(", "));
    println!("{:<28} {}", "kernel", peaks.iter().map(|(i, _)| format!("{:>22}", i.name())).collect::<String>());
    for case in &mut cases {
        let mut line = format!("{:<28}", case.name);
        let mut arena = std::mem::take(&mut case.arena);
        for &(isa, bound) in &peaks {
            let mut best = f64::MAX;
            for _ in 0..30 {
                let t = Instant::now();
                (case.run)(case, isa, &mut arena);
                best = best.min(t.elapsed().as_secs_f64());
            }
            let gf = case.flops as f64 / best / 1e9;
            line += &format!("  {:>7.1} GF/s ({:>3.0}%)", gf, 100.0 * gf / bound);
        }
        case.arena = arena;
        println!("{line}");
    }
}
