//! Runs the example on every kernel tier of this CPU: the macro-compiled digits GhostNet
//! classifies all 397 test images correctly, and its logits match ONNX Runtime's
//! (`compiler/models/digits_ghostnet.ort.bin`) to 1e-4 of their largest magnitude, with the
//! same top-5 and the same prediction for every image.

use std::path::PathBuf;
use std::process::Command;

fn read_f32(path: &std::path::Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

fn top_k(v: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

#[test]
fn example_classifies_the_digits_like_onnx_runtime() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let want = read_f32(&root.join("compiler/models/digits_ghostnet.ort.bin"));
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let mut ran = 0;
    for isa in ["scalar", "avx2", "avx512", "neon"] {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("example-logits-{isa}.bin"));
        let o = Command::new(env!("CARGO_BIN_EXE_ghostnet-macros-example")).arg("--logits").arg(&out).env("GHOSTNET_ISA", isa).output().unwrap();
        if o.status.code() == Some(2) {
            eprintln!("{isa}: not supported here ({})", String::from_utf8_lossy(&o.stderr).trim());
            continue;
        }
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{isa}: {}{}", stdout, String::from_utf8_lossy(&o.stderr));
        eprint!("{isa}: {stdout}");
        assert!(stdout.contains("397/397 correct"), "{isa}: {stdout}");
        let got = read_f32(&out);
        assert_eq!(got.len(), want.len());
        let diff = got.iter().zip(&want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(diff <= 1e-4 * scale, "{isa}: max |diff| {diff:e} > 1e-4 * {scale:e}");
        for (i, (g, w)) in got.chunks(10).zip(want.chunks(10)).enumerate() {
            assert_eq!(top_k(g, 5), top_k(w, 5), "{isa}: top-5 of image {i}");
        }
        ran += 1;
    }
    assert!(ran >= 1, "no kernel tier ran");
}
