use ghostnet_runtime::conv::{self, Dense, Strided};
use ghostnet_runtime::gemm::View;
use ghostnet_runtime::isa::{Act, Arena, Isa, Part};
use std::time::Instant;

fn main() {
    let (cin, cout, k, s, h) = (3, 16, 3, 2, 224);
    let oh = (h + 2 - k) / s + 1;
    let input = vec![0.5f32; cin * h * h];
    let mut arena = vec![0f32; oh * oh * cout];
    let mut w = vec![0.0; conv::packed_len(k, k, cin, cout)];
    conv::pack(k, k, cin, cout, |_, _, _, _| 0.1, |_| 0.0, &mut w);
    let d = Dense { h, w: h, cin, oh, ow: oh, cout, kh: k, kw: k, sh: s, sw: s, pt: 1, pl: 1,
        x: Strided { off: 0, cs: h * h, rs: h, ps: 1 }, y: View { off: 0, ld: cout }, weights: 0, act: Act::Relu, residual: None };
    for isa in Isa::ALL.into_iter().filter(|i| i.supported() && std::env::var("GHOSTNET_ISA").map_or(true, |o| o == i.name())) {
        let mut best = f64::MAX;
        for _ in 0..100 {
            let t = Instant::now();
            conv::dense(isa, Arena::new(&mut arena), Some(&input), &w, &d, Part::ALL);
            best = best.min(t.elapsed().as_secs_f64());
        }
        let macs = (oh * oh * cout * cin * k * k) as f64;
        println!("{:?} stem: {:.1} us, {:.1} GF/s", isa, best * 1e6, 2.0 * macs / best / 1e9);
    }
}
