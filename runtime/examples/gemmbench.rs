//! GEMM kernel throughput for GhostNet's shapes, `f32` and bfloat16 weights, with warm
//! caches: `cargo run --release --example gemmbench -p ghostnet-runtime [SHAPE | - M K N LDC]`.
use ghostnet_runtime::gemm::{self, Gemm, View};
use ghostnet_runtime::isa::{Act, Arena, Isa, Part};
use ghostnet_runtime::qgemm::{self, QGemm, Quantize};
use std::time::Instant;

fn main() {
    let shapes: &[(usize, usize, usize, usize)] = &[
        // m, k, n, ldc
        (12544, 16, 8, 16),
        (12544, 16, 24, 48),
        (3136, 24, 36, 72),
        (3136, 72, 12, 24),
        (784, 40, 120, 240),
        (196, 112, 336, 672),
        (196, 672, 56, 112),
        (196, 80, 240, 480),
        (49, 160, 480, 960),
        (49, 960, 80, 160),
        (49, 160, 960, 960),
        (1, 960, 1280, 1280),
    ];
    let filter: Option<usize> = std::env::args().nth(1).and_then(|s| s.parse().ok());
    let custom: Vec<usize> = std::env::args().skip(2).map(|s| s.parse().unwrap()).collect();
    let custom_shapes = [(custom.first().copied().unwrap_or(0), custom.get(1).copied().unwrap_or(0), custom.get(2).copied().unwrap_or(0), custom.get(3).copied().unwrap_or(0))];
    let shapes: &[(usize, usize, usize, usize)] = if custom.len() == 4 { &custom_shapes } else { shapes };
    for (idx, &(m, k, n, ldc)) in shapes.iter().enumerate() {
        if filter.is_some_and(|f| f != idx) {
            continue;
        }
        let mut arena = vec![0.5f32; m * k + m * ldc + 64];
        let bias = gemm::packed_len(k, n).div_ceil(16) * 16;
        let mut w = vec![0.01f32; bias + n];
        gemm::pack(k, n, |_, _| 0.01, &mut w);
        let mut w_bf16 = w.clone();
        gemm::pack_bf16(k, n, |_, _| 0.01, &mut w_bf16);
        let g = Gemm { m, k, n, a: View { off: 0, ld: k }, c: View { off: m * k, ld: ldc }, b: 0, bias, act: Act::Relu, residual: None, raw: None, scale: None, gate: None };
        let mut line = format!("m{m:<6} k{k:<4} n{n:<5}");
        let chosen = |i: &Isa| i.supported() && std::env::var("GHOSTNET_ISA").map_or(true, |o| o == i.name());
        for isa in Isa::ALL.into_iter().filter(|i| i.base() == *i && chosen(i)) {
            for bf16 in [false, true] {
                let reps = (2_000_000_000 / (m * k * n)).clamp(5, 2000);
                let mut best = f64::MAX;
                for _ in 0..reps {
                    let t = Instant::now();
                    if bf16 {
                        gemm::gemm_bf16(isa, Arena::new(&mut arena), &w_bf16, &g, Part::ALL);
                    } else {
                        gemm::gemm(isa, Arena::new(&mut arena), &w, &g, Part::ALL);
                    }
                    best = best.min(t.elapsed().as_secs_f64());
                }
                let dtype = if bf16 { "bf16" } else { "f32" };
                line += &format!("  {} {dtype}: {:7.1} us {:6.1} GF/s", isa.name(), best * 1e6, 2.0 * (m * k * n) as f64 / best / 1e9);
            }
        }
        // 8 bits: the quantization of A, then the integer product.
        let lda = qgemm::row_bytes(k);
        let qoff = m * k + m * ldc;
        let mut qarena = arena.clone();
        qarena.resize(qoff + (m * lda).div_ceil(4), 0.0);
        let mut wq = vec![0f32; qgemm::packed_len_i8(k, n) + 2 * n];
        qgemm::pack_i8(k, n, |p, j| ((p * 7 + j) % 255) as u8 as i8, &mut wq);
        let b_len = qgemm::packed_len_i8(k, n);
        let quant = Quantize { m, k, x: View { off: 0, ld: k }, y: qoff, ldy: lda, inv_scale: 100.0, zero: 3.0, scale: None };
        let qg = QGemm { m, k, n, a: qoff, lda, c: View { off: m * k, ld: ldc }, b: 0, scale: b_len, bias: b_len + n, act: Act::Relu, residual: None, raw: None, gate: None };
        for isa in Isa::ALL.into_iter().filter(|i| *i != Isa::Scalar && chosen(i)) {
            let reps = (2_000_000_000 / (m * k * n)).clamp(5, 2000);
            let (mut bq, mut bg) = (f64::MAX, f64::MAX);
            for _ in 0..reps {
                let t = Instant::now();
                qgemm::quantize(isa, Arena::new(&mut qarena), &quant, Part::ALL);
                bq = bq.min(t.elapsed().as_secs_f64());
                let t = Instant::now();
                qgemm::qgemm(isa, Arena::new(&mut qarena), &wq, &qg, Part::ALL);
                bg = bg.min(t.elapsed().as_secs_f64());
            }
            line += &format!("  {} i8: {:6.1}+{:6.1} us {:6.1} GOP/s", isa.name(), bq * 1e6, bg * 1e6, 2.0 * (m * k * n) as f64 / (bq + bg) / 1e9);
        }
        println!("{line}");
    }
}
