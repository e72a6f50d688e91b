"""Exports the timm networks the test `exports` compiles, with PyTorch's TorchScript
exporter (`torch.onnx.export(..., dynamo=False, opset_version=17)`), the way a user of
timm does it.

    python3 compiler/tests/exports/export_timm.py OUT_DIR [NAME ...]

writes `OUT_DIR/NAME.onnx` for each network NAME (by default the ones checked in beside
this script). The test compares them with ONNX Runtime, run at test time on a seeded
input (`compiler/tests/ort_run.py`); nothing else is stored.

Networks (timm's own classes, eval mode, seeded random weights; every BatchNorm gets
non-trivial running statistics and affine parameters, so that folding mistakes show):

- `ghostnetv3_050_torchscript`: `timm.create_model("ghostnetv3_050")` in training form
  (not re-parameterized): its `x = 0; x += branch(x)` sums export as an `Add` of a
  constant 0, its attention gate as Shape/Gather/Resize.
- `ghostnet_100_features_torchscript`: `timm.create_model("ghostnet_100",
  features_only=True)`, the five stage outputs as the graph's outputs.
- `ghostnetv2_100_features_torchscript` (not checked in): the same for GhostNetV2.

Made with torch 2.15.0 and timm 1.0.31 (the same files come out of every run: the seeds
fix the weights). Installing torch, timm and onnx into a clean venv took 9 min 45 s on
the 2-core build machine, so the exports are checked in rather than made in CI.
"""
import sys
from pathlib import Path

import numpy as np
import timm
import torch

NETWORKS = {
    # name: (timm model, create_model keyword arguments, seed)
    "ghostnetv3_050_torchscript": ("ghostnetv3_050", {}, 1234),
    "ghostnet_100_features_torchscript": ("ghostnet_100", {"features_only": True}, 4321),
    "ghostnetv2_100_features_torchscript": ("ghostnetv2_100", {"features_only": True}, 77),
}
CHECKED_IN = ["ghostnetv3_050_torchscript", "ghostnet_100_features_torchscript"]
OPSET = 17
INPUT = (1, 3, 224, 224)


def randomize_batchnorms(model, generator):
    """BatchNorm statistics and affine parameters away from their (0, 1) defaults."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=generator) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(c, generator=generator) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(c, generator=generator) * 0.1)


def export(name, out_dir):
    arch, kwargs, seed = NETWORKS[name]
    torch.manual_seed(seed)
    model = timm.create_model(arch, pretrained=False, **kwargs)
    randomize_batchnorms(model, torch.Generator().manual_seed(seed + 1))
    model.eval()
    x = torch.randn(*INPUT, generator=torch.Generator().manual_seed(seed + 2))
    with torch.no_grad():
        y = model(x)
    outputs = [f"features.{i}" for i in range(len(y))] if isinstance(y, (list, tuple)) else ["logits"]
    path = out_dir / f"{name}.onnx"
    torch.onnx.export(
        model, (x,), str(path), dynamo=False, opset_version=OPSET,
        input_names=["input"], output_names=outputs, do_constant_folding=True,
    )
    print(f"{path}: {path.stat().st_size} bytes, outputs {outputs}")


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    out_dir = Path(argv[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    names = argv[1:] or CHECKED_IN
    for name in names:
        if name not in NETWORKS:
            print(f"unknown network '{name}'; known: {', '.join(NETWORKS)}", file=sys.stderr)
            return 2
        export(name, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
