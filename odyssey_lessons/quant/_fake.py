"""Fake quantization for quantization-aware training (QAT), with the straight-through estimator (STE).

Rounding has zero gradient almost everywhere, so training through ``fake_quantize`` would never move the weights.
The STE pretends the forward was the identity where the value was representable:
``d x_hat / d x = 1`` if ``qmin <= rint(x / s) + z <= qmax`` else ``0`` ("clipped STE", the mask PyTorch's
``fake_quantize_per_tensor_affine`` uses). The float32 master weights keep every small update; only the forward sees
the quantized grid, so the network learns weights that survive quantization.

- :class:`FakeQuant`: a layer for activations; in training it observes each batch (moving-average min/max by default)
  and fake-quantizes with the current range; in evaluation it uses the frozen range.
- :class:`QATLinear`, :class:`QATConv2D`: Linear/Conv2D whose forward uses fake-quantized weights (symmetric,
  absmax per output channel by default, recomputed every step); their parameters keep the names ``weight``/``bias``,
  so :mod:`odyssey_lessons.optim` and :func:`odyssey_lessons.train.fit` update them as usual.
- :func:`prepare_qat`: a copy of a float :class:`~odyssey_lessons.nn.Sequential` with those layers swapped in.
"""

from __future__ import annotations

import copy
from typing import Self

import numpy as np

from odyssey_lessons._validate import check_bool, check_float_array
from odyssey_lessons.nn import Conv2D, Layer, Linear, ReLU, Sequential, layer_like
from odyssey_lessons.quant._affine import (
    QParams,
    calc_qparams,
    check_bits,
    check_granularity,
    fake_quantize,
    minmax_ranges,
)
from odyssey_lessons.quant._observers import OBSERVERS, Observer


def ste_mask(x: np.ndarray, qp: QParams) -> np.ndarray:
    """Clipped-STE mask: 1.0 where ``qmin <= rint(x / s) + z <= qmax`` (the value was representable), else 0.0;
    float32 of ``x``'s shape."""
    scale, zero_point = qp.expand(x.shape)
    with np.errstate(over="ignore"):
        t = np.rint(x.astype(np.float32) / scale) + zero_point
    return ((t >= qp.qmin) & (t <= qp.qmax)).astype(np.float32)


class FakeQuant(Layer):
    """Fake-quantize activations: ``y = fake_quantize(x, qp)``; backward ``dx = dy * ste_mask(x, qp)``.

    In training each forward first observes ``x`` (so ``qp`` follows the data); in evaluation ``qp`` comes from the
    ranges observed so far, unchanged.

    Args:
        bits: Integer width, 2..8.
        symmetric: Asymmetric (default; unsigned with a zero point, fits ReLU outputs) or symmetric.
        observer: A name from :data:`~odyssey_lessons.quant.OBSERVERS` (default ``"moving_average"``).
        granularity, axis, group_size: As for :func:`~odyssey_lessons.quant.choose_qparams`.
        **observer_kwargs: Passed to the observer (e.g. ``averaging_constant=0.01``).

    Use the default moving-average observer for QAT: the percentile and MSE observers keep every batch they see and
    recompute their range from all of it on each training forward (they suit a few calibration batches, then
    evaluation-mode use).

    Raises:
        ValueError: Unknown observer or bad bits/granularity; evaluation before any training forward
            ("empty calibration data").
    """

    def __init__(
        self,
        bits: int = 8,
        *,
        symmetric: bool = False,
        observer: str = "moving_average",
        granularity: str = "tensor",
        axis: int | None = None,
        group_size: int | None = None,
        **observer_kwargs: object,
    ) -> None:
        super().__init__()
        if observer not in OBSERVERS:
            raise ValueError(f"observer must be one of {tuple(OBSERVERS)}, got {observer=}")
        self.observer: Observer = OBSERVERS[observer](
            bits=bits, symmetric=symmetric, granularity=granularity, axis=axis, group_size=group_size, **observer_kwargs
        )
        self.bits, self.symmetric, self.observer_name = int(bits), bool(symmetric), observer
        self._mask: np.ndarray | None = None

    def qparams(self) -> QParams:
        """The current quantization parameters (ValueError "empty calibration data" before any observation)."""
        return self.observer.qparams()

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        training = check_bool("training", training)
        check_float_array("x", x, ndim=(1, 2, 3, 4, 5))
        if training:
            self.observer.observe(x)
        qp = self.observer.qparams()
        self._mask = ste_mask(x, qp).astype(x.dtype)
        return self._remember_output(fake_quantize(x, qp).astype(x.dtype))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return self._check_grad(grad_y) * self._mask

    def __repr__(self) -> str:
        return f"FakeQuant(bits={self.bits}, symmetric={self.symmetric}, observer={self.observer_name!r})"


class _QATWeight:
    """Mixin for a layer with a ``weight`` param whose axis 0 is the output channel: the forward and backward of the
    float layer run with the fake-quantized weight swapped in; its gradient goes straight to the master weight.

    The constructor is the float layer's, plus ``bits``, ``granularity`` and ``group_size`` (checked here); the float
    layer's own ``__init__`` checks the rest."""

    def __init__(
        self, *args: object, bits: int = 4, granularity: str = "channel", group_size: int | None = None,
        **kwargs: object,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.bits = check_bits(bits)
        w = self._params["weight"]
        axis = None if granularity == "tensor" else (0 if granularity == "channel" else 1)
        dim = int(np.prod(w.shape[1:]))
        self.granularity, self._qaxis, self.group_size = check_granularity(2, granularity, axis, group_size, dim=dim)
        self._wq: np.ndarray | None = None

    @classmethod
    def from_float(
        cls, layer: Linear | Conv2D, *, bits: int = 4, granularity: str = "channel", group_size: int | None = None
    ) -> Self:
        """A QAT layer holding a copy of the float ``layer``'s shape, weight and bias (``layer`` is not changed).

        Raises:
            TypeError: ``layer`` is not of the float class this QAT class extends.
        """
        float_cls = Linear if issubclass(cls, Linear) else Conv2D
        if not isinstance(layer, float_cls):
            raise TypeError(f"layer must be a {float_cls.__name__}, got {type(layer).__name__}")
        q = layer_like(layer, cls, bits=bits, granularity=granularity, group_size=group_size)
        q.to(layer.dtype).load_params(layer.params())
        return q

    def weight_qparams(self) -> QParams:
        """Symmetric absmax :class:`QParams` of the current weight, viewed as ``(out, -1)`` (groups along the
        flattened input dimension)."""
        w = self._params["weight"]
        w2 = w.reshape(w.shape[0], -1)
        lo, hi = minmax_ranges(w2, self.granularity, self._qaxis, self.group_size)
        return calc_qparams(
            lo,
            hi,
            bits=self.bits,
            symmetric=True,
            granularity=self.granularity,
            axis=self._qaxis,
            group_size=self.group_size,
        )

    def quantized_weight(self) -> np.ndarray:
        """The fake-quantized weight the forward uses, in the params' dtype."""
        w = self._params["weight"]
        return fake_quantize(w.reshape(w.shape[0], -1), self.weight_qparams()).reshape(w.shape).astype(w.dtype)

    def _with_weight(self, w: np.ndarray, fn, arg: np.ndarray) -> np.ndarray:
        # The float layer reads self._params["weight"]; swap the quantized copy in for one call. The master array
        # itself is never replaced, so load_params/optimizers that write into it in place keep working.
        master = self._params["weight"]
        self._params["weight"] = w
        try:
            return fn(arg)
        finally:
            self._params["weight"] = master

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        self._wq = self.quantized_weight()
        return self._with_weight(self._wq, lambda a: super(_QATWeight, self).forward(a, training), x)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        if self._wq is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        # the weight gradient is taken w.r.t. the quantized weight and added to the master's (the STE); absmax
        # ranges never clip a weight, so the clipped-STE mask is all ones here
        return self._with_weight(self._wq, super().backward, grad_y)


class QATLinear(_QATWeight, Linear):
    """:class:`~odyssey_lessons.nn.Linear` with fake-quantized weights: ``y = x @ fq(W).T + b``; backward
    ``dW += dy.T @ x`` (STE), ``dx = dy @ fq(W)``. ``fq`` is symmetric ``bits``-bit quantization with absmax
    scales per output row (``granularity="channel"``), per tensor, or per group of ``group_size`` inputs.

    ``QATLinear(in_features, out_features, *, rng, bits=4, granularity="channel", group_size=None)``; build one from
    a trained layer with :meth:`from_float`."""

    def __repr__(self) -> str:
        return (
            f"QATLinear(in_features={self.in_features}, out_features={self.out_features}, bits={self.bits}, "
            f"granularity={self.granularity!r})"
        )


class QATConv2D(_QATWeight, Conv2D):
    """:class:`~odyssey_lessons.nn.Conv2D` with fake-quantized weights (symmetric absmax per output channel by
    default; groups run along the flattened ``(in_channels, k, k)`` axis).

    ``QATConv2D(in_channels, out_channels, kernel_size, *, stride=1, padding=0, rng, bits=4, granularity="channel",
    group_size=None)``; build one from a trained layer with :meth:`from_float`."""

    def __repr__(self) -> str:
        return f"QATConv2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, bits={self.bits})"


def prepare_qat(
    model: Sequential,
    *,
    weight_bits: int = 4,
    act_bits: int = 8,
    weight_granularity: str = "channel",
    weight_group_size: int | None = None,
    act_observer: str = "moving_average",
) -> Sequential:
    """A new Sequential for QAT: every Linear/Conv2D becomes a :class:`QATLinear`/:class:`QATConv2D` (copies of the
    parameters), a :class:`FakeQuant` (``act_bits``, asymmetric) follows every ReLU, other layers are deep copies.
    ``model`` is not changed. Nested Sequentials are prepared recursively.

    The inserted FakeQuant layers shift the flat parameter names (``"2.weight"`` may become ``"3.weight"``); each
    layer's own names (``weight``, ``bias``) are unchanged.

    Raises:
        TypeError: ``model`` is not a Sequential.
        ValueError: Bad bits, granularity or group size.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a Sequential, got {type(model).__name__}")
    layers: list[Layer] = []
    for layer in model.layers:
        if isinstance(layer, Sequential):
            layers.append(
                prepare_qat(
                    layer,
                    weight_bits=weight_bits,
                    act_bits=act_bits,
                    weight_granularity=weight_granularity,
                    weight_group_size=weight_group_size,
                    act_observer=act_observer,
                )
            )
        elif isinstance(layer, Linear | Conv2D):
            cls = QATLinear if isinstance(layer, Linear) else QATConv2D
            layers.append(
                cls.from_float(layer, bits=weight_bits, granularity=weight_granularity, group_size=weight_group_size)
            )
        else:
            layers.append(copy.deepcopy(layer))
            if isinstance(layer, ReLU):
                layers.append(FakeQuant(act_bits, symmetric=False, observer=act_observer))
    return Sequential(*layers)
