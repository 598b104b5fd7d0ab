"""A trained float ``nn.Sequential`` turned into an integer-only model (post-training quantization, Jacob et al. 2018).

``QuantizedModel.from_float(model, calibration_x)``:

- BatchNorm (eval statistics) is folded into the Linear/Conv2D right before it; Dropout is dropped (identity at eval);
  a ReLU right after a Linear/Conv2D is fused into its requantization (clamp at the output zero point).
- Weights: symmetric, per output channel (or per tensor), ``weight_bits`` wide, always min/max calibrated. Codes of
  fewer than 8 bits are stored packed (:func:`~odyssey_lessons.quant._pack.pack_int`) and unpacked to int8 on every
  forward, before the GEMM (that unpacking is part of the measured latency).
- Activations: asymmetric (uint8 container, zero point), per tensor, ``act_bits`` wide, calibrated with ``observer``
  on the float activations of ``calibration_x`` (the float model run layer by layer).
- Biases: int32 at scale ``s_in * s_w[c]``, added to the int32 accumulator; then requantization with the fixed-point
  multiplier ``M[c] = s_in * s_w[c] / s_out`` (:func:`~odyssey_lessons.quant._requant.requantize`).

Inference: quantize the input, integer-only layers (int8 GEMM / im2col convolution, int32 bias, requantize, integer
max pooling; :mod:`odyssey_lessons.quant._qlayers`), dequantize the final logits.
"""

from __future__ import annotations

import numpy as np

from odyssey_lessons.nn import BatchNorm, Conv2D, Dropout, Flatten, Linear, MaxPool2D, ReLU, Sequential, layer_like
from odyssey_lessons.quant._affine import QParams, quantize_affine
from odyssey_lessons.quant._kernels import quantize_u8_kernel
from odyssey_lessons.quant._observers import choose_qparams
from odyssey_lessons.quant._pack import pack_int
from odyssey_lessons.quant._qlayers import QFlatten, QGemm, QMaxPool, QReLU, qp_bytes
from odyssey_lessons.quant._requant import quantize_multiplier
from odyssey_lessons.quant._vnnigemm import resolve_int8_path

_INT32 = np.iinfo(np.int32)


def _fold(model: Sequential) -> list[tuple[str, object]]:
    """The eval-mode computation as a list of ``(kind, data)``: ``("gemm", (W, b, layer))`` with BatchNorm folded in,
    ``("relu", None)``, ``("pool", layer)``, ``("flatten", None)``. Raises on layers it cannot quantize."""
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an odyssey_lessons.nn.Sequential, got {type(model).__name__}")
    steps: list[tuple[str, object]] = []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Linear | Conv2D):
            p = layer.params()
            steps.append(("gemm", (p["weight"].astype(np.float64), p["bias"].astype(np.float64), layer)))
        elif isinstance(layer, BatchNorm):
            if not steps or steps[-1][0] != "gemm":
                raise ValueError(
                    f"layers[{i}] is a BatchNorm that does not directly follow a Linear or Conv2D: it cannot be "
                    "folded, and integer inference does not support it on its own"
                )
            w, b, prev = steps[-1][1]
            p, buf = layer.params(), layer.buffers()
            k = p["weight"].astype(np.float64) / np.sqrt(buf["running_var"].astype(np.float64) + layer.eps)
            w = w * k.reshape((-1,) + (1,) * (w.ndim - 1))
            b = (b - buf["running_mean"]) * k + p["bias"]
            steps[-1] = ("gemm", (w, b, prev))
        elif isinstance(layer, ReLU):
            steps.append(("relu", None))
        elif isinstance(layer, MaxPool2D):
            steps.append(("pool", layer))
        elif isinstance(layer, Flatten):
            steps.append(("flatten", None))
        elif isinstance(layer, Dropout):
            continue
        else:
            raise ValueError(
                f"layers[{i}] ({type(layer).__name__}) is not supported by integer inference; supported: "
                "Linear, Conv2D, ReLU, MaxPool2D, Flatten, Dropout, BatchNorm (after Linear/Conv2D)"
            )
    return steps


def _float_gemm(x: np.ndarray, w: np.ndarray, b: np.ndarray, layer: object) -> np.ndarray:
    """The float layer with (folded) weights ``w``, ``b``, computed by a copy of the nn layer's own forward."""
    if isinstance(layer, Linear):
        return (x @ w.T.astype(np.float32) + b.astype(np.float32)).astype(np.float32)
    conv = layer_like(layer, Conv2D)
    conv.load_params({"weight": w.astype(np.float32), "bias": b.astype(np.float32)})
    return conv.forward(x, training=False)


class QuantizedModel:
    """Integer-only inference for a trained ``nn.Sequential`` (see the module docstring); build with
    :meth:`from_float`. ``layers`` lists the quantized steps (:class:`QGemm`, :class:`QMaxPool`, ...)."""

    def __init__(
        self, layers: list, input_qp: QParams, output_qp: QParams, float_nbytes: int, path: str = "auto"
    ) -> None:
        self.layers = layers
        self.input_qp = input_qp
        self.output_qp = output_qp
        self.float_nbytes = int(float_nbytes)
        self.use_path(path)

    def use_path(self, path: str) -> QuantizedModel:
        """Run the integer layers on ``path`` (``"auto"``, ``"avx512_vnni"``, ``"vnni_256"`` or ``"portable"``, see
        :data:`odyssey_lessons.quant.INT8_PATHS`); every path computes the same codes. Returns the model.

        Raises:
            ValueError, TypeError: An unknown path, or one this CPU lacks.
        """
        self.path = resolve_int8_path(path)
        for layer in self.layers:
            if isinstance(layer, QGemm):
                layer.path = self.path
        return self

    @classmethod
    def from_float(
        cls,
        model: Sequential,
        calibration_x: np.ndarray,
        *,
        weight_bits: int = 8,
        act_bits: int = 8,
        weight_granularity: str = "channel",
        observer: str = "minmax",
        path: str = "auto",
    ) -> QuantizedModel:
        """Quantize a trained float model, calibrating activation ranges on ``calibration_x``.

        Args:
            model: ``nn.Sequential`` of Linear, Conv2D, ReLU, MaxPool2D, Flatten, Dropout and BatchNorm (folded into
                the Linear/Conv2D before it).
            calibration_x: Float inputs representative of the data (e.g. a few hundred training examples).
            weight_bits: 2..8; weights are symmetric (restricted range, ``-(2**(b-1)-1) .. 2**(b-1)-1``).
            act_bits: 2..8; activations are asymmetric (``0 .. 2**b - 1``, uint8 container).
            weight_granularity: ``"channel"`` (one scale per output channel) or ``"tensor"``.
            observer: Activation observer (``"minmax"``, ``"moving_average"``, ``"percentile"``, ``"mse"``).
            path: The int8 GEMM path (:meth:`use_path`); ``"auto"`` takes the fastest this CPU has.

        Raises:
            TypeError: ``model`` not a Sequential or ``calibration_x`` not a float array.
            ValueError: An unsupported layer or a BatchNorm without a Linear/Conv2D before it, a bad granularity or
                bit width, or a layer whose multiplier ``s_in * s_w / s_out`` is not in ``[2**-32, 2**31)``.
        """
        steps = _fold(model)
        if not isinstance(calibration_x, np.ndarray) or calibration_x.dtype.kind != "f":
            raise TypeError(f"calibration_x must be a float numpy.ndarray, got {type(calibration_x).__name__}")
        if weight_granularity not in ("channel", "tensor"):
            raise ValueError(f"weight_granularity must be 'channel' or 'tensor', got {weight_granularity=}")

        def act_qp(a: np.ndarray) -> QParams:
            return choose_qparams(a, bits=act_bits, symmetric=False, observer=observer)

        x = calibration_x.astype(np.float32)
        qp = input_qp = act_qp(x)
        layers: list = []
        for idx, (kind, data) in enumerate(steps):
            if kind == "gemm":
                w, b, layer = data
                x = _float_gemm(x, w, b, layer)
                relu = idx + 1 < len(steps) and steps[idx + 1][0] == "relu"
                if relu:
                    x = np.maximum(x, np.float32(0))
                out_qp = act_qp(x)
                layers.append(_quantize_gemm(w, b, layer, qp, out_qp, relu, weight_bits, weight_granularity))
                qp = out_qp
            elif kind == "relu":
                if layers and isinstance(layers[-1], QGemm) and layers[-1].relu:
                    continue  # fused into the layer before
                x = np.maximum(x, np.float32(0))
                layers.append(QReLU(int(qp.zero_point)))
            elif kind == "pool":
                x = data.forward(x, training=False)
                layers.append(QMaxPool(data.kernel_size, data.stride))
            else:
                x = x.reshape(x.shape[0], -1)
                layers.append(QFlatten())
        float_nbytes = sum(a.nbytes for a in model.params().values()) + sum(a.nbytes for a in model.buffers().values())
        return cls(layers, input_qp, qp, float_nbytes, path)

    def forward_int(self, x: np.ndarray) -> np.ndarray:
        """Integer codes of the output for float inputs ``x`` (quantized with the calibrated input parameters).

        Raises:
            TypeError: ``x`` is not a float array.
            ValueError: ``x`` contains NaN or has the wrong shape for the first layer.
        """
        if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
            raise TypeError(f"x must be a float numpy.ndarray, got {getattr(x, 'dtype', type(x).__name__)}")
        # quantize_affine(x, input_qp) in one numba pass for the per-tensor case: its generic checks and numpy's five
        # passes cost more than a small batch's whole integer forward. Same formula: clamp(rint(x / s) + z), ties to
        # even, the division in float32.
        qp = self.input_qp
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        flat = x32.reshape(x32.shape[0] if x32.ndim > 1 else 1, -1 if x32.size else 0)
        q = np.empty(x32.shape, dtype=np.uint8)
        scale = np.float32(qp.scale.reshape(-1)[0])
        if quantize_u8_kernel(flat, scale, int(qp.zero_point), int(qp.qmin), int(qp.qmax), q.reshape(flat.shape)):
            raise ValueError("x contains NaN, which has no quantized value")
        for layer in self.layers:
            q = layer.forward(q)
        return q

    def predict_logits(self, x: np.ndarray) -> np.ndarray:
        """float32 logits: ``(q_out - z_out) * s_out`` of the integer pipeline (``dequantize_affine``, written out)."""
        q = self.forward_int(x)
        return (q.astype(np.int32) - self.output_qp.zero_point).astype(np.float32) * self.output_qp.scale

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted labels, ``argmax`` of the logits (the argmax of the codes, since dequantizing is increasing)."""
        return np.argmax(self.forward_int(x), axis=1)

    def size_report(self) -> dict[str, float]:
        """Real stored bytes: weight codes (packed below 8 bits), int32 biases, and the overhead (float32 weight
        scales, int32 multipliers and shifts, float32 scale + int32 zero point per activation tensor), against the
        float32 model (parameters and buffers)."""
        parts = {"weights": 0, "biases": 0, "overhead": qp_bytes(self.input_qp)}
        float_weights = 0
        for layer in self.layers:
            if isinstance(layer, QGemm):
                for k, v in layer.nbytes().items():
                    parts[k] += v
                float_weights += int(np.prod(layer.weight_shape)) * 4
        total = sum(parts.values())
        return {
            "weight_bytes": parts["weights"],
            "bias_bytes": parts["biases"],
            "overhead_bytes": parts["overhead"],
            "nbytes": total,
            "float_weight_bytes": float_weights,
            "float_nbytes": self.float_nbytes,
            "weight_ratio": float_weights / parts["weights"],
            "total_ratio": self.float_nbytes / total,
        }

    @property
    def nbytes(self) -> int:
        """Stored bytes of the quantized model (see :meth:`size_report`)."""
        return int(self.size_report()["nbytes"])

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {type(layer).__name__}" for i, layer in enumerate(self.layers))
        return f"QuantizedModel({inner}\n)"


def _quantize_gemm(
    w: np.ndarray,
    b: np.ndarray,
    layer: object,
    in_qp: QParams,
    out_qp: QParams,
    relu: bool,
    weight_bits: int,
    granularity: str,
) -> QGemm:
    axis = 0 if granularity == "channel" else None
    wqp = choose_qparams(w.astype(np.float32), bits=weight_bits, symmetric=True, granularity=granularity, axis=axis)
    codes = quantize_affine(w.astype(np.float32), wqp)
    n_out = w.shape[0]
    s_w = np.broadcast_to(wqp.scale.astype(np.float64).reshape(-1), (n_out,))
    s_in, s_out = float(in_qp.scale), float(out_qp.scale)
    bias = np.clip(np.rint(b / (s_in * s_w)), _INT32.min, _INT32.max).astype(np.int32)
    real_m = s_in * s_w / s_out
    try:
        m0, shift = quantize_multiplier(np.ascontiguousarray(real_m))
    except ValueError as err:
        raise ValueError(f"cannot requantize {layer!r}: {err}") from err
    rows = codes.reshape(n_out, -1)
    stored = np.ascontiguousarray(rows) if weight_bits == 8 else pack_int(rows, weight_bits)
    conv = isinstance(layer, Conv2D)
    return QGemm(
        weight=stored,
        weight_shape=w.shape,
        weight_qp=wqp,
        weight_bits=weight_bits,
        bias=bias,
        m0=m0,
        shift=shift,
        in_qp=in_qp,
        out_qp=out_qp,
        relu=relu,
        kernel_size=layer.kernel_size if conv else 0,
        stride=layer.stride if conv else 1,
        padding=layer.padding if conv else 0,
    )
