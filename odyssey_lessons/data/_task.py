"""The digits as ready-to-train arrays: split, standardized with training statistics, shaped for an MLP or a CNN."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from odyssey_lessons.data._preprocess import as_cnn_input, as_mlp_input, standardize
from odyssey_lessons.data._split import split_digits

LAYOUTS = ("mlp", "cnn")


class DigitsTask(NamedTuple):
    """``(x, y)`` pairs for training, validation and test: float32 inputs, int64 labels."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]


def digits_task(layout: str = "mlp", *, seed: int = 0) -> DigitsTask:
    """The digits split with :func:`split_digits` (``seed``), standardized per pixel with the training statistics
    (:func:`standardize`) and shaped ``(n, 64)`` for ``layout="mlp"`` or ``(n, 1, 8, 8)`` for ``layout="cnn"``.

    Raises:
        ValueError: Unknown layout or a bad seed.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got layout={layout!r}")
    split = split_digits(seed=seed)
    (x_train, x_val, x_test), _ = standardize(split.x_train, split.x_val, split.x_test)
    shape = as_mlp_input if layout == "mlp" else as_cnn_input
    return DigitsTask((shape(x_train), split.y_train), (shape(x_val), split.y_val), (shape(x_test), split.y_test))
