use ghostnet_runtime::dwconv::{self, Depthwise};
use ghostnet_runtime::gemm::View;
use ghostnet_runtime::isa::{Act, Arena, Isa, Part};
use std::time::Instant;

fn main() {
    let a: Vec<usize> = std::env::args().skip(1).map(|s| s.parse().unwrap()).collect();
    let (h, c, ldx, s, k) = (a[0], a[1], a[2], a[3], a[4]);
    let ldy = a.get(5).copied().unwrap_or(ldx);
    let oh = (h + 2 * (k / 2) - k) / s + 1;
    let mut arena = vec![0.5f32; h * h * ldx + oh * oh * ldy + 64];
    let taps = k * k;
    let mut w = vec![0.0; dwconv::packed_len(c, taps)];
    dwconv::pack(c, taps, |_, _| 0.1, |_| 0.0, &mut w);
    let d = Depthwise { h, w: h, c, oh, ow: oh, kh: k, kw: k, sh: s, sw: s, pt: k / 2, pl: k / 2,
        x: View { off: 0, ld: ldx }, y: View { off: h * h * ldx + c.min(ldy - c), ld: ldy }, weights: 0, gate: None, act: if std::env::var("NOACT").is_ok() { Act::None } else { Act::Relu }, residual: None };
    for isa in Isa::ALL.into_iter().filter(|i| i.supported() && std::env::var("GHOSTNET_ISA").map_or(true, |o| o == i.name())) {
        let mut best = f64::MAX;
        for _ in 0..std::env::var("REPS").map_or(200, |r| r.parse().unwrap()) {
            let t = Instant::now();
            dwconv::depthwise(isa, Arena::new(&mut arena), &w, &d, Part::ALL);
            best = best.min(t.elapsed().as_secs_f64());
        }
        let macs = (oh * oh * c * taps) as f64;
        println!("{:?} dw {h}x{h}x{c} ld{ldx}/{ldy} s{s} k{k}: {:.1} us, {:.1} GF/s", isa, best * 1e6, 2.0 * macs / best / 1e9);
    }
}
