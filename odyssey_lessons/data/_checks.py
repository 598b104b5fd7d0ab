"""The check particular to the data modules (an array of real numbers); the general ones are in
:mod:`odyssey_lessons._validate`."""

from __future__ import annotations

import numpy as np


def check_real_array(name: str, value: object, *, min_ndim: int = 1) -> np.ndarray:
    """Return ``value`` as an ndarray of real numbers (bool, int or float) with at least ``min_ndim`` axes.

    Raises:
        TypeError: The values are not real numbers.
        ValueError: Fewer than ``min_ndim`` axes.
    """
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {name}.dtype={array.dtype}")
    if array.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} axes, got {name}.shape={array.shape}")
    return array
