//! Compiles the GhostNet the photos are classified with into `OUT_DIR/net.rs`:
//! - `GHOSTNET_PHOTOS_MODEL=/abs/path/to/model.onnx`, your export of a trained timm
//!   GhostNet (any input size; 1000 ImageNet classes for the names to mean anything);
//! - else the test fixture `ghostnet_100_dynamo.onnx` (timm's `ghostnet_100` with seeded
//!   random weights) when `shared/fixtures` is found above the workspace (or
//!   `GHOSTNET_FIXTURES` names it);
//! - else GhostNet 1.0x from the DSL with seeded random weights.
//!
//! The last two are untrained: their "classes" say nothing about the photos. The binary
//! says which model it runs.

use std::path::PathBuf;

fn fixture() -> Option<PathBuf> {
    let file = "ghostnet_100_dynamo.onnx";
    if let Some(dir) = std::env::var_os("GHOSTNET_FIXTURES") {
        return Some(PathBuf::from(dir).join(file)).filter(|p| p.is_file());
    }
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    manifest.ancestors().map(|a| a.join("shared/fixtures").join(file)).find(|p| p.is_file())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-env-changed=GHOSTNET_PHOTOS_MODEL");
    println!("cargo:rerun-if-env-changed=GHOSTNET_FIXTURES");
    let mut config = ghostnet_build::Config::new();
    let model = match std::env::var_os("GHOSTNET_PHOTOS_MODEL").filter(|m| !m.is_empty()) {
        Some(path) => {
            config.onnx(&path);
            format!("{} (from GHOSTNET_PHOTOS_MODEL)", PathBuf::from(path).display())
        }
        None => match fixture() {
            Some(path) => {
                config.onnx(&path);
                "the test fixture ghostnet_100_dynamo.onnx: timm's ghostnet_100 with SEEDED RANDOM weights, not trained (its classes mean nothing; set GHOSTNET_PHOTOS_MODEL to a trained export)".to_string()
            }
            None => {
                config.alpha(1.0);
                "GhostNet 1.0x from the DSL with SEEDED RANDOM weights, not trained (its classes mean nothing; set GHOSTNET_PHOTOS_MODEL to a trained export)".to_string()
            }
        },
    };
    config.module("net").compile()?;
    println!("cargo:rustc-env=GHOSTNET_PHOTOS_NET={model}");
    Ok(())
}
