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

/// Deterministic pseudo-random bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    common::test_input(len, seed).iter().map(|v| ((v + 1.0) * 127.99) as u8).collect()
}

/// Runs tests/pillow.py on `cases`; returns each case's output bytes.
fn pillow(dir: &std::path::Path, cases: &[serde_json::Value]) -> Vec<Vec<u8>> {
    let manifest = dir.join("cases.json");
    std::fs::write(&manifest, serde_json::to_vec(cases).unwrap()).unwrap();
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pillow.py");
    let o = std::process::Command::new("python3").arg(script).arg(&manifest).output().unwrap();
    assert!(o.status.success(), "pillow.py: {}", String::from_utf8_lossy(&o.stderr));
    cases.iter().map(|c| std::fs::read(c["output"].as_str().unwrap()).unwrap()).collect()
}

#[test]
fn resizing_is_bit_exact_with_pillow() {
    use ghostnet_compiler::preprocess::{resample, Filter, Image};
    if !common::have_pillow() {
        return;
    }
    let dir = common::scratch_dir("pillow_resize");
    // Down and up, by integer and odd factors, one axis only, extreme ratios, gray and RGB.
    let sizes = [(512, 512, 256, 256), (451, 300, 384, 256), (640, 427, 383, 256), (700, 500, 37, 29), (5, 3, 17, 11), (64, 48, 64, 20), (64, 48, 20, 48), (1000, 7, 3, 50), (33, 1, 256, 2), (301, 203, 300, 202)];
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for (i, &(w, h, ow, oh)) in sizes.iter().enumerate() {
        for channels in [1, 3] {
            for filter in [Filter::Bilinear, Filter::Bicubic] {
                let image = Image { width: w, height: h, channels, pixels: noise(w * h * channels, i as u64 + 1) };
                let input = dir.join(format!("in{}.bin", cases.len()));
                std::fs::write(&input, &image.pixels).unwrap();
                let name = if filter == Filter::Bilinear { "bilinear" } else { "bicubic" };
                cases.push(serde_json::json!({
                    "op": "resize", "input": input, "width": w, "height": h, "channels": channels,
                    "out_width": ow, "out_height": oh, "filter": name, "output": dir.join(format!("out{}.bin", cases.len())),
                }));
                ours.push((format!("{w}x{h}x{channels} -> {ow}x{oh} {name}"), resample::resize(&image, ow, oh, filter).pixels));
            }
        }
    }
    for ((what, got), want) in ours.iter().zip(pillow(&dir, &cases)) {
        let differ = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert!(got.len() == want.len() && differ == 0, "{what}: {differ} of {} bytes differ from Pillow", want.len());
    }
    eprintln!("{} resizes bit-exact with Pillow", ours.len());
}

/// The small JPEGs in tests/images, decoded, against Pillow's (libjpeg) pixels: decoders may
/// differ by a few levels (IDCT and chroma upsampling are not specified bit for bit).
#[test]
fn jpeg_decoding_is_close_to_pillows() {
    if !common::have_pillow() {
        return;
    }
    let dir = common::scratch_dir("pillow_decode");
    let images = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/images");
    let names = ["tiny.jpg", "tiny_progressive.jpg", "gray.jpg"];
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for name in names {
        let img = decode::load(&images.join(name), decode::DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!((img.width, img.height, img.channels), (16, 12, if name == "gray.jpg" { 1 } else { 3 }), "{name}");
        cases.push(serde_json::json!({"op": "decode", "input": images.join(name), "channels": img.channels, "output": dir.join(format!("{name}.bin"))}));
        ours.push(img.pixels);
    }
    for ((name, got), want) in names.iter().zip(&ours).zip(pillow(&dir, &cases)) {
        assert_eq!(got.len(), want.len(), "{name}");
        let max = got.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        let mean = got.iter().zip(&want).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>() / got.len() as f64;
        eprintln!("{name}: mean |diff| {mean:.3} levels, max {max} against Pillow");
        assert!(mean <= 1.0 && max <= 8, "{name}: mean {mean}, max {max} levels from Pillow's decoding");
    }
}

fn encode_png(width: u32, height: u32, color: png::ColorType, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = png::Encoder::new(&mut out, width, height);
    e.set_color(color);
    e.set_depth(depth);
    e.write_header().unwrap().write_image_data(data).unwrap();
    out
}

/// A PNG signature and an IHDR chunk of `width x height` (8-bit RGB), nothing after it.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend(width.to_be_bytes());
    b.extend(height.to_be_bytes());
    b.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
    b
}

fn tiny_jpeg(name: &str) -> Vec<u8> {
    std::fs::read(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/images").join(name)).unwrap()
}

/// `jpeg` with its frame header's height and width set.
fn jpeg_with_size(mut jpeg: Vec<u8>, width: u16, height: u16) -> Vec<u8> {
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).expect("a baseline JPEG");
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

fn decode_error(bytes: &[u8], name: &str) -> String {
    let r = std::panic::catch_unwind(|| decode::decode(bytes, name, decode::DEFAULT_MAX_PIXELS));
    let e = r.unwrap_or_else(|_| panic!("decoding {name} panicked")).err().unwrap_or_else(|| panic!("{name} decoded"));
    let e = e.to_string();
    assert!(e.contains(name), "the error does not name the file: {e}");
    e
}

#[test]
fn good_pngs_of_every_colour_type_decode() {
    let rgb: Vec<u8> = noise(5 * 4 * 3, 9);
    let png = encode_png(5, 4, png::ColorType::Rgb, png::BitDepth::Eight, &rgb);
    assert_eq!(decode::decode(&png, "rgb.png", 100).unwrap().pixels, rgb);
    let rgba: Vec<u8> = noise(5 * 4 * 4, 9);
    let img = decode::decode(&encode_png(5, 4, png::ColorType::Rgba, png::BitDepth::Eight, &rgba), "rgba.png", 100).unwrap();
    let dropped: Vec<u8> = rgba.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
    assert_eq!((img.channels, img.pixels), (3, dropped), "alpha is dropped, not composited");
    let ga: Vec<u8> = noise(5 * 4 * 2, 9);
    let img = decode::decode(&encode_png(5, 4, png::ColorType::GrayscaleAlpha, png::BitDepth::Eight, &ga), "ga.png", 100).unwrap();
    assert_eq!((img.channels, img.pixels), (1, ga.iter().step_by(2).copied().collect()));
    // 1-bit grayscale: 0 and 1 become 0 and 255.
    let img = decode::decode(&encode_png(8, 1, png::ColorType::Grayscale, png::BitDepth::One, &[0b1010_0000]), "bits.png", 100).unwrap();
    assert_eq!(img.pixels, vec![255, 0, 255, 0, 0, 0, 0, 0]);
}

#[test]
fn bad_images_are_clear_errors() {
    let e = decode_error(b"hello, not an image", "notes.png");
    assert!(e.contains("'notes.png' is not a PNG or JPEG image (it starts with bytes 68 65 6c 6c 6f 2c 20 6e)"), "{e}");
    let e = decode_error(b"", "empty.jpg");
    assert!(e.contains("the file is empty"), "{e}");

    let good = encode_png(40, 30, png::ColorType::Rgb, png::BitDepth::Eight, &noise(40 * 30 * 3, 2));
    let e = decode_error(&good[..good.len() / 2], "half.png");
    assert!(e.contains("'half.png' is a truncated PNG file"), "{e}");
    let e = decode_error(&good[..20], "stub.png");
    assert!(e.contains("truncated PNG") && e.contains("IHDR"), "{e}");
    let mut corrupt = good.clone();
    let n = corrupt.len();
    corrupt[n / 2..n / 2 + 8].copy_from_slice(b"garbage!");
    let e = decode_error(&corrupt, "corrupt.png");
    assert!(e.contains("'corrupt.png' is not a valid PNG file"), "{e}");

    let jpeg = tiny_jpeg("tiny.jpg");
    let e = decode_error(&jpeg[..jpeg.len() / 2], "half.jpg");
    assert!(e.contains("'half.jpg' is a truncated JPEG file: the data ends early"), "{e}");

    let e = decode_error(&png_header(0, 0), "zero.png");
    assert!(e.contains("'zero.png' is an empty image (0x0 pixels)"), "{e}");
    let e = decode_error(&jpeg_with_size(jpeg.clone(), 0, 12), "zero.jpg");
    assert!(e.contains("'zero.jpg' is an empty image"), "{e}");

    let sixteen = encode_png(4, 4, png::ColorType::Rgb, png::BitDepth::Sixteen, &noise(4 * 4 * 6, 3));
    let e = decode_error(&sixteen, "deep.png");
    assert!(e.contains("'deep.png': 16-bit PNG images are not supported; save the image with 8 bits per channel"), "{e}");

    let e = decode_error(&tiny_jpeg("cmyk.jpg"), "print.jpg");
    assert!(e.contains("'print.jpg': CMYK JPEG images are not supported; convert the image to RGB first"), "{e}");

    // Sizes over the limit are refused from the header, before pixels are allocated.
    let e = decode_error(&png_header(100_000, 100_000), "bomb.png");
    assert!(e.contains("'bomb.png' is 100000x100000 pixels, more than the limit of 89478485 pixels (--max-image-pixels)"), "{e}");
    let e = decode_error(&jpeg_with_size(jpeg, 65_535, 65_535), "bomb.jpg");
    assert!(e.contains("'bomb.jpg' is 65535x65535 pixels, more than the limit"), "{e}");
}

/// Every prefix of a PNG and of a JPEG is an error (or, for a JPEG cut in its last bytes,
/// an image), never a panic.
#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let png = encode_png(9, 7, png::ColorType::Rgb, png::BitDepth::Eight, &noise(9 * 7 * 3, 4));
    for (name, file) in [("cut.png", png), ("cut.jpg", tiny_jpeg("tiny.jpg")), ("cut_progressive.jpg", tiny_jpeg("tiny_progressive.jpg"))] {
        let mut errors = 0;
        for n in 0..file.len() {
            match std::panic::catch_unwind(|| decode::decode(&file[..n], name, decode::DEFAULT_MAX_PIXELS)) {
                Err(_) => panic!("{name} cut to {n} bytes: the decoder panicked"),
                Ok(Err(e)) => {
                    assert!(e.to_string().contains(name), "{e}");
                    errors += 1;
                }
                Ok(Ok(img)) => assert!(n + 16 >= file.len() && img.width == if name.ends_with("png") { 9 } else { 16 }, "{name} cut to {n} of {} bytes decoded", file.len()),
            }
        }
        eprintln!("{name}: {errors} of {} prefixes are errors", file.len());
    }
}
