"""The course's digit models, built in one call so every lesson trains the same networks: the MLP, the CNN, and
lesson 7's profiled CNN (with BatchNorm)."""

from __future__ import annotations

import math

import numpy as np

from odyssey_lessons.nn._base import check_positive_int, check_rng
from odyssey_lessons.nn._conv import Conv2D, MaxPool2D
from odyssey_lessons.nn._layers import Dropout, Flatten, Linear, ReLU, Sequential
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
        ValueError: Fewer than two sizes, a size < 1, ``init_gain`` not positive and finite, or a bad ``dropout``.
    """
    sizes = [check_positive_int("sizes[i]", s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least the input and output size, got sizes={sizes}")
    if (
        isinstance(init_gain, bool)
        or not isinstance(init_gain, int | float)
        or not (math.isfinite(init_gain) and init_gain > 0)
    ):
        raise ValueError(f"init_gain must be positive and finite, got init_gain={init_gain!r}")
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
