"""FLOP and byte counts of each layer of a training step, derived from the layer's shapes (nothing is run).

Conventions (those of the roofline literature and of ``torch.utils.flop_counter``):

- **A multiply-add is 2 FLOPs.** A matrix product (m, k) @ (k, n) is ``2 m k n`` FLOPs.
- **Backward of a linear map is twice its forward**: one product for the input gradient, one for the weight
  gradient. Bias terms are counted here (``B * out`` adds forward, ``B * out`` adds for the bias gradient);
  ``FlopCounterMode`` leaves them out, so subtract them to compare.
- **Bytes are the minimum traffic**: every input, weight and cached activation read once, every output (and
  gradient) written once, at ``itemsize`` bytes per value. Real kernels move more (im2col's ``cols`` matrix,
  temporaries, gradient accumulation reading the old gradient); the minimum is what a roofline's memory roof is about.
- Backward reads the output gradient and what forward cached, and writes the input gradient and the parameter
  gradients.

Each layer type has one counting function in :data:`COUNTERS` (a registry, no if-chains).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from odyssey_lessons._validate import check_int
from odyssey_lessons.nn import (
    BatchNorm,
    Conv2D,
    Dropout,
    Flatten,
    Layer,
    Linear,
    MaxPool2D,
    ReLU,
    Sequential,
    conv_output_size,
)


@dataclass(frozen=True)
class Counts:
    """FLOPs and bytes moved by one layer for a given input shape (forward, and backward as a training step runs it).

    Attributes:
        forward_flops, backward_flops: Floating-point operations (a multiply-add counts 2).
        forward_bytes, backward_bytes: Minimum memory traffic in bytes (see the module docstring).
        params: Number of trainable values.
        input_shape, output_shape: Shapes of the layer's input and output.
    """

    forward_flops: int
    backward_flops: int
    forward_bytes: int
    backward_bytes: int
    params: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    @property
    def flops(self) -> int:
        """Forward plus backward FLOPs."""
        return self.forward_flops + self.backward_flops

    @property
    def bytes(self) -> int:
        """Forward plus backward bytes."""
        return self.forward_bytes + self.backward_bytes

    @property
    def intensity(self) -> float:
        """Arithmetic intensity ``flops / bytes`` (FLOP per byte); NaN for a layer that moves no bytes."""
        return self.flops / self.bytes if self.bytes else float("nan")


def _check_shape(shape: object, ndims: tuple[int, ...], layer: str) -> tuple[int, ...]:
    if not isinstance(shape, tuple | list):
        raise TypeError(f"input_shape must be a tuple of ints >= 1, got input_shape={shape!r}")
    shape = tuple(check_int("input_shape[i]", d, minimum=1) for d in shape)
    if len(shape) not in ndims:
        raise ValueError(f"{layer} takes inputs with ndim in {ndims}, got input_shape={shape}")
    return shape


def _linear(layer: Linear, shape: tuple[int, ...], isz: int, training: bool) -> Counts:
    """Forward ``2 B in out + B out`` (bias); backward ``2 B in out`` (dx) + ``2 B in out`` (dW) + ``B out`` (db).
    Bytes forward: read x, W, b, write y; backward: read dy, x, W, write dx, dW, db."""
    b, n_in = _check_shape(shape, (2,), "Linear")
    n_out = layer.out_features
    if n_in != layer.in_features:
        raise ValueError(f"Linear expects input_shape (B, {layer.in_features}), got input_shape={shape}")
    w = n_in * n_out
    return Counts(
        forward_flops=2 * b * w + b * n_out,
        backward_flops=4 * b * w + b * n_out,
        forward_bytes=isz * (b * n_in + w + n_out + b * n_out),
        backward_bytes=isz * (b * n_out + b * n_in + w + b * n_in + w + n_out),
        params=w + n_out,
        input_shape=shape,
        output_shape=(b, n_out),
    )


def _conv2d(layer: Conv2D, shape: tuple[int, ...], isz: int, training: bool) -> Counts:
    """With ``P = B O Ho Wo`` outputs and ``K = C kh kw`` values per patch: forward ``2 P K + P`` (bias); backward
    ``2 P K`` (dx) + ``2 P K`` (dW) + ``P`` (db). These are the im2col matrix product's shapes: (B Ho Wo, K) @ (K, O).
    Bytes forward: read x, W, b, write y; backward: read dy, x, W, write dx, dW, db (``cols`` is not counted: it is
    this implementation's extra traffic, not the minimum)."""
    b, c, h, w = _check_shape(shape, (4,), "Conv2D")
    if c != layer.in_channels:
        raise ValueError(f"Conv2D expects {layer.in_channels} input channels (B, C, H, W), got input_shape={shape}")
    k, s, p, o = layer.kernel_size, layer.stride, layer.padding, layer.out_channels
    oh, ow = conv_output_size("H", h, k, s, p), conv_output_size("W", w, k, s, p)
    outs, patch = b * o * oh * ow, c * k * k
    n_w, n_x = o * patch, b * c * h * w
    return Counts(
        forward_flops=2 * outs * patch + outs,
        backward_flops=4 * outs * patch + outs,
        forward_bytes=isz * (n_x + n_w + o + outs),
        backward_bytes=isz * (outs + n_x + n_w + n_x + n_w + o),
        params=n_w + o,
        input_shape=shape,
        output_shape=(b, o, oh, ow),
    )


def _maxpool2d(layer: MaxPool2D, shape: tuple[int, ...], isz: int, training: bool) -> Counts:
    """Forward ``k*k - 1`` comparisons per output (a comparison counts as 1 FLOP); backward 1 add per output
    (routing its gradient to the winner, accumulated where windows overlap). Bytes forward: read x, write y;
    backward: read dy and the cached input (enough to find the winners), write dx."""
    b, c, h, w = _check_shape(shape, (4,), "MaxPool2D")
    k, s = layer.kernel_size, layer.stride
    if h < k or w < k:
        raise ValueError(f"MaxPool2D: input_shape={shape} is smaller than kernel_size={k}")
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    outs, n_x = b * c * oh * ow, b * c * h * w
    return Counts(
        forward_flops=outs * (k * k - 1),
        backward_flops=outs,
        forward_bytes=isz * (n_x + outs),
        backward_bytes=isz * (outs + n_x + n_x),
        params=0,
        input_shape=shape,
        output_shape=(b, c, oh, ow),
    )


def _elementwise(shape: tuple[int, ...], isz: int, fwd: int, bwd: int) -> Counts:
    """``fwd`` / ``bwd`` FLOPs per element; bytes forward: read x, write y; backward: read dy and the cache (mask),
    write dx."""
    n = math.prod(shape)
    return Counts(fwd * n, bwd * n, isz * 2 * n, isz * 3 * n, 0, shape, shape)


def _relu(layer: ReLU, shape: tuple[int, ...], isz: int, training: bool) -> Counts:
    """1 FLOP per element forward (``max(x, 0)``) and 1 backward (``dy * mask``)."""
    return _elementwise(_check_shape(shape, (1, 2, 3, 4, 5), "ReLU"), isz, 1, 1)


def _dropout(layer: Dropout, shape: tuple[int, ...], isz: int, training: bool) -> Counts:
    """1 FLOP per element forward (``x * scale``) and 1 backward (``dy * scale``), in training with ``p > 0``
    (drawing the random mask is not counted); at evaluation or with ``p = 0`` it is the identity: nothing."""
    shape = _check_shape(shape, (1, 2, 3, 4, 5), "Dropout")
    if layer.p == 0.0 or not training:
        return Counts(0, 0, 0, 0, 0, shape, shape)
    return _elementwise(shape, isz, 1, 1)


def _flatten(layer: Flatten, shape: tuple[int, ...], isz: int, training: bool) -> Counts:
    """A reshape (a view of the same memory): no FLOPs, no bytes."""
    shape = _check_shape(shape, (2, 3, 4, 5), "Flatten")
    return Counts(0, 0, 0, 0, 0, shape, (shape[0], math.prod(shape[1:])))


def _batchnorm(layer: BatchNorm, shape: tuple[int, ...], isz: int, training: bool) -> Counts:
    """Per element, training mode. Forward 8: mean (1 add), variance (subtract, square, add: 3), normalise
    (subtract, multiply: 2), affine (multiply, add: 2). Backward 11: dweight (multiply, add), dbias (add),
    ``g = dy * weight`` (1), mean of g (1), ``g * xhat`` and its mean (2), ``xhat * that`` (1), two subtractions,
    ``* inv_std`` (1). Per-channel terms (O(C)) are left out. Bytes forward: read x, write y, read weight and bias;
    backward: read dy, xhat (cached) and weight, write dx, dweight, dbias.

    Evaluation mode uses the running statistics: forward 4 per element (subtract, two multiplies, add) reading the
    running mean and variance too; backward (rarely run) 5: ``dy * weight * inv_std`` (2), dweight (2), dbias (1)."""
    shape = _check_shape(shape, (2, 4), "BatchNorm")
    c = layer.num_features
    if shape[1] != c:
        raise ValueError(f"BatchNorm expects {c} channels on axis 1, got input_shape={shape}")
    n = math.prod(shape)
    if not training:
        return Counts(4 * n, 5 * n, isz * (2 * n + 4 * c), isz * (3 * n + 3 * c), 2 * c, shape, shape)
    return Counts(8 * n, 11 * n, isz * (2 * n + 2 * c), isz * (3 * n + 3 * c), 2 * c, shape, shape)


Counter = Callable[[Layer, tuple[int, ...], int, bool], Counts]

COUNTERS: dict[type, Counter] = {
    Linear: _linear,
    Conv2D: _conv2d,
    MaxPool2D: _maxpool2d,
    ReLU: _relu,
    Flatten: _flatten,
    Dropout: _dropout,
    BatchNorm: _batchnorm,
}
"""Layer type -> counting function ``(layer, input_shape, itemsize, training) -> Counts``."""


def _lookup(registry: dict[type, Callable], layer: object, what: str) -> Callable:
    for cls in type(layer).__mro__:  # a subclass of a known layer counts like its parent
        if cls in registry:
            return registry[cls]
    known = ", ".join(sorted(c.__name__ for c in registry))
    raise TypeError(f"no {what} for layer type {type(layer).__name__} (known: {known})")


def layer_counts(layer: Layer, input_shape: tuple[int, ...], *, itemsize: int = 4, training: bool = True) -> Counts:
    """FLOPs and bytes of ``layer`` on an input of ``input_shape`` (see the module docstring for the conventions).

    ``training`` selects the forward that is counted (Dropout is the identity and BatchNorm uses its running
    statistics at evaluation); backward counts are those of a training step.

    Raises:
        TypeError: A layer type without a counter in :data:`COUNTERS`, ``itemsize`` not an int, or ``input_shape``
            not a tuple of ints.
        ValueError: ``itemsize`` < 1, or an ``input_shape`` the layer cannot take.
    """
    itemsize = check_int("itemsize", itemsize, minimum=1)
    return _lookup(COUNTERS, layer, "FLOP counter")(layer, input_shape, int(itemsize), bool(training))


def model_counts(
    model: Sequential, input_shape: tuple[int, ...], *, itemsize: int = 4, training: bool = True
) -> list[Counts]:
    """:func:`layer_counts` of each layer of ``model``, feeding each layer's output shape to the next.

    Raises:
        TypeError: ``model`` is not a Sequential, or it holds a layer type without a counter.
        ValueError: ``input_shape`` does not fit the model.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an nn.Sequential, got {type(model).__name__}")
    out, shape = [], input_shape
    for layer in model.layers:
        counts = layer_counts(layer, shape, itemsize=itemsize, training=training)
        out.append(counts)
        shape = counts.output_shape
    return out


def loss_counts(logits_shape: tuple[int, ...], *, itemsize: int = 4) -> Counts:
    """Softmax cross-entropy and its gradient (one pass), per logit: max (1), subtract (1), exp (1), sum (1),
    log-softmax subtraction (1), target product and sum (2) for the loss, then divide, subtract, scale (3) for the
    gradient: 10 FLOPs, all counted as forward. Bytes: read the logits, write the gradient."""
    shape = _check_shape(logits_shape, (2,), "softmax_cross_entropy")
    n = math.prod(shape)
    return Counts(10 * n, 0, itemsize * 2 * n, 0, 0, shape, shape)


_NAMERS: dict[type, Callable[[Layer], str]] = {
    Linear: lambda m: f"Linear({m.in_features}→{m.out_features})",
    Conv2D: lambda m: f"Conv2D({m.in_channels}→{m.out_channels}, {m.kernel_size}×{m.kernel_size})",
    MaxPool2D: lambda m: f"MaxPool2D({m.kernel_size}×{m.kernel_size})",
    Dropout: lambda m: f"Dropout(p={m.p:g})",
    BatchNorm: lambda m: f"BatchNorm({m.num_features})",
}


def layer_name(layer: Layer, index: int | None = None) -> str:
    """A short readable name: ``"Conv2D(1→8, 3×3)"``, ``"Linear(128→32)"``, ``"ReLU"``; prefixed by ``"3: "`` when
    ``index`` is given."""
    namer = next((_NAMERS[c] for c in type(layer).__mro__ if c in _NAMERS), None)
    name = namer(layer) if namer is not None else type(layer).__name__
    return name if index is None else f"{index}: {name}"
