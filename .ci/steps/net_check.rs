//! The main program of the scratch crates that `.ci/steps/neon.sh` builds for aarch64 (run
//! under `qemu-aarch64`) and `.ci/steps/wasm.sh` for wasm32-wasip1 (run under Node's WASI):
//! networks compiled by `ghostc` run on the tier `GHOSTNET_ISA` forces, and their outputs
//! are compared with ONNX Runtime's.
//!
//! ```text
//! net_check MODULE INPUT.bin ORT.bin CLASSES [LABELS.bin]
//! ```
//! runs every image of `INPUT.bin` (raw f32, NCHW, back to back) through `MODULE::Net` on one
//! thread, and the first [`THREADED_INPUTS`] of them on two threads (`forward_threads`), and
//! checks each run against `ORT.bin`: max |ours - ort| <= 1e-4 * max |ort| and the same top-5
//! classes in every row of `CLASSES` logits (so also the same prediction for every image); the
//! two-thread outputs must also equal the one-thread ones bit for bit (on WebAssembly without
//! threads `forward_threads` runs on one). `LABELS.bin` (one u8 per image) adds the accuracy
//! to the report. A module whose name ends in `_int8` is a quantized network, which computes
//! its requantizations in its own order and so differs from ONNX Runtime's int8 by a rounding
//! here and there: it must give ONNX Runtime's top-1 on at least 99% of the rows and, with
//! labels, an accuracy within 0.5 points of ONNX Runtime's. Exit status: 0 if every check held, 1 if one failed, 2 if the network could
//! not be set up (for example `GHOSTNET_ISA` names a tier this CPU cannot run).
//!
//! The script appends `nets!(module, ...);` with the modules it generated.

/// How many inputs run on two threads. Under emulation the barrier between layers costs far
/// more than a small image's work (all 397 digits once took two minutes on two threads,
/// against 15 s on one), and a few images check the split just as well: their outputs must
/// equal the one-thread outputs bit for bit.
const THREADED_INPUTS: usize = 16;

/// Raw little-endian f32 values.
fn read_f32(path: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| fail_setup(&format!("{path}: {e}")));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn fail_setup(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(2)
}

/// Indices of the `k` largest values, largest first (ties: lower index first).
fn top_k(v: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// Compares one run with ONNX Runtime; prints one line and returns whether it held.
fn check(what: &str, got: &[f32], want: &[f32], classes: usize, labels: Option<&[u8]>, quantized: bool) -> bool {
    if got.len() != want.len() {
        println!("FAIL {what}: {} outputs, ONNX Runtime has {}", got.len(), want.len());
        return false;
    }
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let mut diff = 0f32;
    let mut finite = true;
    for (a, b) in got.iter().zip(want) {
        finite &= a.is_finite();
        diff = diff.max((a - b).abs());
    }
    let tol = 1e-4 * scale;
    let rows = got.len() / classes;
    let k = 5.min(classes);
    let mut top5_same = 0;
    let mut top1_same = 0;
    let mut first_bad = None;
    for (row, (g, w)) in got.chunks(classes).zip(want.chunks(classes)).enumerate() {
        let (tg, tw) = (top_k(g, k), top_k(w, k));
        top1_same += (tg[0] == tw[0]) as usize;
        if tg == tw {
            top5_same += 1;
        } else if first_bad.is_none() {
            first_bad = Some(format!("row {row}: top-{k} {tg:?}, ONNX Runtime {tw:?}"));
        }
    }
    let correct = |v: &[f32], l: &[u8]| v.chunks(classes).zip(l).filter(|(g, y)| top_k(g, 1)[0] == **y as usize).count();
    let (ours, theirs) = labels.map_or((0, 0), |l| (correct(got, l), correct(want, l)));
    let ok = finite
        && if quantized {
            // At least 99% of the rows, and the accuracy within 0.5 points.
            100 * top1_same >= 99 * rows && 200 * ours.abs_diff(theirs) <= rows
        } else {
            diff <= tol && top5_same == rows
        };
    let accuracy = labels.map_or(String::new(), |l| format!(", {ours}/{} correct (ONNX Runtime {theirs})", l.len()));
    let rule = if quantized { "int8: top-1 same in 99% and accuracy within 0.5 points" } else { "limit 1e-4" };
    println!(
        "{} {what}: max |diff| {diff:.3e} = {:.2e} * max |ort| {scale:.3e} ({rule}), top-{k} same in {top5_same}/{rows} rows, \
         top-1 same in {top1_same}/{rows}{accuracy}",
        if ok { "ok  " } else { "FAIL" },
        diff / scale.max(f32::MIN_POSITIVE),
    );
    if !finite {
        println!("     non-finite outputs");
    }
    if let Some(bad) = first_bad {
        println!("     first differing {bad}");
    }
    ok
}

macro_rules! nets {
    ($($m:ident),*) => {
        $(mod $m;)*

        fn main() {
            let a: Vec<String> = std::env::args().collect();
            if a.len() < 5 {
                fail_setup("usage: net_check MODULE INPUT.bin ORT.bin CLASSES [LABELS.bin]");
            }
            let (module, input, ort) = (a[1].as_str(), read_f32(&a[2]), read_f32(&a[3]));
            let classes: usize = a[4].parse().ok().filter(|&c| c > 0).unwrap_or_else(|| fail_setup("CLASSES is not a positive number"));
            let labels = a.get(5).map(|p| std::fs::read(p).unwrap_or_else(|e| fail_setup(&format!("{p}: {e}"))));
            let forced = std::env::var("GHOSTNET_ISA").unwrap_or_else(|_| fail_setup("set GHOSTNET_ISA to the tier to check"));
            let mut ok = true;
            match module {
                $(stringify!($m) => {
                    let mut net = $m::Net::try_new().unwrap_or_else(|e| fail_setup(&e.to_string()));
                    let isa = net.isa().name();
                    if isa != forced.trim() {
                        fail_setup(&format!("GHOSTNET_ISA={forced}, but the network runs on {isa}"));
                    }
                    if input.len() % $m::INPUT_LEN != 0 || input.is_empty() {
                        fail_setup(&format!("{}: {} values are not whole inputs of {}", a[2], input.len(), $m::INPUT_LEN));
                    }
                    let mut y = [0f32; $m::OUTPUT_LEN];
                    let images = input.len() / $m::INPUT_LEN;
                    let mut single = Vec::new();
                    for threads in [1, 2] {
                        let n = if threads == 1 { images } else { images.min(THREADED_INPUTS) };
                        let mut got = Vec::with_capacity(n * $m::OUTPUT_LEN);
                        let start = std::time::Instant::now();
                        for chunk in input.chunks_exact($m::INPUT_LEN).take(n) {
                            let x: &[f32; $m::INPUT_LEN] = chunk.try_into().expect("whole inputs");
                            if threads == 1 { net.forward(x, &mut y) } else { net.forward_threads(x, &mut y, threads) }
                            got.extend_from_slice(&y);
                        }
                        let what = format!("{module} {isa} x{threads} ({n} inputs, {:.1} s)", start.elapsed().as_secs_f64());
                        // One thread: all of ONNX Runtime's outputs; two: those of the first `n` inputs.
                        let (want, rows) = if threads == 1 { (&ort[..], ort.len() / classes) } else { (&ort[..got.len().min(ort.len())], got.len() / classes) };
                        ok &= check(&what, &got, want, classes, labels.as_deref().map(|l| &l[..rows.min(l.len())]), module.ends_with("_int8"));
                        if threads == 1 {
                            single = got;
                        } else if let Some(i) = got.iter().zip(&single).position(|(a, b)| a.to_bits() != b.to_bits()) {
                            println!("FAIL {module} {isa}: two threads differ from one at output {i}: {} vs {}", got[i], single[i]);
                            ok = false;
                        }
                    }
                })*
                other => fail_setup(&format!("no network {other}")),
            }
            std::process::exit(if ok { 0 } else { 1 });
        }
    };
}
