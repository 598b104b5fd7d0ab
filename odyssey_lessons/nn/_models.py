"""The course's models, built in one call so every lesson trains the same networks: the digits MLP and CNN, lesson 7's
profiled CNN (with BatchNorm), and the MLP and CNN of the MNIST-1D paper."""

from __future__ import annotations

import numpy as np

from odyssey_lessons._validate import check_positive, check_positive_int, check_rng
from odyssey_lessons.nn._base import Layer
from odyssey_lessons.nn._conv import Conv1D, Conv2D, MaxPool2D, conv_output_size
from odyssey_lessons.nn._layers import Dropout, Flatten, Linear, ReLU, Residual, Sequential
from odyssey_lessons.nn._norm import BatchNorm


def mlp(
    sizes: tuple[int, ...] | list[int], *, rng: np.random.Generator, init_gain: float = 1.0, dropout: float = 0.0
) -> Sequential:
    """``Linear -> ReLU -> ... -> Linear`` through ``sizes`` (e.g. ``(64, 128, 10)``), with optional Dropout after
    every hidden ReLU.

    ``init_gain`` multiplies every initial weight matrix (He-uniform by default). A gain below 1 shrinks activations
    and gradients layer after layer (by about ``init_gain`` per layer): the "small initialisation" that pushes a deep
    network's gradients under a low-precision format's range.

    Raises:
        TypeError: A size or ``init_gain`` that is not a number, or ``rng`` not a ``numpy.random.Generator``.
        ValueError: Fewer than two sizes, a size < 1, ``init_gain`` not positive and finite, or a bad ``dropout``.
    """
    sizes = [check_positive_int("sizes[i]", s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least the input and output size, got sizes={sizes}")
    init_gain = check_positive("init_gain", init_gain)
    rng = check_rng(rng)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(Linear(n_in, n_out, rng=rng))
        if i < len(sizes) - 2:
            layers.append(ReLU())
            if dropout:
                layers.append(Dropout(dropout, rng=rng))
    model = Sequential(*layers)
    for name, w in model.params().items():
        if name.endswith("weight"):
            w *= np.float32(init_gain)
    return model


def digits_cnn(*, rng: np.random.Generator, channels: int = 8, hidden: int = 32, dropout: float = 0.0) -> Sequential:
    """A small CNN for (N, 1, 8, 8) digits: ``Conv2D(1, c, 3, padding=1) -> ReLU -> MaxPool2D(2) -> Flatten ->
    Linear(16c, hidden) -> ReLU -> [Dropout] -> Linear(hidden, 10)``.

    Raises:
        ValueError, TypeError: A bad size, dropout or rng.
    """
    channels = check_positive_int("channels", channels)
    hidden = check_positive_int("hidden", hidden)
    rng = check_rng(rng)
    layers = [
        Conv2D(1, channels, 3, padding=1, rng=rng),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
        Linear(channels * 16, hidden, rng=rng),
        ReLU(),
    ]
    if dropout:
        layers.append(Dropout(dropout, rng=rng))
    layers.append(Linear(hidden, 10, rng=rng))
    return Sequential(*layers)


def profiled_cnn(width: int = 8, *, hidden: int = 32, seed: int = 0) -> Sequential:
    """Lesson 7's digits CNN: ``Conv2D(1, width, 3, padding=1) -> BatchNorm(width) -> ReLU -> MaxPool2D(2) ->
    Flatten -> Linear(16 width, hidden) -> ReLU -> Linear(hidden, 10)`` for (N, 1, 8, 8) digits, initialised from
    ``np.random.default_rng(seed)``.

    Raises:
        TypeError, ValueError: ``width`` or ``hidden`` not an int >= 1.
    """
    width = check_positive_int("width", width)
    hidden = check_positive_int("hidden", hidden)
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2D(1, width, 3, padding=1, rng=rng),
        BatchNorm(width),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
        Linear(16 * width, hidden, rng=rng),
        ReLU(),
        Linear(hidden, 10, rng=rng),
    )


def mnist1d_mlp(*, rng: np.random.Generator, hidden: int = 100, length: int = 40) -> Sequential:
    """The MNIST-1D paper's MLP (``MLPBase`` in the mnist1d repository's ``notebooks/models.py``) for (N, length)
    signals: ``h = relu(W1 x + b1)``, ``h = h + relu(W2 h + b2)`` (a residual hidden layer), ``logits = W3 h + b3``,
    i.e. ``Linear(length, hidden) -> ReLU -> Residual(Linear(hidden, hidden) -> ReLU) -> Linear(hidden, 10)``;
    15,210 parameters with the defaults. Weights are He-uniform (PyTorch's default init is narrower,
    ``U(+-1/sqrt(fan_in))``, and draws the biases too).

    Raises:
        TypeError, ValueError: A bad size or rng.
    """
    hidden = check_positive_int("hidden", hidden)
    length = check_positive_int("length", length)
    rng = check_rng(rng)
    return Sequential(
        Linear(length, hidden, rng=rng),
        ReLU(),
        Residual(Linear(hidden, hidden, rng=rng), ReLU()),
        Linear(hidden, 10, rng=rng),
    )


def mnist1d_cnn(*, rng: np.random.Generator, channels: int = 25, length: int = 40) -> Sequential:
    """The MNIST-1D paper's CNN (``ConvBase`` in the mnist1d repository's ``notebooks/models.py``) for (N, 1, length)
    signals: ``Conv1D(1, c, 5, stride=2, padding=1) -> ReLU -> Conv1D(c, c, 3, stride=2, padding=1) -> ReLU ->
    Conv1D(c, c, 3, stride=2, padding=1) -> ReLU -> Flatten -> Linear(c * 5, 10)`` (lengths 40 -> 19 -> 10 -> 5);
    5,210 parameters with the defaults. Weights are He-uniform (PyTorch's default init is narrower).

    Raises:
        TypeError, ValueError: A bad size or rng, or a ``length`` too short for the three convolutions.
    """
    channels = check_positive_int("channels", channels)
    length = check_positive_int("length", length)
    rng = check_rng(rng)
    out = length
    for k in (5, 3, 3):
        out = conv_output_size("length", out, k, 2, 1)
    return Sequential(
        Conv1D(1, channels, 5, stride=2, padding=1, rng=rng),
        ReLU(),
        Conv1D(channels, channels, 3, stride=2, padding=1, rng=rng),
        ReLU(),
        Conv1D(channels, channels, 3, stride=2, padding=1, rng=rng),
        ReLU(),
        Flatten(),
        Linear(channels * out, 10, rng=rng),
    )


def layer_like(layer: Linear | Conv2D, cls: type[Layer], **kwargs: object) -> Layer:
    """A new ``cls`` (a Linear or Conv2D, or a subclass) of ``layer``'s shape: its features, or its channels, kernel
    size, stride and padding; ``kwargs`` go to ``cls``. Its parameters are drawn from a fixed ``rng``, for the caller
    to overwrite with ``load_params``.

    Raises:
        TypeError: ``layer`` is not a Linear or Conv2D.
    """
    if not isinstance(layer, Linear | Conv2D):
        raise TypeError(f"layer must be a Linear or Conv2D, got {type(layer).__name__}")
    if isinstance(layer, Conv2D):
        args = (layer.in_channels, layer.out_channels, layer.kernel_size)
        kwargs = {"stride": layer.stride, "padding": layer.padding, **kwargs}
    else:
        args = (layer.in_features, layer.out_features)
    return cls(*args, rng=np.random.default_rng(0), **kwargs)
