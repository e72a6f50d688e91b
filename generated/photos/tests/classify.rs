//! The photos example end to end: with the fixture model compiled in (its build script finds
//! the fixtures as the tests do), the logits of the fixture photos are ONNX Runtime's on
//! timm's tensors; bad photos are clear errors.

#[path = "../../../compiler/tests/common/mod.rs"]
mod common;

use std::process::Command;

fn photos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ghostnet-photos"))
}

#[test]
fn fixture_photos_get_onnx_runtimes_classes() {
    let Some(fx) = common::fixtures() else { return };
    let names = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg"];
    let dir = common::scratch_dir("photos_classify");
    let out = dir.join("logits.bin");
    let o = photos().args(names.iter().map(|n| fx.join("images").join(n))).arg("--logits").arg(&out).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("ghostnet_100_dynamo.onnx") && stdout.contains("SEEDED RANDOM weights"), "the example must say its model is untrained:\n{stdout}");
    let logits = common::read_f32(&out);
    assert_eq!(logits.len(), names.len() * 1000);
    for (name, got) in names.iter().zip(logits.chunks(1000)) {
        let stem = name.split('.').next().unwrap();
        let want = common::read_f32(&fx.join("images").join(format!("{stem}.ghostnet_100_dynamo.ort.bin")));
        if name.ends_with(".png") {
            // timm's tensor bit for bit, so ONNX Runtime's logits.
            common::assert_close(name, got, &want, 1e-4, 1000);
        } else {
            assert_eq!(common::top_k(got, 1), common::top_k(&want, 1), "{name}");
        }
        let first = common::top_k(&want, 1)[0];
        let label = ghostnet_compiler::imagenet::class_name(first).unwrap();
        assert!(stdout.contains(&format!("{first:>4} {label}")), "{name}: ONNX Runtime's first class {first} {label} is not printed:\n{stdout}");
    }
}

#[test]
fn bad_photos_and_arguments_are_clear_errors() {
    let dir = common::scratch_dir("photos_bad");
    let text = dir.join("notes.jpg");
    std::fs::write(&text, "plain text").unwrap();
    let o = photos().arg(&text).arg(dir.join("missing.png")).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("2 of the images cannot be used") && stderr.contains("notes.jpg' is not a PNG or JPEG image") && stderr.contains("missing.png"), "{stderr}");
    let o = photos().output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("give one or more photos"));
    let o = photos().args(["--threads", "0", "x.png"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("--threads needs a number of threads, at least 1"));
}
