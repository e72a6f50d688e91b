"""Runs an ONNX model with ONNX Runtime: ort_run.py MODEL IN.bin OUT.bin.

IN.bin holds raw little-endian f32 values for the model's (single, static) input, or
several such inputs back to back; OUT.bin receives every output of each, flattened, back to
back in the graph's output order, the same way. Used by the tests as the oracle.
"""
import sys

import numpy as np
import onnxruntime as ort


def main(model, inp, out):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    meta = sess.get_inputs()[0]
    xs = np.fromfile(inp, dtype="<f4").reshape([-1] + list(meta.shape))
    ys = [np.asarray(y, dtype="<f4").ravel() for x in xs for y in sess.run(None, {meta.name: x})]
    np.concatenate(ys).tofile(out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
