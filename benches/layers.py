#!/usr/bin/env python3
"""Per-layer times of a GhostNet compiled by ghostc next to OpenVINO's (f32, one thread
by default), matched by the PyTorch module each layer comes from.

    python3 benches/layers.py [--model M.onnx] [--isa avx512] [--threads 1] [--runs 200] [--rounds 3]

Ours come from `ghostc profile --json` (every kernel call timed); OpenVINO's from
`PERF_COUNT` (`get_profiling_info()`, medians over the runs), each of its executed nodes
attributed through its original ONNX nodes to the module scope the dynamo exporter
records (`pkg.torch.onnx.name_scopes`). The two profilers run alternately, `--rounds`
times each, and the medians over rounds are shown, so that machine noise hits both.
OpenVINO's concatenations and residual adds (which we fuse away) are shown as the layer
they belong to; the total of each column is the sum of its per-layer times (profiling
adds a little to OpenVINO's).

Needs python3 with onnx, numpy, openvino and onnxruntime (compare.py's fixture lookup is
shared), and an ONNX export by `torch.onnx.export(..., dynamo=True)` (the fixtures
`ghostnet_100_dynamo.onnx`, `ghostnetv2_100_dynamo.onnx`).
"""
import argparse
import ast
import collections
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx

from compare import fixtures

ROOT = Path(__file__).resolve().parent.parent
GHOSTC = ROOT / "target" / "release" / "ghostc"


def scopes(model):
    """ONNX node name -> its module scopes, outermost first: the dynamo exporter's
    `name_scopes`, or else the dotted prefixes of the node's name (`ghostc export` names
    nodes `module.path` or `module.path/op`)."""
    m = onnx.load(str(model), load_external_data=False)
    out = {}
    for n in m.graph.node:
        for p in n.metadata_props:
            if p.key == "pkg.torch.onnx.name_scopes":
                out[n.name] = [s for s in ast.literal_eval(p.value) if s]
        if n.name not in out:
            parts = n.name.split("/")[0].split(".")
            out[n.name] = [".".join(parts[: i + 1]) for i in range(len(parts))]
    return out


def ours(model, isa, threads, runs):
    cmd = [str(GHOSTC), "profile", str(model), "--threads", str(threads), "--runs", str(runs), "--json"]
    if isa:
        cmd += ["--isa", isa]
    r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return {l["name"]: l["ms"] * 1e3 for l in r["layers"]}, r


def openvino_layers(model, threads, runs, names, scope_of):
    import openvino as ov

    core = ov.Core()
    cm = core.compile_model(str(model), "CPU", {"PERF_COUNT": True, "INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads})
    origin = {}
    for op in cm.get_runtime_model().get_ordered_ops():
        ri = op.get_rt_info()
        origin[op.get_friendly_name()] = [s for s in ri["originalLayersNames"].astype(str).split(",") if s]
        origin[op.get_friendly_name() + "#type"] = ri["layerType"].astype(str)

    def owner(node):
        best = None
        for o in origin.get(node, []):
            sc = [alias(s, names) for s in scope_of.get(o, [])]
            hits = [s for s in sc if s in names]
            if hits:
                return hits[-1]
            if sc and best is None:
                best = sc[-1] if len(sc) < 2 else sc[-2]
        if best:
            return best
        return f"({origin.get(node + '#type', 'other')})"

    req = cm.create_infer_request()
    x = np.random.default_rng(0).standard_normal(list(cm.input(0).shape)).astype(np.float32)
    acc = collections.defaultdict(list)
    for r in range(runs + 5):
        req.infer({0: x})
        if r < 5:
            continue
        per = collections.defaultdict(float)
        for p in req.get_profiling_info():
            per[owner(p.node_name)] += p.real_time.total_seconds() * 1e6
        for k, v in per.items():
            acc[k].append(v)
    return {k: statistics.median(v) for k, v in acc.items()}


def alias(scope, names):
    """The layer a module's folded BatchNorm (whose name the fused convolution carries)
    belongs to: `bn1` is `conv_stem`, `blocks.9.0.bn1` is `blocks.9.0.conv`, `X.bn_dw`
    is `X.conv_dw`, `X.shortcut.1` and `.3` are `.0` and `.2`."""
    head, _, last = scope.rpartition(".")
    cands = {"bn1": [f"{head}.conv" if head else "conv_stem"], "bn_dw": [f"{head}.conv_dw"], "act1": ["conv_stem"]}.get(last, [])
    if last in ("1", "3") and head.endswith("shortcut"):
        cands.append(f"{head}.{int(last) - 1}")
    return next((c for c in cands if c in names), scope)


def stage(name):
    parts = name.split(".")
    if parts[0] == "blocks" and len(parts) > 1:
        return f"blocks.{parts[1]}"
    return "stem" if name.startswith("conv_stem") or name.startswith("bn1") else "head"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--isa", default="")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    fx = fixtures()
    model = Path(args.model) if args.model else (fx / "ghostnet_100_dynamo.onnx" if fx else None)
    if model is None or not model.is_file():
        sys.exit("layers.py: no model; pass --model M.onnx or provide the fixtures")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ghostnet-compiler", "--bin", "ghostc"], cwd=ROOT, check=True)
    scope_of = scopes(model)
    mine, ov = collections.defaultdict(list), collections.defaultdict(list)
    meta = None
    for _ in range(args.rounds):
        m, meta = ours(model, args.isa, args.threads, args.runs)
        for k, v in m.items():
            mine[k].append(v)
        for k, v in openvino_layers(model, args.threads, args.runs, set(m), scope_of).items():
            ov[k].append(v)
    mine = {k: statistics.median(v) for k, v in mine.items()}
    ov = {k: statistics.median(v) for k, v in ov.items()}
    order = list(mine) + [k for k in ov if k not in mine]
    print(f"model {model.name}, ghostnet {meta['isa']} vs OpenVINO f32, {args.threads} thread(s); microseconds, medians")
    print(f"{'layer':<28} {'ghostnet':>9} {'OpenVINO':>9} {'OV/ours':>8}")
    stages = collections.OrderedDict()
    for k in order:
        a, b = mine.get(k, 0.0), ov.get(k, 0.0)
        s = stages.setdefault(stage(k), [0.0, 0.0])
        s[0] += a
        s[1] += b
        print(f"{k:<28} {a:>9.1f} {b:>9.1f} {b / a if a else float('nan'):>7.2f}x")
    print(f"\n{'stage':<28} {'ghostnet':>9} {'OpenVINO':>9} {'OV/ours':>8}")
    for k, (a, b) in stages.items():
        print(f"{k:<28} {a:>9.1f} {b:>9.1f} {b / a if a else float('nan'):>7.2f}x")
    ta, tb = sum(mine.values()), sum(ov.values())
    print(f"{'total':<28} {ta:>9.1f} {tb:>9.1f} {tb / ta:>7.2f}x")


if __name__ == "__main__":
    main()
