//! Depthwise kernel throughput for GhostNet's shapes with warm caches:
//! `cargo run --release --example dwbench -p ghostnet-runtime [- H W C K S LD]` (a K x K
//! filter with stride S and "same" padding over an H x W x C input whose pixels are LD apart).
use ghostnet_runtime::dwconv::{self, Depthwise};
use ghostnet_runtime::gemm::View;
use ghostnet_runtime::isa::{Act, Arena, Isa, Part};
use std::time::Instant;

fn main() {
    let shapes: &[(usize, usize, usize, usize, usize, usize)] = &[
        // h, w, c, k, stride, ld
        (112, 112, 16, 3, 2, 16),
        (112, 112, 48, 3, 2, 48),
        (56, 56, 24, 5, 2, 24),
        (56, 56, 24, 5, 2, 32),
        (56, 56, 72, 5, 2, 72),
        (56, 56, 72, 5, 2, 80),
        (28, 28, 240, 3, 2, 240),
        (14, 14, 672, 5, 2, 672),
        (112, 112, 8, 3, 1, 16),
        (56, 56, 36, 3, 1, 72),
        (14, 14, 336, 3, 1, 672),
    ];
    let custom: Vec<usize> = std::env::args().skip(2).map(|s| s.parse().unwrap()).collect();
    let one = [(custom.first().copied().unwrap_or(0), custom.get(1).copied().unwrap_or(0), custom.get(2).copied().unwrap_or(0), custom.get(3).copied().unwrap_or(0), custom.get(4).copied().unwrap_or(0), custom.get(5).copied().unwrap_or(0))];
    let shapes = if custom.len() == 6 { &one[..] } else { shapes };
    for &(h, w, c, k, s, ld) in shapes {
        let p = k / 2;
        let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
        let xlen = h * w * ld;
        let mut arena = vec![0.5f32; xlen + oh * ow * ld + 64];
        let mut wts = vec![0.0f32; dwconv::packed_len(c, k * k)];
        dwconv::pack(c, k * k, |_, _| 0.01, |_| 0.1, &mut wts);
        let d = Depthwise { h, w, c, oh, ow, kh: k, kw: k, sh: s, sw: s, pt: p, pl: p, x: View { off: 0, ld }, y: View { off: xlen.div_ceil(16) * 16, ld }, weights: 0, act: Act::Relu, gate: None, residual: None };
        let macs = oh * ow * c * k * k;
        let mut line = format!("{h}x{w}x{c} {k}x{k}/{s} ld{ld:<4}");
        for isa in Isa::ALL.into_iter().filter(|i| i.base() == *i && i.supported() && *i != Isa::Scalar) {
            let reps = (400_000_000 / macs).clamp(20, 5000);
            let mut best = f64::MAX;
            for _ in 0..reps {
                let t = Instant::now();
                dwconv::depthwise(isa, Arena::new(&mut arena), &wts, &d, Part::ALL);
                best = best.min(t.elapsed().as_secs_f64());
            }
            line += &format!("  {}: {:7.1} us {:6.1} GF/s", isa.name(), best * 1e6, 2.0 * macs as f64 / best / 1e9);
        }
        println!("{line}");
    }
}
