#!/usr/bin/env python3
"""Side-by-side latency of GhostNets compiled by ghostc (f32, bf16, int8) and of ONNX Runtime
(f32, and its own int8: quantize_static, QDQ), OpenVINO (f32, and its default precision:
bf16 on CPUs with AVX512_BF16 or AMX) and tract when they are installed, interleaved in one
run so that machine noise hits all of them alike. Prints medians (ms), ratios to ONNX
Runtime and to OpenVINO's default, and how far each build is from ONNX Runtime's f32 outputs.

    python3 benches/compare.py [--model M.onnx | --alpha A [--version 2]] [--precision f32,bf16,int8]
                               [--calibrate CALIB.bin] [--threads 1,2] [--isa avx2,...] [--rounds 7] [--runs 30]

int8 builds (ours and ONNX Runtime's) calibrate on CALIB.bin, by default on 8 random-normal
inputs (seeded).

Without --model or --alpha it uses ghostnet_100_dynamo.onnx from the fixtures
($GHOSTNET_FIXTURES, or shared/fixtures in a folder above the repository). --alpha builds
a DSL GhostNet (seeded weights) and exports it with `ghostc export` so that every engine
runs the same weights. --isa adds single-thread rows for other kernel tiers of our builds.
Needs python3 with onnxruntime and numpy; openvino is used when installed.
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
GHOSTC = ROOT / "target" / "release" / "ghostc"

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


def build_runner(model, precision, calib):
    crate = WORK / f"runner_{precision}"
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text(
        f'[package]\nname = "runner_{precision}"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n\n[workspace]\n\n'
        "[profile.release]\ndebug = false\n"
    )
    (crate / "src" / "main.rs").write_text(RUNNER)
    extra = ["--calibrate", str(calib)] if precision == "int8" else []
    log = subprocess.run([str(GHOSTC), str(model), "--precision", precision, *extra, "-o", str(crate / "src" / "net.rs")], check=True,
                         capture_output=True, text=True).stdout
    if precision == "int8":
        print(next((line for line in log.splitlines() if line.startswith("int8:")), ""), flush=True)
    start = time.perf_counter()
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=crate, check=True, env={**os.environ, "CARGO_TARGET_DIR": str(crate / "target")})
    print(f"built the {precision} runner in {time.perf_counter() - start:.1f} s", flush=True)
    return crate / "target" / "release" / f"runner_{precision}"


def ours(runner, inp, runs, threads, isa=None):
    env = dict(os.environ)
    env.pop("GHOSTNET_ISA", None)
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


def sqnr_db(got, want):
    noise = float(np.sum((got.astype(np.float64) - want) ** 2))
    return 10 * np.log10(float(np.sum(want.astype(np.float64) ** 2)) / max(noise, 1e-300))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--alpha", type=float)
    ap.add_argument("--version", type=int, default=1)
    ap.add_argument("--precision", default="f32,bf16,int8")
    ap.add_argument("--calibrate", help="int8 calibration inputs (raw f32, back to back)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--isa", default="avx2", help="other kernel tiers to time on one thread (comma-separated, '' for none)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ghostnet-compiler", "--bin", "ghostc"], cwd=ROOT, check=True)
    if args.alpha is not None:
        model = WORK / f"ghostnet{'v2' if args.version == 2 else ''}_alpha{args.alpha}.onnx"
        subprocess.run([str(GHOSTC), "export", "--alpha", str(args.alpha), "--version", str(args.version), "-o", str(model)],
                       check=True, stdout=subprocess.DEVNULL)
    else:
        fx = fixtures()
        model = Path(args.model) if args.model else (fx / "ghostnet_100_dynamo.onnx" if fx else None)
    if model is None or not model.is_file():
        sys.exit("compare.py: no model; pass --model M.onnx or --alpha A, or provide the fixtures")
    precisions = [p for p in args.precision.split(",") if p]
    threads = [int(t) for t in args.threads.split(",") if t]
    other_isas = [i for i in args.isa.split(",") if i]
    sess = {}
    for th in threads:
        o = ort.SessionOptions()
        o.intra_op_num_threads = th
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess[th] = ort.InferenceSession(str(model), o, providers=["CPUExecutionProvider"])
    meta = sess[threads[0]].get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in meta.shape]
    stem_input = model.with_suffix("").with_suffix(".input.bin")
    x = np.fromfile(stem_input, dtype="<f4").reshape(shape) if stem_input.is_file() else np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    inp = WORK / "input.bin"
    x.astype("<f4").tofile(inp)
    calib = Path(args.calibrate) if args.calibrate else WORK / "calib.bin"
    if not args.calibrate:
        np.random.default_rng(1).standard_normal([8] + shape, dtype=np.float32).astype("<f4").tofile(calib)
    runners = {p: build_runner(model, p, calib) for p in precisions}

    engines = {}
    for p in precisions:
        for th in threads:
            engines[f"ghostnet {p}, best tier, {th}T"] = (lambda p=p, th=th: ours(runners[p], inp, args.runs, th))
        for isa in other_isas:
            engines[f"ghostnet {p}, {isa}, 1T"] = (lambda p=p, isa=isa: ours(runners[p], inp, args.runs, 1, isa))
    for th in threads:
        engines[f"ONNX Runtime f32, {th}T"] = (lambda th=th: (timed(lambda: sess[th].run(None, {meta.name: x}), args.runs), None))
    if "int8" in precisions:
        sys.path.insert(0, str(ROOT / "compiler" / "tests"))
        from ort_quantize import quantize as ort_quantize

        qdq = WORK / (model.stem + ".qdq.onnx")
        ort_quantize(str(model), str(calib), str(qdq))
        o = ort.SessionOptions()
        o.intra_op_num_threads = threads[0]
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        qsess = ort.InferenceSession(str(qdq), o, providers=["CPUExecutionProvider"])
        engines[f"ONNX Runtime int8 (QDQ), {threads[0]}T"] = (
            lambda: (timed(lambda: qsess.run(None, {meta.name: x}), args.runs), qsess.run(None, {meta.name: x})[0].ravel()))
    try:
        import openvino as ov

        core = ov.Core()
        hint = core.get_property("CPU", "INFERENCE_PRECISION_HINT")
        default_precision = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        for th in threads:
            for hint in ("f32", None):
                config = {"INFERENCE_NUM_THREADS": th, "PERFORMANCE_HINT": "LATENCY"}
                if hint:
                    config["INFERENCE_PRECISION_HINT"] = hint
                req = core.compile_model(str(model), "CPU", config).create_infer_request()
                label = "f32" if hint else f"default ({default_precision})"
                engines[f"OpenVINO {label}, {th}T"] = (lambda req=req: (timed(lambda: req.infer({0: x}), args.runs), None))
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
        engines["tract f32, 1T"] = tract
    else:
        print("tract: skipped (not on PATH)")

    results = {k: [] for k in engines}
    outputs = {}
    for r in range(args.rounds):
        for name, fn in engines.items():
            ms, y = fn()
            results[name].append(ms)
            if y is not None:
                outputs.setdefault(name.split(",")[0], y)
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in results.items()), flush=True)

    want = sess[threads[0]].run(None, {meta.name: x})[0].ravel()
    print(f"\nmodel {model.name}, input {'x'.join(map(str, shape))}")
    for name, y in outputs.items():
        diff = float(np.abs(y - want).max())
        top = "equal" if list(np.argsort(-y)[:5]) == list(np.argsort(-want)[:5]) else "DIFFERENT"
        print(f"{name} vs ONNX Runtime f32: max |diff| {diff / np.abs(want).max():.2e} of max |ort|, SQNR {sqnr_db(y, want):.1f} dB, top-5 {top}")
    base = statistics.median(results[f"ONNX Runtime f32, {threads[0]}T"])
    ov_key = next((k for k in results if k.startswith("OpenVINO default") and k.endswith(f", {threads[0]}T")), None)
    ov = statistics.median(results[ov_key]) if ov_key else None
    print(f"\n{'engine':<40} {'median ms':>10} {'vs ORT ' + str(threads[0]) + 'T':>10} {'vs OV default':>14}")
    for name, v in results.items():
        m = statistics.median(v)
        vs_ov = f"{ov / m:>13.2f}x" if ov else f"{'-':>14}"
        print(f"{name:<40} {m:>10.3f} {base / m:>9.2f}x {vs_ov}")


if __name__ == "__main__":
    main()
