//! The general path against ONNX Runtime: small graphs with every op form no fused kernel
//! runs (`tests/general_ops.py` writes them with onnx.helper and runs ONNX Runtime on
//! them), through the front end, the passes, the interpreter, and the lowered program on
//! every tier with one and two threads.

mod common;

use std::path::{Path, PathBuf};

use ghostnet_compiler::back::rust::lower;
use ghostnet_compiler::front::onnx;
use ghostnet_compiler::{interp, optimize};
use ghostnet_runtime::isa::Isa;

/// The cases `general_ops.py` writes, in a scratch folder (made once per test binary).
fn cases() -> Option<(PathBuf, Vec<String>)> {
    if !common::have_onnxruntime() {
        return None;
    }
    let dir = common::scratch_dir("general_ops_cases");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/general_ops.py");
    let o = std::process::Command::new("python3").arg(script).arg(&dir).output().unwrap();
    assert!(o.status.success(), "general_ops.py failed: {}", String::from_utf8_lossy(&o.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str().and_then(|n| n.strip_suffix(".onnx")).map(str::to_string))
        .collect();
    names.sort();
    assert!(names.len() >= 14, "{names:?}");
    Some((dir, names))
}

#[test]
fn every_case_matches_onnx_runtime_on_every_tier() {
    let Some((dir, names)) = cases() else { return };
    for name in &names {
        let graph = onnx::load(&dir.join(format!("{name}.onnx")), &onnx::Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let input = common::read_f32(&dir.join(format!("{name}.input.bin")));
        let want = common::read_f32(&dir.join(format!("{name}.ort.bin")));
        let shapes: Vec<Vec<usize>> = graph.outputs.iter().map(|&o| graph.shape(o).clone()).collect();
        let got = interp::run(&graph, &[&input]).unwrap().concat();
        common::assert_outputs_close(&format!("{name} interpreter"), &got, &want, &shapes, 1e-5);
        let fused = optimize(graph).unwrap();
        let program = lower::lower(&fused).unwrap_or_else(|e| panic!("{name}: {e}"));
        for isa in Isa::ALL.into_iter().filter(|i| i.supported()) {
            for threads in [1, 2] {
                let got = program.run(isa, &input, threads);
                common::assert_outputs_close(&format!("{name} {} x{threads}", isa.name()), &got, &want, &shapes, 1e-4);
            }
        }
    }
}

/// `ghostc -o` on every case, built in one dependency-free crate (warnings are errors) and
/// run on every tier: the writer's form of each general kernel, several outputs, a whole
/// batch at once.
#[test]
fn generated_code_matches_onnx_runtime() {
    let Some((dir, names)) = cases() else { return };
    // opt-level 0: the same numbers as any other level; each case is a module carrying the
    // kernels, which build about three times faster unoptimized, and the graphs are tiny.
    let krate = common::scratch_crate("general_ops_crate", "\n[profile.release]\nopt-level = 0\n");
    let mut main = String::from(
        "macro_rules! nets {\n    ($($m:ident),*) => {\n        $(mod $m;)*\n        fn main() {\n            let a: Vec<String> = std::env::args().collect();\n            let bytes = std::fs::read(&a[2]).unwrap();\n            let x: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();\n            let threads: usize = a[4].parse().unwrap();\n            let y: Vec<f32> = match a[1].as_str() {\n                $(stringify!($m) => {\n                    let mut net = $m::Net::new();\n                    let mut y = vec![0f32; $m::OUTPUT_LEN];\n                    let y_arr: &mut [f32; $m::OUTPUT_LEN] = (&mut y[..]).try_into().unwrap();\n                    let x_arr: &[f32; $m::INPUT_LEN] = x[..].try_into().unwrap();\n                    if threads > 1 { net.forward_threads(x_arr, y_arr, threads) } else { net.forward(x_arr, y_arr) }\n                    assert_eq!($m::OUTPUTS.iter().map(|o| o.len).sum::<usize>(), $m::OUTPUT_LEN);\n                    y\n                })*\n                other => panic!(\"no network {other}\"),\n            };\n            std::fs::write(&a[3], y.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();\n        }\n    };\n}\n",
    );
    main.push_str(&format!("nets!({});\n", names.join(", ")));
    std::fs::write(krate.join("src/main.rs"), main).unwrap();
    for name in &names {
        let out = krate.join("src").join(format!("{name}.rs"));
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_ghostc")).arg(dir.join(format!("{name}.onnx"))).arg("-o").arg(&out).output().unwrap();
        assert!(o.status.success(), "ghostc {name}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let o = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet"])
        .current_dir(&krate)
        .env("RUSTFLAGS", "-D warnings")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(o.status.success(), "the generated code does not build cleanly:\n{}", String::from_utf8_lossy(&o.stderr));
    let exe = krate.join("target/release/general_ops_crate");
    for name in &names {
        let graph = onnx::load(&dir.join(format!("{name}.onnx")), &onnx::Options::default()).unwrap();
        let shapes: Vec<Vec<usize>> = graph.outputs.iter().map(|&o| graph.shape(o).clone()).collect();
        let want = common::read_f32(&dir.join(format!("{name}.ort.bin")));
        for isa in Isa::ALL.into_iter().filter(|i| i.supported()) {
            for threads in [1, 2] {
                let out = krate.join(format!("{name}.out"));
                let input = dir.join(format!("{name}.input.bin"));
                let o = std::process::Command::new(&exe)
                    .args([name.as_str(), input.to_str().unwrap(), out.to_str().unwrap(), &threads.to_string()])
                    .env("GHOSTNET_ISA", isa.name())
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{name} on {}: {}", isa.name(), String::from_utf8_lossy(&o.stderr));
                common::assert_outputs_close(&format!("{name} generated {} x{threads}", isa.name()), &common::read_f32(&out), &want, &shapes, 1e-4);
            }
        }
    }
}
