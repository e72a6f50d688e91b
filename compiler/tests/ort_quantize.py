"""ONNX Runtime's own post-training quantization, for comparison with ghostc's int8:
ort_quantize.py MODEL CALIB.bin EVAL.bin OUT.bin [QDQ.onnx]

Quantizes MODEL with onnxruntime.quantization.quantize_static (QDQ format, per-channel
signed 8-bit weights, unsigned 8-bit activations, MinMax calibration on the raw f32 inputs
of CALIB.bin), then runs the quantized model on every input of EVAL.bin and writes the
first output of each, back to back, to OUT.bin (raw little-endian f32). The quantized model
is kept at QDQ.onnx when given.
"""
import os
import sys
import tempfile

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static


class Reader(CalibrationDataReader):
    def __init__(self, name, xs):
        self.items = iter([{name: x} for x in xs])

    def get_next(self):
        return next(self.items, None)


def quantize(model, calib, qdq):
    """Writes MODEL quantized over the inputs of CALIB.bin to QDQ; returns the input's name and shape."""
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    meta = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in meta.shape]
    xs = np.fromfile(calib, dtype="<f4").reshape([-1] + shape)
    quantize_static(model, qdq, Reader(meta.name, xs), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    return meta.name, shape


def main(model, calib, evaluate, out, keep=None):
    with tempfile.TemporaryDirectory() as tmp:
        qdq = keep or os.path.join(tmp, "model.qdq.onnx")
        name, shape = quantize(model, calib, qdq)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        q = ort.InferenceSession(qdq, opts, providers=["CPUExecutionProvider"])
        ys = [np.asarray(q.run(None, {name: x})[0], dtype="<f4").ravel()
              for x in np.fromfile(evaluate, dtype="<f4").reshape([-1] + shape)]
    np.concatenate(ys).tofile(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
