//! Photos in: decoding and timm's evaluation transform against timm's own tensors (the
//! `*.timm224.bin` beside each photo in the fixtures), and a clear error for every kind of
//! bad image.

mod common;

use ghostnet_compiler::preprocess::{decode, Interpolation, Transform};

/// Mean and 99th percentile of |a - b|.
fn stats(a: &[f32], b: &[f32]) -> (f32, f32) {
    let mut d: Vec<f32> = a.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
    d.sort_by(f32::total_cmp);
    let mean = d.iter().map(|&x| f64::from(x)).sum::<f64>() / d.len() as f64;
    (mean as f32, d[(d.len() * 99) / 100])
}

#[test]
fn photos_match_timms_tensors() {
    let Some(dir) = common::fixtures() else { return };
    let t = Transform::timm_eval(&[1, 3, 224, 224]).unwrap();
    let naive = Transform { interpolation: Interpolation::Bilinear, ..t.clone() };
    let mut seen = 0;
    for name in ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg"] {
        let path = dir.join("images").join(name);
        let want = common::read_f32(&path.with_extension("timm224.bin"));
        let img = decode::load(&path, decode::DEFAULT_MAX_PIXELS).unwrap();
        let got = t.apply(&img);
        assert_eq!(got.len(), want.len(), "{name}");
        let (mean, p99) = stats(&got, &want);
        let max = got.iter().zip(&want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        let (bilinear_mean, _) = stats(&naive.apply(&img), &want);
        eprintln!("{name} ({}x{}x{}): mean |diff| {mean:.2e}, p99 {p99:.2e}, max {max:.2e}; antialiased bilinear: mean {bilinear_mean:.2e}", img.width, img.height, img.channels);
        assert!(mean <= 0.01 && p99 <= 0.04, "{name}: mean {mean}, p99 {p99}");
        seen += 1;
    }
    assert_eq!(seen, 5);
}
