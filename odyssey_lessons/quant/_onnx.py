"""A :class:`QuantizedModel` (and its float model) exported to ONNX and run by ONNX Runtime: a production engine's int8
kernels (MLAS, with VNNI where the CPU has it) measured beside the course's numba kernels, on the same numbers.

``export_onnx(qmodel, input_shape)`` writes the *same integer function* as ``qmodel.forward_int`` -- the model's own
scales, zero points, int8 weight codes (int2..int7 codes unpacked to int8) and int32 biases -- as an ONNX graph:

- input: ``QuantizeLinear(x, s_in, z_in)`` (float32 ``x / s``, ties to even, as ``forward_int``);
- Conv2D: ``QLinearConv`` with per-output-channel ``w_scale`` and the int32 bias; ONNX Runtime pads with the input
  zero point (real 0), as ``int8_conv2d`` does;
- Linear: ``MatMulInteger(x_q, W^T, z_x)`` (uint8 x int8 -> int32) ``-> Add(int32 bias) -> Cast(float32)
  -> Mul(M) -> QuantizeLinear(scale 1, z_out)``, with ``M[c] = s_in * s_w[c] / s_out`` computed in float32 exactly as
  ORT's ``QLinearConv`` computes its output scales, so both layer kinds requantize alike;
- a fused ReLU (or ``act_bits < 8``): ``Clip(lo, qmax)`` on the uint8 codes, only where ``[lo, qmax]`` is narrower
  than uint8's ``[0, 255]`` (a ReLU fused into a layer whose output zero point is 0 needs nothing: uint8 saturates);
- MaxPool2D: ``MaxPool`` on the uint8 codes (exact, max commutes with the increasing dequantization);
  Flatten: ``Flatten(axis=1)``;
- outputs: ``codes`` (uint8, what ``forward_int`` returns) and ``logits = DequantizeLinear(codes)``.

Why these operators for Linear. ``QLinearMatMul`` has no bias input: the int32 bias would need a second quantized op
(``QLinearAdd``, an ORT contrib op) at the output scale -- a different integer function with one more rounding.
``QLinearConv`` with a 1 x 1 kernel on ``(N, K, 1, 1)`` has the bias but ORT runs it as one GEMV per image: 5.6x
slower than the chain above for 1024 -> 1024 at batch 256 (measured, ORT 1.32, one thread). The QDQ form
(``DequantizeLinear -> Gemm -> QuantizeLinear``, which ORT fuses into its contrib ``QGemm``) ran at the same speed
as the chain, but its graph shows float operators; the chain says in standard ONNX what is computed in integers.

Where ORT's codes differ from ``forward_int`` (by 1). ORT requantizes once, in float32 (MLAS
``MlasRequantizeOutput``: ``y = z_out + RoundToEven(float32(acc + bias) * float32(M))``, saturated to uint8; the
``_mm_cvtps_epi32`` conversion rounds to nearest, ties to even; ``tests/quant/test_onnx.py`` checks ORT's codes equal
this formula computed in numpy, every one). The course rounds twice, in fixed point (gemmlowp, see
:mod:`odyssey_lessons.quant._requant`): ``SaturatingRoundingDoublingHighMul`` leaves ``acc * M`` with ``shift``
fractional bits, rounded half away from zero, then ``RoundingDivideByPOT`` rounds that half away from zero again. A
value within ``2**-(shift + 1)`` below ``n + 1/2`` first becomes exactly ``n + 1/2``, then ``n + 1``, where one
rounding gives ``n`` (an exact tie ``n + 1/2`` with ``n`` even also differs: half away against half to even). The
fraction of such codes is about ``2**-(shift + 1)`` of the unclamped ones: ``shift`` is 6-10 for the digits models'
int8 layers (``M`` about 1/100), 2-6 with int4 weights (coarser ``s_w``, larger ``M``), so int4 layers differ more
often. Float32's own error (``M`` to 24 bits, ``acc`` exact below ``2**24``) is far smaller. A differing code feeds
the next layer, so a whole model's output codes can differ by 2; predictions agree on 98-100% of the test images.
Input quantization is identical: MLAS divides by the scale in float32 and rounds to even, as ``forward_int`` does.
The accumulators are exact where the CPU has VNNI (``vpdpbusd``); x86 CPUs without it run u8s8 products through
``vpmaddubsw``, whose int16 pair sums can saturate for uint8 activations times int8 weights near 127.

``export_float_onnx(model, input_shape)`` exports the float model (Gemm, Conv, Relu, MaxPool, Flatten,
BatchNormalization in eval mode, Dropout dropped) in float32, the baseline on the same engine.
:class:`OnnxRuntimeModel` runs either with ``forward_int`` / ``predict_logits`` / ``predict``, the methods of
:class:`QuantizedModel`.

``onnx`` and ``onnxruntime`` are optional (``pip install 'odyssey-lessons[bench]'``): importing this module does not
need them; exporting or running does, and says how to install them.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from odyssey_lessons.nn import (
    BatchNorm,
    Conv2D,
    Dropout,
    Flatten,
    Linear,
    MaxPool2D,
    ReLU,
    Sequential,
    conv_output_size,
)
from odyssey_lessons.quant._qlayers import QFlatten, QGemm, QMaxPool, QReLU
from odyssey_lessons.quant._qmodel import QuantizedModel

if TYPE_CHECKING:  # optional dependency: only for the annotations
    import onnx

# Every operator used exists with its uint8/int8 types at opset 13 (MaxPool on uint8 and Clip on uint8 since 12,
# per-axis QuantizeLinear/DequantizeLinear since 13); ORT 1.32 runs all of them with the int8 kernels named above.
OPSET = 13
_INSTALL = "pip install 'odyssey-lessons[bench]' (or: pip install onnx onnxruntime)"


def _optional(module: str) -> ModuleType:
    """Import ``onnx`` or ``onnxruntime``; ImportError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"exporting to ONNX and running ONNX Runtime need {module!r}: {_INSTALL}") from err


def _check_input_shape(input_shape: object) -> tuple[int, ...]:
    if not isinstance(input_shape, tuple | list) or not input_shape:
        raise TypeError(
            f"input_shape must be a non-empty tuple of ints (one example, no batch axis), got {input_shape!r}"
        )
    if any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1 for s in input_shape):
        raise ValueError(f"input_shape must hold ints >= 1, got input_shape={input_shape!r}")
    if len(input_shape) not in (1, 3):
        raise ValueError(
            f"input_shape must be (features,) or (channels, height, width), got input_shape={input_shape!r}"
        )
    return tuple(int(s) for s in input_shape)


class _Graph:
    """Nodes and initializers of the graph being built; every name is made unique from a layer index."""

    def __init__(self, onnx: ModuleType) -> None:
        self.onnx = onnx
        self.nodes: list = []
        self.inits: list = []

    def const(self, name: str, value: np.ndarray | np.generic) -> str:
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: object) -> str:
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def model(self, inputs: list, outputs: list, name: str) -> onnx.ModelProto:
        helper = self.onnx.helper
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        opsets = [helper.make_opsetid("", OPSET)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="odyssey_lessons")
        model.ir_version = helper.find_min_ir_version_for(opsets)  # the newest IR an older ORT may not read
        self.onnx.checker.check_model(model)
        return model


def _clip(g: _Graph, x: str, lo: int, hi: int, name: str) -> str:
    """``Clip(x, lo, hi)`` on uint8 codes, only when ``[lo, hi]`` is narrower than ``[0, 255]``."""
    if lo <= 0 and hi >= 255:
        return x
    return g.node("Clip", [x, g.const(f"{name}_lo", np.uint8(lo)), g.const(f"{name}_hi", np.uint8(hi))], name)


def _gemm_nodes(g: _Graph, x: str, layer: QGemm, i: int, shape: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    """The nodes of one quantized Linear/Conv2D, from its own codes, bias and scales; returns (output, shape)."""
    n_out = layer.weight_shape[0]
    s_in, s_out = np.float32(layer.in_qp.scale), np.float32(layer.out_qp.scale)
    z_in, z_out = np.uint8(layer.in_qp.zero_point), np.uint8(layer.out_qp.zero_point)
    s_w = np.broadcast_to(layer.weight_qp.scale.astype(np.float32).reshape(-1), (n_out,))
    codes = layer.weight_codes().astype(np.int8)
    lo = max(layer.out_qp.qmin, int(z_out)) if layer.relu else layer.out_qp.qmin
    if layer.kernel_size == 0:
        if shape != (codes.shape[1],):
            raise ValueError(f"layers[{i}] (Linear, {codes.shape[1]} inputs) receives shape {shape} per example")
        acc = g.node(
            "MatMulInteger",
            [x, g.const(f"l{i}_wt", np.ascontiguousarray(codes.T)), g.const(f"l{i}_zx", z_in)],
            f"l{i}_acc",
        )
        acc = g.node("Add", [acc, g.const(f"l{i}_bias", layer.bias.astype(np.int32))], f"l{i}_accb")
        real = g.node("Cast", [acc], f"l{i}_accf", to=g.onnx.TensorProto.FLOAT)
        m = (s_in * s_w) / s_out  # float32 throughout, as ORT's QLinearConv computes its output scales
        real = g.node("Mul", [real, g.const(f"l{i}_m", m.astype(np.float32))], f"l{i}_scaled")
        y = g.node("QuantizeLinear", [real, g.const(f"l{i}_one", np.float32(1)), g.const(f"l{i}_zy", z_out)], f"l{i}_q")
        out_shape = (n_out,)
    else:
        c, k, s, p = layer.weight_shape[1], layer.kernel_size, layer.stride, layer.padding
        if len(shape) != 3 or shape[0] != c:
            raise ValueError(f"layers[{i}] (Conv2D, {c} input channels) receives shape {shape} per example")
        if min(shape[1:]) + 2 * p < k:
            raise ValueError(f"layers[{i}] (Conv2D, kernel_size={k}) receives images of shape {shape[1:]}")
        inputs = [
            x,
            g.const(f"l{i}_sx", s_in),
            g.const(f"l{i}_zx", z_in),
            g.const(f"l{i}_w", codes.reshape(layer.weight_shape)),
            g.const(f"l{i}_sw", np.ascontiguousarray(s_w)),
            g.const(f"l{i}_zw", np.zeros(n_out, dtype=np.int8)),
            g.const(f"l{i}_sy", s_out),
            g.const(f"l{i}_zy", z_out),
            g.const(f"l{i}_bias", layer.bias.astype(np.int32)),
        ]
        y = g.node("QLinearConv", inputs, f"l{i}_q", kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p])
        out_shape = (n_out, *((d + 2 * p - k) // s + 1 for d in shape[1:]))
    return _clip(g, y, lo, layer.out_qp.qmax, f"l{i}_clip"), out_shape


def _pool_node(g: _Graph, x: str, i: int, shape: tuple[int, ...], k: int, stride: int) -> tuple[str, tuple[int, ...]]:
    """MaxPool (``k x k``, ``stride``) of layer ``i`` on ``x``, one example of ``shape``; returns (output, shape)."""
    if len(shape) != 3 or min(shape[1:]) < k:
        raise ValueError(f"layers[{i}] (MaxPool2D, kernel_size={k}) receives shape {shape} per example")
    x = g.node("MaxPool", [x], f"l{i}_pool", kernel_shape=[k, k], strides=[stride, stride])
    return x, (shape[0], *((d - k) // stride + 1 for d in shape[1:]))


def _flatten_node(g: _Graph, x: str, i: int, shape: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    """Flatten of layer ``i`` (the batch axis kept); returns (output, shape)."""
    return g.node("Flatten", [x], f"l{i}_flatten", axis=1), (int(np.prod(shape)),)


def _new_graph(input_shape: object) -> tuple[_Graph, tuple[int, ...]]:
    """An empty graph and one example's checked shape (TypeError/ValueError first; ImportError without ``onnx``)."""
    shape = _check_input_shape(input_shape)
    return _Graph(_optional("onnx")), shape


def export_onnx(qmodel: QuantizedModel, input_shape: tuple[int, ...]) -> onnx.ModelProto:
    """The integer pipeline of ``qmodel`` as an ONNX model (QuantizeLinear, QLinearConv, MatMulInteger, MaxPool,
    DequantizeLinear; see the module docstring), with a dynamic batch axis.

    Args:
        qmodel: From :meth:`QuantizedModel.from_float` (any ``weight_bits``: codes are exported as int8).
        input_shape: One example's shape, without the batch axis: ``(features,)`` or ``(channels, height, width)``.

    Returns:
        An ``onnx.ModelProto`` with float32 input ``x`` and outputs ``codes`` (uint8) and ``logits`` (float32).

    Raises:
        ImportError: ``onnx`` is not installed.
        TypeError: ``qmodel`` is not a QuantizedModel, or ``input_shape`` not a tuple of ints.
        ValueError: A layer the export does not know, or ``input_shape`` that does not fit the layers.
    """
    if not isinstance(qmodel, QuantizedModel):
        raise TypeError(f"qmodel must be a QuantizedModel (QuantizedModel.from_float), got {type(qmodel).__name__}")
    g, shape = _new_graph(input_shape)
    qp = qmodel.input_qp
    x = g.node(
        "QuantizeLinear",
        ["x", g.const("in_scale", np.float32(qp.scale)), g.const("in_zp", np.uint8(qp.zero_point))],
        "x_q",
    )
    x = _clip(g, x, qp.qmin, qp.qmax, "x_clip")
    for i, layer in enumerate(qmodel.layers):
        if isinstance(layer, QGemm):
            x, shape = _gemm_nodes(g, x, layer, i, shape)
        elif isinstance(layer, QMaxPool):
            x, shape = _pool_node(g, x, i, shape, layer.kernel_size, layer.stride)
        elif isinstance(layer, QReLU):
            x = _clip(g, x, layer.zero_point, 255, f"l{i}_relu")
        elif isinstance(layer, QFlatten):
            x, shape = _flatten_node(g, x, i, shape)
        else:
            raise ValueError(
                f"qmodel.layers[{i}] ({type(layer).__name__}) cannot be exported; supported: QGemm, QMaxPool, QReLU, "
                "QFlatten"
            )
    codes = g.node("Identity", [x], "codes")
    out = qmodel.output_qp
    g.node(
        "DequantizeLinear",
        [codes, g.const("out_scale", np.float32(out.scale)), g.const("out_zp", np.uint8(out.zero_point))],
        "logits",
    )
    tp, vi = g.onnx.TensorProto, g.onnx.helper.make_tensor_value_info
    return g.model(
        [vi("x", tp.FLOAT, ["batch", *input_shape])],
        [vi("codes", tp.UINT8, ["batch", *shape]), vi("logits", tp.FLOAT, ["batch", *shape])],
        "odyssey_quantized",
    )


def export_float_onnx(model: Sequential, input_shape: tuple[int, ...]) -> onnx.ModelProto:
    """The float model in float32 ONNX (Gemm, Conv, Relu, MaxPool, Flatten, BatchNormalization with the running
    statistics; Dropout is the identity at eval and left out): ``model.forward(x, training=False)`` on ONNX Runtime.

    Args:
        model: ``nn.Sequential`` of Linear, Conv2D, ReLU, MaxPool2D, Flatten, BatchNorm, Dropout.
        input_shape: One example's shape, without the batch axis.

    Returns:
        An ``onnx.ModelProto`` with float32 input ``x`` and output ``logits``.

    Raises:
        ImportError: ``onnx`` is not installed.
        TypeError: ``model`` is not a Sequential, or ``input_shape`` not a tuple of ints.
        ValueError: A layer the export does not know, or ``input_shape`` that does not fit the layers.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an odyssey_lessons.nn.Sequential, got {type(model).__name__}")
    g, shape = _new_graph(input_shape)
    x = "x"
    for i, layer in enumerate(model.layers):
        p = {k: v.astype(np.float32) for k, v in layer.params().items()}
        if isinstance(layer, Linear):
            if shape != (layer.in_features,):
                raise ValueError(f"layers[{i}] ({layer!r}) receives shape {shape} per example")
            x = g.node(
                "Gemm", [x, g.const(f"l{i}_w", p["weight"]), g.const(f"l{i}_b", p["bias"])], f"l{i}_gemm", transB=1
            )
            shape = (layer.out_features,)
        elif isinstance(layer, Conv2D):
            k, s, pad = layer.kernel_size, layer.stride, layer.padding
            if len(shape) != 3 or shape[0] != layer.in_channels or min(shape[1:]) + 2 * pad < k:
                raise ValueError(f"layers[{i}] ({layer!r}) receives shape {shape} per example")
            x = g.node(
                "Conv",
                [x, g.const(f"l{i}_w", p["weight"]), g.const(f"l{i}_b", p["bias"])],
                f"l{i}_conv",
                kernel_shape=[k, k],
                strides=[s, s],
                pads=[pad] * 4,
            )
            shape = (layer.out_channels, *(conv_output_size("H/W", d, k, s, pad) for d in shape[1:]))
        elif isinstance(layer, BatchNorm):
            if shape[0] != layer.num_features:
                raise ValueError(f"layers[{i}] (BatchNorm({layer.num_features})) receives shape {shape} per example")
            buf = {k: v.astype(np.float32) for k, v in layer.buffers().items()}
            inputs = [x] + [
                g.const(f"l{i}_{n}", a)
                for n, a in (
                    ("w", p["weight"]),
                    ("b", p["bias"]),
                    ("mean", buf["running_mean"]),
                    ("var", buf["running_var"]),
                )
            ]
            x = g.node("BatchNormalization", inputs, f"l{i}_bn", epsilon=float(layer.eps))
        elif isinstance(layer, ReLU):
            x = g.node("Relu", [x], f"l{i}_relu")
        elif isinstance(layer, MaxPool2D):
            x, shape = _pool_node(g, x, i, shape, layer.kernel_size, layer.stride)
        elif isinstance(layer, Flatten):
            x, shape = _flatten_node(g, x, i, shape)
        elif isinstance(layer, Dropout):
            continue
        else:
            raise ValueError(
                f"layers[{i}] ({type(layer).__name__}) cannot be exported; supported: Linear, Conv2D, BatchNorm, "
                "ReLU, MaxPool2D, Flatten, Dropout"
            )
    g.node("Identity", [x], "logits")
    tp, vi = g.onnx.TensorProto, g.onnx.helper.make_tensor_value_info
    return g.model(
        [vi("x", tp.FLOAT, ["batch", *input_shape])], [vi("logits", tp.FLOAT, ["batch", *shape])], "odyssey_float"
    )


class OnnxRuntimeModel:
    """An exported model on ONNX Runtime's CPU engine, with :class:`QuantizedModel`'s methods (``forward_int``,
    ``predict_logits``, ``predict``), so the two run side by side.

    Args:
        model_proto: From :func:`export_onnx` or :func:`export_float_onnx`.
        threads: ORT's intra-op threads (``inter_op_num_threads`` is 1: the graph is a chain). 1 compares with the
            course's single-threaded kernels.

    Raises:
        ImportError: ``onnx`` or ``onnxruntime`` is not installed.
        TypeError: ``model_proto`` is not an ``onnx.ModelProto``, ``threads`` not an int.
        ValueError: ``threads`` < 1.
    """

    def __init__(self, model_proto: onnx.ModelProto, *, threads: int = 1) -> None:
        onnx, ort = _optional("onnx"), _optional("onnxruntime")
        if not isinstance(model_proto, onnx.ModelProto):
            raise TypeError(f"model_proto must be an onnx.ModelProto (export_onnx), got {type(model_proto).__name__}")
        if isinstance(threads, bool) or not isinstance(threads, int | np.integer):
            raise TypeError(f"threads must be an int, got threads={threads!r}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got threads={threads}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: no warnings about initializers the optimizer folded away
        self.threads = int(threads)
        self.session = ort.InferenceSession(
            model_proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self.outputs = tuple(o.name for o in self.session.get_outputs())

    def _run(self, name: str, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
            raise TypeError(f"x must be a float numpy.ndarray, got {getattr(x, 'dtype', type(x).__name__)}")
        return self.session.run([name], {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]

    def forward_int(self, x: np.ndarray) -> np.ndarray:
        """uint8 output codes, as :meth:`QuantizedModel.forward_int` (quantized models only).

        Raises:
            ValueError: The model is a float export (it has no ``codes`` output).
            TypeError: ``x`` is not a float array.
        """
        if "codes" not in self.outputs:
            raise ValueError(
                f"forward_int needs a quantized export (export_onnx); this model's outputs: {self.outputs}"
            )
        return self._run("codes", x)

    def predict_logits(self, x: np.ndarray) -> np.ndarray:
        """float32 logits (dequantized output codes for a quantized export)."""
        return self._run("logits", x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted labels, ``argmax`` of the logits."""
        return np.argmax(self.predict_logits(x), axis=1)
