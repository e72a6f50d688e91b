//! Classifies photos with a GhostNet compiled in `build.rs` by `ghostnet-build`:
//! `cargo run --release -p ghostnet-photos -- photo.jpg [more.png ...] [--threads N] [--logits OUT.bin]`.
//!
//! Each photo is decoded (PNG or JPEG) and put through timm's evaluation transform (resize
//! the shorter side to 256 with Pillow's antialiased bicubic, centre crop 224, ImageNet
//! mean and std) by `ghostnet_compiler::preprocess`; the network is the generated module,
//! which depends on nothing. Prints the top-5 ImageNet classes with their softmax
//! probabilities and the time of `forward`.

use std::path::PathBuf;
use std::time::Instant;

use ghostnet_compiler::imagenet;
use ghostnet_compiler::preprocess::{decode, Transform};

mod net {
    include!(concat!(env!("OUT_DIR"), "/net.rs"));
}

struct Args {
    photos: Vec<PathBuf>,
    threads: usize,
    logits: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut a = Args { photos: Vec::new(), threads: 1, logits: None };
    let mut it = std::env::args_os().skip(1);
    while let Some(arg) = it.next() {
        match arg.to_str() {
            Some("--threads") => {
                let n = it.next().and_then(|v| v.to_str().and_then(|v| v.parse().ok())).filter(|&n: &usize| n > 0);
                a.threads = n.ok_or("--threads needs a number of threads, at least 1")?;
            }
            Some("--logits") => a.logits = Some(it.next().ok_or("--logits needs a file to write the logits to")?.into()),
            Some("-h" | "--help") => return Err(String::new()),
            Some(flag) if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => a.photos.push(arg.into()),
        }
    }
    if a.photos.is_empty() {
        return Err("give one or more photos (PNG or JPEG)".into());
    }
    Ok(a)
}

fn main() {
    if let Err(e) = run() {
        if !e.is_empty() {
            eprintln!("error: {e}");
        }
        eprintln!("usage: ghostnet-photos PHOTO... [--threads N] [--logits OUT.bin]");
        std::process::exit(if e.is_empty() { 0 } else { 2 });
    }
}

fn run() -> Result<(), String> {
    let a = args()?;
    let transform = Transform::timm_eval(&net::INPUT_SHAPE).map_err(|e| e.to_string())?;
    let inputs = decode::load_inputs(&a.photos, &transform, decode::DEFAULT_MAX_PIXELS).map_err(|e| e.to_string())?;
    let mut model = net::Net::try_new().map_err(|e| e.to_string())?;
    println!("model: {}", env!("GHOSTNET_PHOTOS_NET"));
    println!("kernels: {:?}, {} thread(s)", model.isa(), a.threads);
    let mut logits = [0f32; net::OUTPUT_LEN];
    let mut all = Vec::new();
    for (photo, image) in a.photos.iter().zip(&inputs) {
        let input: &[f32; net::INPUT_LEN] = image.as_slice().try_into().map_err(|_| "the transform's size differs from the network's input")?;
        // The first call starts the threads; time the second.
        model.forward_threads(input, &mut logits, a.threads);
        let start = Instant::now();
        model.forward_threads(input, &mut logits, a.threads);
        let ms = start.elapsed().as_secs_f64() * 1e3;
        all.extend_from_slice(&logits);
        let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f32 = logits.iter().map(|&v| (v - max).exp()).sum();
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&p, &q| logits[q].total_cmp(&logits[p]).then(p.cmp(&q)));
        println!("{} ({ms:.2} ms):", photo.display());
        for &k in order.iter().take(5) {
            let name = imagenet::class_name(k).filter(|_| logits.len() == imagenet::CLASSES).unwrap_or("");
            println!("  {:>6.2}%  {k:>4} {name}", 100.0 * (logits[k] - max).exp() / sum);
        }
    }
    if let Some(path) = a.logits {
        let bytes: Vec<u8> = all.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write '{}': {e}", path.display()))?;
    }
    Ok(())
}
