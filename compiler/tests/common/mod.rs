//! Helpers shared by the integration tests: fixtures, raw f32 files, comparisons.
#![allow(dead_code)]

use std::path::PathBuf;

/// The fixtures directory: `$GHOSTNET_FIXTURES`, else `shared/fixtures` in the nearest
/// folder above the workspace that has one. When it is missing the test is skipped with a
/// notice, except under `CI`, where it fails.
pub fn fixtures() -> Option<PathBuf> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let found = match std::env::var_os("GHOSTNET_FIXTURES") {
        Some(d) => Some(PathBuf::from(d)),
        None => workspace.ancestors().skip(1).map(|a| a.join("shared/fixtures")).find(|d| d.is_dir()),
    };
    let dir = found.unwrap_or_else(|| workspace.join("../shared/fixtures"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!("fixtures missing at {} (CI is set, so this is a failure)", dir.display());
    }
    eprintln!("notice: {} is missing; skipping this fixture test", dir.display());
    None
}

/// Raw little-endian f32 values.
pub fn read_f32(path: &std::path::Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

/// Indices of the `k` largest values, largest first.
pub fn top_k(v: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// Asserts `max |got - want| <= rel * max |want|` and equal top-5 per row of `classes`.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32, classes: usize) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = got.iter().zip(want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff <= rel * scale,
        "{what}: max |diff| {diff:e} > {rel:e} * max |ref| {scale:e}"
    );
    for (row, (g, w)) in got.chunks(classes).zip(want.chunks(classes)).enumerate() {
        let k = 5.min(classes);
        assert_eq!(top_k(g, k), top_k(w, k), "{what}: top-{k} of row {row}");
    }
    eprintln!("{what}: max |diff| {diff:.3e} = {:.3e} of max |ref| {scale:.3e}", diff / scale.max(f32::MIN_POSITIVE));
}

/// A fresh scratch directory under the target directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh crate `name` in a scratch directory: `src/` and a manifest with an empty
/// `[dependencies]`, outside any workspace, followed by `extra` (e.g. a profile section).
pub fn scratch_crate(name: &str, extra: &str) -> PathBuf {
    let dir = scratch_dir(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let manifest = format!("[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n\n[workspace]\n{extra}");
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    dir
}

/// Whether Python with onnxruntime is available. Without it the test is skipped with a
/// notice, except under `CI`, where it fails.
pub fn have_onnxruntime() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import onnxruntime, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("python3 with onnxruntime and numpy is required under CI (.ci/run installs it)");
        }
        eprintln!("notice: python3 with onnxruntime is missing; skipping this ONNX Runtime comparison");
    }
    ok
}

/// Whether Python with Pillow is available. Without it the test is skipped with a notice,
/// except under `CI`, where it fails.
pub fn have_pillow() -> bool {
    let ok = std::process::Command::new("python3").args(["-c", "import PIL"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("python3 with Pillow is required under CI (.ci/run installs it)");
        }
        eprintln!("notice: python3 with Pillow is missing; skipping this comparison with Pillow");
    }
    ok
}

/// Runs `model` under ONNX Runtime on `input`, returning every output, flattened, back to
/// back in the graph's order; the files it passes go beside the model.
pub fn onnxruntime(model: &std::path::Path, input: &[f32]) -> Vec<f32> {
    onnxruntime_in(model.parent().unwrap(), model, input)
}

/// Runs `model` under ONNX Runtime on `input` (one input or several back to back), returning
/// every output of each, flattened, back to back; the files it passes go into `dir`.
pub fn onnxruntime_in(dir: &std::path::Path, model: &std::path::Path, input: &[f32]) -> Vec<f32> {
    let (inp, out) = (dir.join("ort_in.bin"), dir.join("ort_out.bin"));
    std::fs::write(&inp, input.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ort_run.py");
    let o = std::process::Command::new("python3").arg(script).arg(model).arg(&inp).arg(&out).output().unwrap();
    assert!(o.status.success(), "onnxruntime failed: {}", String::from_utf8_lossy(&o.stderr));
    read_f32(&out)
}

/// Deterministic pseudo-random input values in [-1, 1).
pub fn test_input(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Random small stage tables: kernels 3 and 5, expansions, SE on and off, strides, widths
/// and inputs down to 32x32.
pub fn random_spec(seed: u64) -> ghostnet_compiler::front::dsl::Spec {
    let mut r = ghostnet_compiler::front::dsl::weights::SplitMix64::new(seed);
    let mut pick = |n: u64| (r.next_u64() % n) as usize;
    let stages = (0..1 + pick(4))
        .map(|_| {
            (0..1 + pick(2))
                .map(|_| {
                    let out = 4 * (1 + pick(12));
                    ghostnet_compiler::front::dsl::Block::new([3, 5][pick(2)], out * (1 + pick(4)) / 2 + 4, out, [0.0, 0.25][pick(2)], 1 + pick(2))
                })
                .collect()
        })
        .collect();
    let size = 32 + 8 * pick(6);
    ghostnet_compiler::front::dsl::Spec {
        stages,
        width: [0.5, 0.75, 1.0, 1.3, 2.0][pick(5)],
        input: [1, 1 + pick(3), size, size + 8 * pick(2)],
        num_classes: 2 + pick(20),
        ..ghostnet_compiler::front::dsl::Spec::default()
    }
}


/// Deterministic pseudo-random standard-normal values (Box-Muller over [`test_input`]).
pub fn normal_input(len: usize, seed: u64) -> Vec<f32> {
    let u = test_input(2 * len, seed);
    (0..len)
        .map(|i| {
            let (a, b) = ((u[2 * i] + 1.0) / 2.0, (u[2 * i + 1] + 1.0) / 2.0);
            let r = (-2.0 * (a.max(1e-7) as f64).ln()).sqrt();
            (r * (2.0 * std::f64::consts::PI * b as f64).cos()) as f32
        })
        .collect()
}

/// Signal-to-quantization-noise ratio of `got` against `want`, in dB.
pub fn sqnr_db(got: &[f32], want: &[f32]) -> f64 {
    let signal: f64 = want.iter().map(|&w| (w as f64).powi(2)).sum();
    let noise: f64 = got.iter().zip(want).map(|(&g, &w)| (g as f64 - w as f64).powi(2)).sum();
    10.0 * (signal / noise.max(f64::MIN_POSITIVE)).log10()
}

/// Asserts, for each output (flattened back to back in `got` and `want`, of `shapes`),
/// `max |got - want| <= rel * max |want|`.
pub fn assert_outputs_close(what: &str, got: &[f32], want: &[f32], shapes: &[Vec<usize>], rel: f32) {
    let total: usize = shapes.iter().map(|s| s.iter().product::<usize>()).sum();
    assert_eq!((got.len(), want.len()), (total, total), "{what}: lengths");
    let mut at = 0;
    for (k, s) in shapes.iter().enumerate() {
        let n: usize = s.iter().product();
        let (g, w) = (&got[at..at + n], &want[at..at + n]);
        let scale = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = g.iter().zip(w).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(diff <= rel * scale, "{what}: output {k} {s:?}: max |diff| {diff:e} > {rel:e} * max |ref| {scale:e}");
        eprintln!("{what}: output {k}: max |diff| {diff:.3e} = {:.3e} of max |ref| {scale:.3e}", diff / scale.max(f32::MIN_POSITIVE));
        at += n;
    }
}
