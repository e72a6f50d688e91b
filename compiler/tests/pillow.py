"""Pillow's side of the test `preprocess`: resize raw 8-bit images, decode JPEG files.

Usage: pillow.py CASES.json, a list of {"op": "resize", "input", "width", "height",
"channels", "out_width", "out_height", "filter", "output"} or {"op": "decode", "input",
"channels", "output"}; each writes raw 8-bit pixels, channels interleaved, to "output".
"""
import json
import sys

from PIL import Image

FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}

for case in json.load(open(sys.argv[1])):
    mode = "L" if case["channels"] == 1 else "RGB"
    if case["op"] == "resize":
        with open(case["input"], "rb") as f:
            image = Image.frombytes(mode, (case["width"], case["height"]), f.read())
        out = image.resize((case["out_width"], case["out_height"]), FILTERS[case["filter"]])
    else:
        out = Image.open(case["input"]).convert(mode)
    with open(case["output"], "wb") as f:
        f.write(out.tobytes())
