//! Helpers of the macro's end-to-end tests: fixtures, scratch crates that use the macro,
//! raw f32 files and comparisons.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fixtures directory: `$GHOSTNET_FIXTURES`, else `shared/fixtures` in the nearest
/// folder above the workspace that has one. When it is missing the test is skipped with a
/// notice, except under `CI`, where it fails.
pub fn fixtures() -> Option<PathBuf> {
    let found = match std::env::var_os("GHOSTNET_FIXTURES") {
        Some(d) => Some(PathBuf::from(d)),
        None => workspace().ancestors().skip(1).map(|a| a.join("shared/fixtures")).find(|d| d.is_dir()),
    };
    let dir = found.unwrap_or_else(|| workspace().join("../shared/fixtures"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!("fixtures missing at {} (CI is set, so this is a failure)", dir.display());
    }
    eprintln!("notice: {} is missing; skipping the fixture networks", dir.display());
    None
}

/// Raw little-endian f32 values.
pub fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

pub fn write_f32(path: &Path, v: &[f32]) {
    std::fs::write(path, v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
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
    assert!(diff <= rel * scale, "{what}: max |diff| {diff:e} > {rel:e} * max |ref| {scale:e}");
    for (row, (g, w)) in got.chunks(classes).zip(want.chunks(classes)).enumerate() {
        let k = 5.min(classes);
        assert_eq!(top_k(g, k), top_k(w, k), "{what}: top-{k} of row {row}");
    }
    eprintln!("{what}: max |diff| {diff:.3e} = {:.3e} of max |ref| {scale:.3e}", diff / scale.max(f32::MIN_POSITIVE));
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

/// A binary crate outside the workspace whose only dependency is `ghostnet-macros` (by
/// path), as a user's crate would be. All scratch crates share one target directory, so
/// the macro and its compiler are built once.
pub struct ScratchCrate {
    pub dir: PathBuf,
    pub name: String,
}

/// A path for a scratch file of the tests (its folder exists).
pub fn scratch_file(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("macro-files");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

impl ScratchCrate {
    /// A fresh, empty crate `name` (no `src/main.rs` yet).
    pub fn new(name: &str) -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("macro-crates").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let macros = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // opt-level 0: the same numbers as level 3 (no fast-math in Rust, FMAs are explicit
        // intrinsics), and a network module with its kernels builds about six times faster
        // than at level 1; what these crates run takes seconds even unoptimized.
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nghostnet-macros = {{ path = {:?} }}\n\n[workspace]\n\n\
             [profile.release]\nopt-level = 0\n",
            macros.display().to_string()
        );
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        // The workspace's lock file: the same dependency versions, no registry look-up.
        std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        ScratchCrate { dir, name: name.to_string() }
    }

    pub fn write_main(&self, main_rs: &str) {
        self.write("src/main.rs", main_rs);
    }

    /// Writes `text` to `path`, relative to the crate.
    pub fn write(&self, path: &str, text: &str) {
        std::fs::write(self.dir.join(path), text).unwrap();
    }

    fn target_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("macro-crates-target")
    }

    /// `cargo build --release`; panics with the compiler output on failure. Returns cargo's
    /// output (it names the crates it compiled).
    pub fn build(&self) -> String {
        let (ok, stderr) = self.try_build();
        assert!(ok, "crate {} does not build:\n{stderr}", self.name);
        stderr
    }

    /// `cargo build --release`: whether it succeeded, and cargo's output.
    pub fn try_build(&self) -> (bool, String) {
        let o = Command::new(env!("CARGO"))
            .args(["build", "--release"])
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", Self::target_dir())
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
    }

    pub fn binary(&self) -> PathBuf {
        Self::target_dir().join("release").join(&self.name)
    }
}
