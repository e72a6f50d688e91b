"""Runs an ONNX model with ONNX Runtime: ort_run.py MODEL IN.bin OUT.bin.

IN.bin holds raw little-endian f32 values for the model's (single, static) input;
OUT.bin receives every output, flattened, back to back in the graph's output order, the
same way. Used by the tests as the oracle.
"""
import sys

import numpy as np
import onnxruntime as ort


def main(model, inp, out):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    meta = sess.get_inputs()[0]
    x = np.fromfile(inp, dtype="<f4").reshape(meta.shape)
    ys = sess.run(None, {meta.name: x})
    np.concatenate([np.asarray(y, dtype="<f4").ravel() for y in ys]).tofile(out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
