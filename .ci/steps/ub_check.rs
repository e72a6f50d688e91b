//! The main program of the scratch crate that `.ci/steps/miri.sh` and `.ci/steps/asan.sh`
//! build: a network compiled by `ghostc` (module `net`) run under Miri or AddressSanitizer.
//!
//! It runs the first image of `input.bin` (raw f32 NCHW, embedded with `include_bytes!` so
//! that Miri needs no file access; when empty, a fixed pseudo-random image) on the tier
//! `GHOSTNET_ISA` picks, once with `forward` and once with `forward_threads` on each thread
//! count given as arguments (default: 2), and checks the outputs: all finite, `forward`
//! against `want.bin` when it is not empty (ONNX Runtime's logits for that image: max |ours -
//! ort| <= 1e-4 * max |ort| and the same top-5), every threaded run bit for bit against
//! `forward`. Exit status 0 when all held, 1 otherwise.

mod net;

static INPUT: &[u8] = include_bytes!("input.bin");
static WANT: &[u8] = include_bytes!("want.bin");

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn top5(v: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx.truncate(5);
    idx
}

fn main() {
    let threads: Vec<usize> = {
        let a: Vec<usize> = std::env::args().skip(1).map(|s| s.parse().expect("thread counts")).collect();
        if a.is_empty() { vec![2] } else { a }
    };
    let x = if INPUT.is_empty() {
        (0..net::INPUT_LEN).map(|i| ((i * 7919) % 255) as f32 / 128.0 - 1.0).collect()
    } else {
        f32s(INPUT)
    };
    let want = f32s(WANT);
    let input: &[f32; net::INPUT_LEN] = x[..net::INPUT_LEN].try_into().expect("input.bin holds one image");
    let mut n = net::Net::new();
    println!("tier: {:?}", n.isa());
    let mut y = [0f32; net::OUTPUT_LEN];
    n.forward(input, &mut y);
    let mut ok = y.iter().all(|v| v.is_finite());
    if want.is_empty() {
        println!("forward: top-5 {:?}, all finite: {ok}", top5(&y));
    } else {
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = y.iter().zip(&want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        ok &= y.len() == want.len() && diff <= 1e-4 * scale && top5(&y) == top5(&want);
        println!("forward: max |diff| {diff:.3e} of max |ort| {scale:.3e}, top-5 {:?} (ort {:?})", top5(&y), top5(&want));
    }
    for t in threads {
        let mut z = [0f32; net::OUTPUT_LEN];
        n.forward_threads(input, &mut z, t);
        let same = z.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits());
        println!("forward_threads({t}): {}", if same { "bit-identical to forward" } else { "DIFFERS from forward" });
        ok &= same;
    }
    if !ok {
        println!("FAIL");
        std::process::exit(1);
    }
    println!("ok");
}
