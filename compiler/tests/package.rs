//! What each published crate packages: sources, README and manifest, well under 1 MB; no
//! models, fixtures, golden files or test corpora. (`.ci/steps/package.sh` builds the
//! packages themselves.)

use std::path::PathBuf;
use std::process::Command;

#[test]
fn packages_hold_sources_only_and_stay_small() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for (package, dir) in [("ghostnet-runtime", "runtime"), ("ghostnet-compiler", "compiler"), ("ghostnet-macros", "macros"), ("ghostnet-build", "build")] {
        let o = Command::new(env!("CARGO")).args(["package", "--list", "--allow-dirty", "-p", package]).current_dir(&root).output().unwrap();
        assert!(o.status.success(), "cargo package --list -p {package}: {}", String::from_utf8_lossy(&o.stderr));
        let files: Vec<String> = String::from_utf8(o.stdout).unwrap().lines().map(String::from).collect();
        assert!(files.contains(&"src/lib.rs".to_string()) && files.contains(&"README.md".to_string()), "{package}: {files:?}");
        let bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(root.join(dir).join(f)).ok()).map(|m| m.len()).sum();
        for f in &files {
            let data = [".onnx", ".bin", ".safetensors", ".data"].iter().any(|e| f.ends_with(e));
            let place = ["models/", "fixtures", "generated/", "bad-inputs", "fuzz-regressions", "corpus"].iter().any(|p| f.contains(p));
            assert!(!data && !place, "{package} packages {f}");
        }
        eprintln!("{package}: {} files, {:.1} KiB", files.len(), bytes as f64 / 1024.0);
        assert!(bytes < 1 << 20, "{package} packages {bytes} bytes");
    }
}
