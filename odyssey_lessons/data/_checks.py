"""Argument checks shared by the data modules; each raises with the argument's name, its value and what is allowed."""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_int(name: str, value: object, *, minimum: int) -> int:
    """Return ``value`` as an int, or raise if it is not an integer (bools excluded) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {name}={value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {name}={value!r}")
    return int(value)


def check_seed(seed: object) -> int:
    """A seed is a non-negative int, as ``numpy.random.default_rng`` accepts."""
    return check_int("seed", seed, minimum=0)


def check_fraction(name: str, value: object) -> float:
    """Return ``value`` as a float in ``[0, 1)``, or raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float in [0, 1), got {name}={value!r}")
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise ValueError(f"{name} must be in [0, 1), got {name}={value!r}")
    return float(value)


def check_positive_float(name: str, value: object) -> float:
    """Return ``value`` as a finite float ``> 0``, or raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive float, got {name}={value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite float > 0, got {name}={value!r}")
    return float(value)


def check_real_array(name: str, value: object, *, min_ndim: int = 1) -> np.ndarray:
    """Return ``value`` as an ndarray of real numbers (bool, int or float) with at least ``min_ndim`` axes."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {name}.dtype={array.dtype}")
    if array.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} axes, got {name}.shape={array.shape}")
    return array
