//! Every error of `ghostnet!` as a UI test: `tests/ui/<case>.rs` and the compiler output
//! it must give, `tests/ui/<case>.stderr` (`TRYBUILD=overwrite` rewrites them).
//!
//! trybuild builds the cases in `<target>/tests/trybuild/ghostnet-macros`, the
//! `CARGO_MANIFEST_DIR` that paths in the cases are relative to; the files that some cases
//! read are written there first.

use std::path::PathBuf;

/// Files the cases read: `ui-files/*` beside trybuild's manifest.
fn write_case_files() {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("..");
    let dir = target.join("tests/trybuild/ghostnet-macros/ui-files");
    std::fs::create_dir_all(dir.join("folder.onnx")).unwrap();
    std::fs::write(dir.join("not-onnx.onnx"), b"this is not a protobuf message \xff\xff\xff").unwrap();
    std::fs::write(dir.join("not-safetensors.safetensors"), b"\x40\x00\x00\x00\x00\x00\x00\x00{\"not\": json").unwrap();
    // A valid safetensors file with one tensor that no GhostNet has.
    let header = br#"{"other.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut tiny = (header.len() as u64).to_le_bytes().to_vec();
    tiny.extend_from_slice(header);
    tiny.extend_from_slice(&1f32.to_le_bytes());
    std::fs::write(dir.join("tiny.safetensors"), tiny).unwrap();
}

#[test]
fn ui() {
    write_case_files();
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
