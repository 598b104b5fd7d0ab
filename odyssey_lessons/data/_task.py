"""The course's datasets as ready-to-train arrays: train / val / test ``(x, y)`` pairs shaped for an MLP or a CNN."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from odyssey_lessons._validate import check_int
from odyssey_lessons.data._mnist1d import N_CLASSES_1D, load_mnist1d
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


def mnist1d_task(
    layout: str = "mlp", *, num_train: int = 4000, num_val: int = 1000, num_test: int = 1000, seed: int = 42
) -> DigitsTask:
    """MNIST-1D (:func:`load_mnist1d`) as a :class:`DigitsTask`: float32 signals shaped ``(n, 40)`` for
    ``layout="mlp"`` or ``(n, 1, 40)`` (N, channels, length) for ``layout="cnn"`` (:class:`~odyssey_lessons.nn.Conv1D`),
    int64 labels.

    One dataset of ``num_train + num_val + num_test`` signals is generated with ``seed`` (all other settings are the
    paper's) and cut in that order: the first ``num_train`` are the training set, the next ``num_val`` the validation
    set, the rest the test set. With ``num_val=0`` and the other defaults this is exactly the paper's split (the 4,000
    training and 1,000 test signals of ``mnist1d.data.make_dataset``), and ``val`` is empty (pass ``val=None`` to
    :func:`~odyssey_lessons.train.fit`). The generator has already standardised the signals (over the whole set, as
    the package does), so nothing is standardised again here.

    Raises:
        ValueError: Unknown layout; ``num_train`` or ``num_test`` < 1, ``num_val`` < 0; a total that is not a
            multiple of 10 (the generator makes the same number of signals of every digit).
        TypeError: A count or the seed is not an int.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got layout={layout!r}")
    num_train = check_int("num_train", num_train, minimum=1)
    num_val = check_int("num_val", num_val, minimum=0)
    num_test = check_int("num_test", num_test, minimum=1)
    total = num_train + num_val + num_test
    if total % N_CLASSES_1D:
        raise ValueError(
            f"num_train + num_val + num_test must be a multiple of {N_CLASSES_1D} (as many signals of every digit), "
            f"got {num_train} + {num_val} + {num_test} = {total}"
        )
    data = load_mnist1d(num_samples=total, seed=seed)
    x = np.concatenate([data.x, data.x_test]).astype(np.float32)
    y = np.concatenate([data.y, data.y_test])
    if layout == "cnn":
        x = x[:, None, :]
    cuts = (num_train, num_train + num_val)
    parts = zip(np.split(x, cuts), np.split(y, cuts), strict=True)
    return DigitsTask(*(tuple(np.ascontiguousarray(a) for a in part) for part in parts))
