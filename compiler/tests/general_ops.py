"""Small ONNX graphs with every op form of the general path, and ONNX Runtime's outputs.

    python3 compiler/tests/general_ops.py OUT_DIR

writes, per case, `CASE.onnx`, `CASE.input.bin` (a seeded input) and `CASE.ort.bin` (every
output of ONNX Runtime, flattened, back to back), raw little-endian f32. The test
`general_ops` compiles each case and compares. The graphs are written with onnx.helper,
not by the compiler's own ONNX writer, so they exercise the front end too; sizes are odd
on purpose.
"""
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(1234)
ort.set_default_logger_severity(3)


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


class Case:
    """A graph being built: one float input, nodes, initializers, outputs."""

    def __init__(self, name, shape, opset=17):
        self.name, self.shape, self.opset = name, list(shape), opset
        self.nodes, self.inits, self.outputs = [], [], []
        self.n = 0

    def t(self, array):
        """A constant: int64 arrays stay int64, anything else becomes f32."""
        self.n += 1
        name = f"c{self.n}"
        array = np.asarray(array)
        if array.dtype != np.int64:
            array = array.astype(np.float32)
        self.inits.append(const(name, array))
        return name

    def op(self, op_type, inputs, outputs=1, **attrs):
        self.n += 1
        names = [f"{op_type.lower()}{self.n}_{k}" for k in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, name=f"{op_type}_{self.n}", **attrs))
        return names[0] if outputs == 1 else names

    def out(self, *names):
        self.outputs.extend(names)

    def save(self, out_dir):
        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, self.shape)],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in self.outputs],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 8
        path = out_dir / f"{self.name}.onnx"
        onnx.save(model, path)
        x = rand(*self.shape)
        x.astype("<f4").tofile(out_dir / f"{self.name}.input.bin")
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        ys = sess.run(None, {"x": x})
        # Declare the output shapes ONNX Runtime computed (ONNX's shape inference
        # differs from it for ceil-mode pooling), then check the model.
        for o, y in zip(model.graph.output, ys):
            o.CopyFrom(helper.make_tensor_value_info(o.name, TensorProto.FLOAT, list(y.shape)))
        onnx.checker.check_model(model)
        onnx.save(model, path)
        np.concatenate([np.asarray(y, dtype="<f4").ravel() for y in ys]).tofile(out_dir / f"{self.name}.ort.bin")


def cases():
    out = []

    # Element-wise ops with constants on either side and broadcasting.
    c = Case("binary_broadcast", [1, 5, 7, 3])
    x = "x"
    a = c.op("Add", [c.t(rand(1, 5, 1, 1)), x])
    s = c.op("Sub", [c.t(np.float32(0.75)), a])
    m = c.op("Mul", [s, c.t(rand(3))])
    d = c.op("Div", [m, c.t(np.abs(rand(7, 1)) + 0.5)])
    mean_c = c.op("ReduceMean", [x], axes=[1], keepdims=1)
    g = c.op("Mul", [d, mean_c])
    r = c.op("Sub", [x, g])
    c.out(r, c.op("Add", [c.t(rand(5, 7, 3)), r]))
    out.append(c)

    # Nearest Resize: every coordinate transformation and rounding, odd sizes, up and down.
    c = Case("resize_nearest", [1, 2, 5, 7], opset=19)
    ctms = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"]
    modes = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
    for i, ctm in enumerate(ctms):
        for j, mode in enumerate(modes):
            size = [1, 2, [9, 3, 4, 11][j], [4, 13, 7, 3][(i + j) % 4]]
            c.out(c.op("Resize", ["x", "", "", c.t(np.array(size, dtype=np.int64))], mode="nearest",
                       coordinate_transformation_mode=ctm, nearest_mode=mode))
    # Scales rather than sizes (the output is floor(in * scale), the coordinates use the scale).
    c.out(c.op("Resize", ["x", "", c.t(np.array([1, 1, 1.7, 0.6], dtype=np.float32))], mode="nearest",
               coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
    out.append(c)

    c = Case("resize_linear", [1, 3, 6, 5], opset=19)
    for i, ctm in enumerate(["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric"]):
        size = [1, 3, [11, 4, 1, 7, 13][i], [3, 9, 8, 1, 10][i]]
        c.out(c.op("Resize", ["x", "", "", c.t(np.array(size, dtype=np.int64))], mode="linear",
                   coordinate_transformation_mode=ctm))
    c.out(c.op("Resize", ["x", "", c.t(np.array([1, 1, 2.5, 0.75], dtype=np.float32))], mode="linear"))
    # Resize in the middle of a network, on a computed tensor.
    h = c.op("Relu", [c.op("Conv", ["x", c.t(rand(4, 3, 3, 3, scale=0.3))], pads=[1, 1, 1, 1])])
    c.out(c.op("Resize", [h, "", "", c.t(np.array([1, 4, 10, 3], dtype=np.int64))], mode="linear"))
    out.append(c)

    # Concatenation on every axis, a constant among the inputs.
    c = Case("concat", [1, 3, 4, 5])
    e = c.op("Sigmoid", ["x"])
    for axis in [0, 1, 2, 3]:
        shape = [1, 3, 4, 5]
        shape[axis] = 2
        c.out(c.op("Concat", ["x", c.t(rand(*shape)), e], axis=axis))
    out.append(c)

    # Slices with steps (negative too), Split into equal and unequal parts.
    c = Case("slice_split", [1, 6, 9, 7], opset=18)
    c.out(c.op("Slice", ["x", c.t(np.array([1, 8, 0], dtype=np.int64)), c.t(np.array([6, 0, 7], dtype=np.int64)),
                         c.t(np.array([1, 2, 3], dtype=np.int64)), c.t(np.array([2, -3, 3], dtype=np.int64))]))
    c.out(c.op("Slice", ["x", c.t(np.array([-1], dtype=np.int64)), c.t(np.array([-100], dtype=np.int64)),
                         c.t(np.array([1], dtype=np.int64)), c.t(np.array([-1], dtype=np.int64))]))
    c.out(*c.op("Split", ["x", c.t(np.array([1, 3, 2], dtype=np.int64))], outputs=3, axis=1))
    c.out(*c.op("Split", ["x"], outputs=4, axis=3, num_outputs=4))
    out.append(c)

    # Padding: constant, reflect, edge, wrap; negative pads crop.
    c = Case("pad", [1, 3, 5, 6], opset=19)
    for mode, pads in [("constant", [0, 1, 2, 1, 0, 2, 1, 3]), ("reflect", [0, 0, 4, 2, 0, 0, 3, 5]),
                       ("edge", [0, 2, 1, 0, 0, 1, 6, 2]), ("wrap", [0, 1, 3, 6, 0, 2, 5, 1]),
                       ("constant", [0, -1, 2, -2, 0, 1, -1, 3])]:
        inputs = ["x", c.t(np.array(pads, dtype=np.int64))]
        if mode == "constant":
            inputs.append(c.t(np.float32(1.5)))
        c.out(c.op("Pad", inputs, mode=mode))
    out.append(c)

    # Transposes, reshapes and flattens between layouts.
    c = Case("layouts", [1, 4, 3, 5])
    t = c.op("Transpose", ["x"], perm=[0, 2, 3, 1])
    c.out(t)
    r = c.op("Reshape", [t, c.t(np.array([1, -1, 4], dtype=np.int64))])
    t2 = c.op("Transpose", [r], perm=[2, 1, 0])
    c.out(t2)
    f = c.op("Flatten", ["x"], axis=2)
    c.out(c.op("Relu", [f]))
    c.out(c.op("Reshape", [c.op("Sigmoid", ["x"]), c.t(np.array([2, 2, 15], dtype=np.int64))]))
    out.append(c)

    # Matrix products: Gemm with every transpose, alpha, beta and C; MatMul batched and broadcast.
    c = Case("matmul", [1, 3, 4, 6])
    flat = c.op("Reshape", ["x", c.t(np.array([3, 24], dtype=np.int64))])
    c.out(c.op("Gemm", [flat, c.t(rand(24, 5)), c.t(rand(5))], alpha=0.5, beta=2.0))
    c.out(c.op("Gemm", [flat, c.t(rand(7, 24)), c.t(rand(3, 1))], transB=1))
    c.out(c.op("Gemm", [c.t(rand(24, 2)), flat, c.t(np.float32(0.25))], transA=1, transB=1))
    c.out(c.op("Gemm", [flat, c.op("Transpose", [flat])], alpha=0.1))
    c.out(c.op("MatMul", ["x", c.t(rand(6, 2))]))
    c.out(c.op("MatMul", ["x", c.op("Transpose", ["x"], perm=[0, 1, 3, 2])]))
    c.out(c.op("MatMul", [c.t(rand(2, 1, 5, 4)), "x"]))
    c.out(c.op("MatMul", ["x", c.t(rand(6))]))
    c.out(c.op("MatMul", [c.t(rand(4)), "x"]))
    out.append(c)

    # Pooling and reductions.
    c = Case("pooling", [1, 3, 9, 8], opset=19)
    c.out(c.op("MaxPool", ["x"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1))
    c.out(c.op("MaxPool", ["x"], kernel_shape=[2, 3], dilations=[2, 1], strides=[1, 2]))
    c.out(c.op("AveragePool", ["x"], kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 1], count_include_pad=1, ceil_mode=1))
    c.out(c.op("AveragePool", ["x"], kernel_shape=[3, 3], strides=[2, 3], pads=[1, 1, 0, 2]))
    c.out(c.op("AveragePool", ["x"], kernel_shape=[2, 2], strides=[1, 1], dilations=[2, 3]))
    c.out(c.op("GlobalMaxPool", ["x"]))
    c.out(c.op("ReduceMean", ["x", c.t(np.array([1, 3], dtype=np.int64))], keepdims=0))
    c.out(c.op("ReduceMean", ["x", c.t(np.array([0, 2], dtype=np.int64))], keepdims=1))
    out.append(c)

    # Standalone activations and BatchNorm on ranks other than 4.
    c = Case("activations", [1, 4, 10])
    c.out(c.op("Relu", ["x"]), c.op("Sigmoid", ["x"]), c.op("HardSigmoid", ["x"], alpha=0.3, beta=0.4))
    c.out(c.op("Clip", ["x", c.t(np.float32(-0.5)), c.t(np.float32(0.7))]))
    c.out(c.op("BatchNormalization", ["x", c.t(rand(4)), c.t(rand(4)), c.t(rand(4)), c.t(np.abs(rand(4)) + 0.5)]))
    out.append(c)

    # Convolutions no fused kernel runs: grouped, dilated, asymmetric pads, computed weights.
    c = Case("conv_general", [1, 4, 9, 7])
    c.out(c.op("Conv", ["x", c.t(rand(6, 2, 3, 3, scale=0.3)), c.t(rand(6))], group=2, pads=[1, 0, 2, 1]))
    c.out(c.op("Relu", [c.op("Conv", ["x", c.t(rand(4, 4, 3, 2, scale=0.3))], dilations=[2, 3], strides=[1, 2])]))
    w = c.op("Reshape", [c.op("Slice", ["x", c.t(np.array([0, 0, 0], dtype=np.int64)), c.t(np.array([2, 3, 3], dtype=np.int64)),
                                        c.t(np.array([1, 2, 3], dtype=np.int64))]),
                         c.t(np.array([2, 1, 3, 3], dtype=np.int64))])
    c.out(c.op("Conv", ["x", c.op("Concat", [w, w], axis=1)], pads=[1, 1, 1, 1], strides=[2, 1], group=2))
    out.append(c)

    # A batch of 2 whose images mix (the steps run once on the whole batch), fused
    # convolutions after the mixing.
    c = Case("batch_mixing", [2, 3, 6, 5])
    t = c.op("Transpose", ["x"], perm=[1, 0, 2, 3])
    conv = c.op("Conv", [t, c.t(rand(8, 2, 1, 1, scale=0.3)), c.t(rand(8))])
    dw = c.op("Relu", [c.op("Conv", [conv, c.t(rand(8, 1, 3, 3, scale=0.3))], group=8, pads=[1, 1, 1, 1])])
    c.out(dw)
    c.out(c.op("ReduceMean", ["x"], axes=[0], keepdims=1))
    c.out(c.op("Sub", ["x", c.t(rand(2, 1, 1, 1))]))
    out.append(c)

    # A rank-2 input (no image at all): Gemm, activations.
    c = Case("mlp", [3, 16])
    h = c.op("Relu", [c.op("Gemm", ["x", c.t(rand(16, 8)), c.t(rand(8))])])
    c.out(c.op("Gemm", [h, c.t(rand(5, 8)), c.t(rand(5))], transB=1))
    out.append(c)

    # An output no node computes (the input itself).
    c = Case("passthrough", [1, 2, 3, 3])
    c.out("x", c.op("Relu", ["x"]))
    out.append(c)
    return out


def main(argv):
    out_dir = Path(argv[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    all_cases = cases()
    for c in all_cases:
        c.save(out_dir)
    print(f"wrote {len(all_cases)} cases to {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1:])
