#!/usr/bin/env python3
"""Side-by-side latency of a GhostNet compiled by ghostc and of ONNX Runtime (and OpenVINO
and tract when they are installed), interleaved in one run so that machine noise hits all
of them alike. Prints medians (ms) and ratios to ONNX Runtime single-threaded.

    python3 benches/compare.py [--model M.onnx] [--rounds 7] [--runs 30]

Without --model it uses ghostnet_100_dynamo.onnx from the fixtures ($GHOSTNET_FIXTURES, or
shared/fixtures in a folder above the repository). Needs python3 with onnxruntime and numpy.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "compare"

RUNNER = r"""
mod net;
use std::time::Instant;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (runs, threads) = (a[2].parse::<usize>().unwrap(), a[3].parse::<usize>().unwrap());
    let bytes = std::fs::read(&a[1]).unwrap();
    let x: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    let input: &[f32; net::INPUT_LEN] = x[..net::INPUT_LEN].try_into().unwrap();
    let mut net = net::Net::new();
    let mut y = [0f32; net::OUTPUT_LEN];
    let go = |net: &mut net::Net, y: &mut [f32; net::OUTPUT_LEN]| {
        if threads > 1 { net.forward_threads(input, y, threads) } else { net.forward(input, y) }
    };
    for _ in 0..5 { go(&mut net, &mut y); }
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let s = Instant::now();
        go(&mut net, &mut y);
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    let out: Vec<String> = y.iter().map(|v| v.to_string()).collect();
    println!("{{\"isa\": \"{:?}\", \"times\": {:?}, \"output\": [{}]}}", net.isa(), t, out.join(","));
}
"""


def fixtures():
    env = os.environ.get("GHOSTNET_FIXTURES")
    if env:
        return Path(env)
    for d in ROOT.parents:
        if (d / "shared" / "fixtures").is_dir():
            return d / "shared" / "fixtures"
    return None


def build_runner(model):
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ghostnet-compiler", "--bin", "ghostc"], cwd=ROOT, check=True)
    crate = WORK / "runner"
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "runner"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n\n[workspace]\n\n'
        "[profile.release]\ndebug = false\n"
    )
    (crate / "src" / "main.rs").write_text(RUNNER)
    subprocess.run([str(ROOT / "target" / "release" / "ghostc"), str(model), "-o", str(crate / "src" / "net.rs")], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=crate, check=True, env={**os.environ, "CARGO_TARGET_DIR": str(crate / "target")})
    return crate / "target" / "release" / "runner"


def ours(runner, inp, runs, threads, isa=None):
    env = dict(os.environ)
    if isa:
        env["GHOSTNET_ISA"] = isa
    out = subprocess.run([str(runner), str(inp), str(runs), str(threads)], env=env, check=True, capture_output=True, text=True)
    r = json.loads(out.stdout)
    return statistics.median(r["times"]), np.array(r["output"], dtype=np.float32)


def timed(fn, runs):
    for _ in range(5):
        fn()
    t = []
    for _ in range(runs):
        s = time.perf_counter()
        fn()
        t.append((time.perf_counter() - s) * 1e3)
    return statistics.median(t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    fx = fixtures()
    model = Path(args.model) if args.model else (fx / "ghostnet_100_dynamo.onnx" if fx else None)
    if model is None or not model.is_file():
        sys.exit("compare.py: no model; pass --model M.onnx or provide the fixtures")
    WORK.mkdir(parents=True, exist_ok=True)
    runner = build_runner(model)

    sess = {}
    for th in (1, 2):
        o = ort.SessionOptions()
        o.intra_op_num_threads = th
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess[th] = ort.InferenceSession(str(model), o, providers=["CPUExecutionProvider"])
    meta = sess[1].get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in meta.shape]
    stem_input = model.with_suffix("").with_suffix(".input.bin")
    x = np.fromfile(stem_input, dtype="<f4").reshape(shape) if stem_input.is_file() else np.random.default_rng(0).random(shape, dtype=np.float32)
    inp = WORK / "input.bin"
    x.astype("<f4").tofile(inp)

    engines = {
        "ghostnet (best tier), 1 thread": lambda: ours(runner, inp, args.runs, 1),
        "ghostnet (avx2), 1 thread": lambda: ours(runner, inp, args.runs, 1, "avx2"),
        "ghostnet (best tier), 2 threads": lambda: ours(runner, inp, args.runs, 2),
        "ONNX Runtime, 1 thread": lambda: (timed(lambda: sess[1].run(None, {meta.name: x}), args.runs), None),
        "ONNX Runtime, 2 threads": lambda: (timed(lambda: sess[2].run(None, {meta.name: x}), args.runs), None),
    }
    try:
        import openvino as ov

        core = ov.Core()
        for th in (1, 2):
            cm = core.compile_model(str(model), "CPU", {"INFERENCE_NUM_THREADS": th, "PERFORMANCE_HINT": "LATENCY"})
            req = cm.create_infer_request()
            engines[f"OpenVINO, {th} thread{'s' if th > 1 else ''}"] = (lambda req=req: (timed(lambda: req.infer({0: x}), args.runs), None))
    except Exception as e:  # not installed, or it cannot read the model
        print(f"OpenVINO: skipped ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    if shutil.which("tract"):
        dims = ",".join(map(str, shape))
        def tract():
            out = subprocess.run(["tract", str(model), "-i", f"{dims},f32", "-O", "bench"], capture_output=True, text=True)
            for line in out.stdout.splitlines() + out.stderr.splitlines():
                if "ms" in line and "Bench" in line or "real:" in line:
                    try:
                        return float(line.split("ms")[0].split()[-1]), None
                    except ValueError:
                        pass
            return float("nan"), None
        engines["tract, 1 thread"] = tract
    else:
        print("tract: skipped (not on PATH)")

    results = {k: [] for k in engines}
    check = None
    for r in range(args.rounds):
        for name, fn in engines.items():
            ms, y = fn()
            results[name].append(ms)
            if y is not None and check is None:
                check = y
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k.split(',')[0].split(' (')[0]} {statistics.median(v):.2f}" for k, v in results.items()), flush=True)

    want = sess[1].run(None, {meta.name: x})[0].ravel()
    diff = float(np.abs(check - want).max())
    print(f"\nmodel {model.name}; our output vs ONNX Runtime: max |diff| {diff:.2e} = {diff / np.abs(want).max():.2e} of max |ort|, "
          f"top-5 {'equal' if list(np.argsort(-check)[:5]) == list(np.argsort(-want)[:5]) else 'DIFFERENT'}")
    base = statistics.median(results["ONNX Runtime, 1 thread"])
    print(f"\n{'engine':<34} {'median ms':>10} {'vs ORT 1T':>10}")
    for name, v in results.items():
        m = statistics.median(v)
        print(f"{name:<34} {m:>10.3f} {base / m:>9.2f}x")


if __name__ == "__main__":
    main()
