"""Post-training quantization of the digits models: what Lesson 6 and its widget measure.

:func:`trained_digits` trains the digits MLP or CNN once (a real :func:`~odyssey_lessons.train.fit` run, cached).
:func:`ptq_evaluate` quantizes a trained float model and measures it: weights symmetric (``bits`` wide, one scale per
tensor, output channel or group of inputs, calibrated with an observer), activations asymmetric per tensor
(``act_bits``, calibrated with the same observer on the float activations of a calibration set), exactly where the
integer model (:class:`~odyssey_lessons.quant.QuantizedModel`) quantizes them: the input, and the output of
every Linear/Conv2D (after its ReLU). The arithmetic between those points runs in float32 on the dequantized values
(*simulated* quantization): same grid, same rounding, any bit width or format, and cheap enough for a sweep; the
lesson checks it against the integer model. :func:`ptq_run` is the cached sweep point for the trained models.

Weights may instead be rounded to a scaled low-precision float format (``weight_format="e4m3fn"``, per slice absmax
scaling, :func:`~odyssey_lessons.quant.quantize_float`), and activations likewise (``act_format``, with the scale
calibrated on the calibration set). Sizes count real bytes: packed codes, float32 scales, int32 biases. Nothing here
draws.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from odyssey_lessons._validate import check_choice, check_int
from odyssey_lessons.data import DigitsTask, digits_task
from odyssey_lessons.formats import get_format
from odyssey_lessons.formats import quantize as round_to_format
from odyssey_lessons.nn import (
    Conv2D,
    Dropout,
    Flatten,
    Linear,
    MaxPool2D,
    ReLU,
    Sequential,
    digits_cnn,
    layer_like,
    mlp,
)
from odyssey_lessons.optim import adam
from odyssey_lessons.quant import (
    GRANULARITIES,
    LOW_BIT_FLOAT_FORMATS,
    OBSERVERS,
    WEIGHT_FORMATS,
    FakeQuant,
    QParams,
    approximation_error,
    fake_quantize,
    quantization_error,
    quantize_weight,
)
from odyssey_lessons.train import History, evaluate, fit

LAYOUTS = ("mlp", "cnn")


@dataclass(frozen=True)
class QuantSetup:
    """The two trained models and the calibration: an MLP ``64 -> 128 -> 64 -> 10`` (``mlp_epochs``) and the digits
    CNN (``cnn_epochs``), Adam(``lr``), batch ``batch_size``; calibration on the first ``n_calib`` training images,
    observed in batches of ``calib_batch``; groups of ``group_size`` inputs for ``granularity="group"``."""

    mlp_sizes: tuple[int, ...] = (64, 128, 64, 10)
    mlp_epochs: int = 15
    cnn_epochs: int = 8
    lr: float = 3e-3
    batch_size: int = 64
    n_calib: int = 512
    calib_batch: int = 64
    group_size: int = 16
    seed: int = 0

    def model(self, layout: str) -> Sequential:
        """A fresh, untrained model of ``layout`` (seeded)."""
        check_choice("layout", layout, LAYOUTS)
        rng = np.random.default_rng(self.seed)
        return mlp(self.mlp_sizes, rng=rng) if layout == "mlp" else digits_cnn(rng=rng)

    def epochs(self, layout: str) -> int:
        return self.mlp_epochs if layout == "mlp" else self.cnn_epochs


@dataclass(frozen=True, eq=False)
class TrainedDigits:
    """A trained float model with its task, training history and float32 test accuracy. The model is shared by every
    caller of :func:`trained_digits` (cached): read it, copy it, do not train it further."""

    layout: str
    model: Sequential
    task: DigitsTask
    history: History
    test_acc: float

    @property
    def calibration_x(self) -> np.ndarray:
        return self.task.train[0]


def trained_digits(layout: str, setup: QuantSetup = QuantSetup()) -> TrainedDigits:
    """Train the digits ``layout`` model of ``setup`` (cached: the same arguments return the same object).

    Raises:
        ValueError: Unknown layout.
    """
    return _trained(check_choice("layout", layout, LAYOUTS), setup)


@lru_cache(maxsize=8)
def _trained(layout: str, setup: QuantSetup) -> TrainedDigits:
    task = digits_task(layout, seed=0)
    model = setup.model(layout)
    history = fit(model, task.train, optimizer=adam(setup.lr), epochs=setup.epochs(layout),
                  batch_size=setup.batch_size, val=task.val, seed=setup.seed)  # fmt: skip
    return TrainedDigits(layout, model, task, history, evaluate(model, *task.test)[1])


@dataclass(frozen=True, eq=False)
class LayerQuant:
    """One quantized weight: the layer's parameter name, the float weight viewed as rows ``(out, K)``, the
    parameters (``None`` for a float format), the dequantized rows and the error (:func:`quantization_error` keys)."""

    name: str
    weight: np.ndarray
    qparams: QParams | None
    dequantized: np.ndarray
    error: dict[str, float]
    payload_bytes: int
    scale_bytes: int


@dataclass(frozen=True, eq=False)
class PTQResult:
    """One post-training quantization of one model: accuracy, per-layer weight error and real size.

    ``nbytes`` = packed weight codes + float32 weight scales + int32 biases (the activations' few scales and zero
    points are left out: they are the same for every weight setting); ``float_nbytes`` = float32 weights + biases.
    """

    layout: str
    bits: int
    granularity: str
    observer: str
    act_bits: int
    weight_format: str
    act_format: str
    test_acc: float
    float_test_acc: float
    agreement: float
    layers: tuple[LayerQuant, ...]
    bias_bytes: int
    float_nbytes: int

    @property
    def relative_acc(self) -> float:
        """Test accuracy relative to the float32 model's (1.0 = no loss)."""
        return self.test_acc / self.float_test_acc

    @property
    def nbytes(self) -> int:
        return sum(q.payload_bytes + q.scale_bytes for q in self.layers) + self.bias_bytes

    @property
    def compression(self) -> float:
        """``float_nbytes / nbytes``."""
        return self.float_nbytes / self.nbytes

    def layer(self, name: str) -> LayerQuant:
        """The :class:`LayerQuant` of parameter ``name`` (e.g. ``"0.weight"``)."""
        for q in self.layers:
            if q.name == name:
                return q
        raise ValueError(f"no quantized layer {name!r}; layers: {', '.join(q.name for q in self.layers)}")


def _gemm_layers(model: Sequential) -> list[tuple[int, Linear | Conv2D]]:
    out = []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Linear | Conv2D):
            out.append((i, layer))
        elif not isinstance(layer, ReLU | Dropout | FakeQuant | MaxPool2D | Flatten):
            raise ValueError(f"layers[{i}] ({type(layer).__name__}) is not supported by ptq_evaluate")
    return out


def float_copy(model: Sequential) -> Sequential:
    """A plain float copy of a (possibly QAT-prepared) model: QATLinear/QATConv2D become Linear/Conv2D holding the
    master weights, FakeQuant layers are dropped."""
    layers = []
    for layer in model.layers:
        if isinstance(layer, FakeQuant):
            continue
        if isinstance(layer, Linear | Conv2D):
            new = layer_like(layer, Conv2D if isinstance(layer, Conv2D) else Linear)
        else:
            layers.append(copy.deepcopy(layer))
            continue
        new.load_params(layer.params())
        layers.append(new)
    return Sequential(*layers)


def _quant_points(model: Sequential) -> list[int]:
    """Indices after which an activation is quantized: each Linear/Conv2D, or the ReLU right after it."""
    points = []
    for i, _ in _gemm_layers(model):
        nxt = model.layers[i + 1] if i + 1 < len(model.layers) else None
        points.append(i + 1 if isinstance(nxt, ReLU) else i)
    return points


class ActivationQuantizer:
    """An activation quantizer calibrated on a list of batches, applied by calling it on an array: integer
    (asymmetric, per tensor, ``bits`` wide, calibrated with ``observer``; its parameters are ``.qp``) or a scaled float
    format (``.scale`` = calibrated absmax / fmt.max, saturating rounding)."""

    def __init__(self, batches: list[np.ndarray], *, bits: int, observer: str, act_format: str) -> None:
        self.act_format = act_format
        if act_format == "int":
            obs = OBSERVERS[observer](bits=bits, symmetric=False)
            for b in batches:
                obs.observe(b)
            self.qp = obs.qparams()
        else:
            fmt = get_format(act_format)
            absmax = max(float(np.max(np.abs(b))) for b in batches)
            self.fmt, self.scale = fmt, np.float32(max(absmax, 2.0**-23) / fmt.max)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.act_format == "int":
            return fake_quantize(x, self.qp)
        return round_to_format(x / self.scale, self.fmt, saturate=True) * self.scale


def _forward_points(model: Sequential, x: np.ndarray, points: list[int], act) -> np.ndarray:
    """Evaluation forward; ``act(k, h)`` is applied to the input (k = 0) and after each point (k = 1, 2, ...)."""
    h = act(0, x)
    k = 1
    for i, layer in enumerate(model.layers):
        h = layer.forward(h, training=False)
        if i in points:
            h = act(k, h)
            k += 1
    return h


def calibrate_activations(
    model: Sequential, calibration_x: np.ndarray, *, bits: int, observer: str, act_format: str = "int",
    batch: int = 64,
) -> list[ActivationQuantizer]:  # fmt: skip
    """One activation quantizer per quantization point (input first), calibrated on the float model's activations
    over ``calibration_x`` in batches of ``batch``."""
    points = _quant_points(model)
    seen: list[list[np.ndarray]] = [[] for _ in range(len(points) + 1)]
    for start in range(0, len(calibration_x), batch):

        def record(k: int, h: np.ndarray) -> np.ndarray:
            seen[k].append(h)
            return h

        _forward_points(model, calibration_x[start : start + batch].astype(np.float32), points, record)
    return [ActivationQuantizer(b, bits=bits, observer=observer, act_format=act_format) for b in seen]


def _check_setting(granularity: str, observer: str, weight_format: str, act_format: str) -> None:
    """ValueError naming the first of a PTQ setting's choices that is not one of its allowed values."""
    check_choice("granularity", granularity, GRANULARITIES)
    check_choice("observer", observer, OBSERVERS)
    check_choice("weight_format", weight_format, WEIGHT_FORMATS)
    check_choice("act_format", act_format, ("int", *LOW_BIT_FLOAT_FORMATS))


def ptq_evaluate(
    model: Sequential,
    task: DigitsTask,
    calibration_x: np.ndarray,
    *,
    bits: int = 8,
    granularity: str = "channel",
    observer: str = "minmax",
    act_bits: int = 8,
    weight_format: str = "int",
    act_format: str = "int",
    group_size: int = 16,
    calib_batch: int = 64,
    layout: str = "",
    activations: list | None = None,
) -> PTQResult:
    """Quantize ``model`` after training (see the module docstring) and measure it on ``task.test``.

    Args:
        bits, granularity, observer: The weights' integer width, scale granularity and calibration.
        act_bits: The activations' integer width (asymmetric, per tensor; the same observer).
        weight_format: ``"int"``, one of :data:`~odyssey_lessons.quant.LOW_BIT_FLOAT_FORMATS`, or ``"nf4"``.
        act_format: ``"int"`` or one of :data:`~odyssey_lessons.quant.LOW_BIT_FLOAT_FORMATS`.
        activations: Precomputed :func:`calibrate_activations` (they do not depend on the weight setting).

    Raises:
        ValueError: Unknown granularity, observer or format, or an unsupported layer.
    """
    _check_setting(granularity, observer, weight_format, act_format)
    model = float_copy(model)
    if activations is None:
        activations = calibrate_activations(model, calibration_x, bits=act_bits, observer=observer,
                                            act_format=act_format, batch=calib_batch)  # fmt: skip
    quantized = copy.deepcopy(model)
    layers, bias_bytes, float_nbytes = [], 0, 0
    for i, layer in _gemm_layers(quantized):
        p = layer.params()
        w = p["weight"]
        rows = w.reshape(w.shape[0], -1).copy()  # a copy: load_params below overwrites the layer's array in place
        qp, deq, payload, scale_bytes = quantize_weight(rows, bits=bits, granularity=granularity, observer=observer,
                                                        group_size=group_size, weight_format=weight_format)  # fmt: skip
        error = quantization_error(rows, qp) if qp is not None else approximation_error(rows, deq)
        rows.flags.writeable = deq.flags.writeable = False  # results are cached and shared: read-only
        layers.append(LayerQuant(f"{i}.weight", rows, qp, deq, error, payload, scale_bytes))
        layer.load_params({"weight": deq.reshape(w.shape), "bias": p["bias"]})
        bias_bytes += 4 * p["bias"].size
        float_nbytes += w.nbytes + p["bias"].nbytes
    x, y = task.test
    points = _quant_points(quantized)
    logits = _forward_points(quantized, x, points, lambda k, h: activations[k](h))
    pred = np.argmax(logits, axis=1)
    float_pred = np.argmax(model.forward(x, training=False), axis=1)
    return PTQResult(
        layout, int(bits), granularity, observer, int(act_bits), weight_format, act_format,
        float(np.mean(pred == y)), float(np.mean(float_pred == y)), float(np.mean(pred == float_pred)),
        tuple(layers), bias_bytes, float_nbytes,
    )  # fmt: skip


def ptq_run(
    layout: str,
    bits: int = 8,
    granularity: str = "channel",
    observer: str = "minmax",
    *,
    act_bits: int = 8,
    weight_format: str = "int",
    act_format: str = "int",
    setup: QuantSetup = QuantSetup(),
) -> PTQResult:
    """:func:`ptq_evaluate` of the trained ``layout`` model (:func:`trained_digits`), calibrated on the first
    ``setup.n_calib`` training images; cached (the same arguments return the same object).

    Raises:
        ValueError: Unknown layout, granularity, observer or format; bits outside 2..8.
    """
    check_choice("layout", layout, LAYOUTS)
    for name, b in (("bits", bits), ("act_bits", act_bits)):
        check_int(name, b, minimum=2, maximum=8)
    _check_setting(granularity, observer, weight_format, act_format)
    return _ptq(layout, int(bits), granularity, observer, int(act_bits), weight_format, act_format, setup)


@lru_cache(maxsize=64)
def _activations(layout: str, act_bits: int, observer: str, act_format: str, setup: QuantSetup) -> list:
    trained = trained_digits(layout, setup)
    return calibrate_activations(trained.model, trained.calibration_x[: setup.n_calib], bits=act_bits,
                                 observer=observer, act_format=act_format, batch=setup.calib_batch)  # fmt: skip


@lru_cache(maxsize=1024)
def _ptq(layout, bits, granularity, observer, act_bits, weight_format, act_format, setup) -> PTQResult:
    trained = trained_digits(layout, setup)
    acts = _activations(layout, act_bits, observer, act_format, setup)
    return ptq_evaluate(trained.model, trained.task, trained.calibration_x[: setup.n_calib], bits=bits,
                        granularity=granularity, observer=observer, act_bits=act_bits, weight_format=weight_format,
                        act_format=act_format, group_size=setup.group_size, layout=layout,
                        activations=acts)  # fmt: skip
