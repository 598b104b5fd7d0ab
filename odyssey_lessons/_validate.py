"""Argument checks shared by every layer of the package, under one convention.

- A value of the wrong *type* raises ``TypeError``; a value of the right type that is out of range (or not one of
  the allowed choices) raises ``ValueError``.
- Both messages name the argument and the bad value (``f"{name}={value!r}"``) and say what is allowed.
- bools are not numbers here (``True`` is an int to Python, but ``lr=True`` is a mistake), and numpy scalars
  (``np.int64``, ``np.float32``) count as ints and reals as Python's do.

Each check returns the value converted to the plain Python type it checked for, so a caller writes
``n = check_positive_int("n", n)``. Checks that belong to one concept (a quantization width, a schedule's floor)
live with that concept and are built from these.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """``[0, 1)``-style text for the allowed range, or ``>= 1`` when one side is unbounded."""
    if high is None:
        return f"> {low}" if low_open else f">= {low}"
    if low is None:
        return f"< {high}" if high_open else f"<= {high}"
    return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def _in_interval(x: float, low: float | None, high: float | None, low_open: bool, high_open: bool) -> bool:
    above = low is None or (x > low if low_open else x >= low)
    below = high is None or (x < high if high_open else x <= high)
    return above and below


def check_int(name: str, value: object, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int.

    Raises:
        TypeError: ``value`` is not an integer (bools are not).
        ValueError: ``value`` is below ``minimum`` or above ``maximum``.
    """
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {name}={value!r}")
    if not _in_interval(value, minimum, maximum, False, False):
        raise ValueError(f"{name} must be an int {_interval(minimum, maximum, False, False)}, got {name}={value!r}")
    return int(value)


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int ``>= 1`` (a count, a size, a number of repeats); raises as :func:`check_int`."""
    return check_int(name, value, minimum=1)


def check_seed(value: object, name: str = "seed") -> int:
    """A seed is an int ``>= 0``, as ``numpy.random.default_rng`` accepts; raises as :func:`check_int`."""
    return check_int(name, value, minimum=0)


def check_real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
) -> float:
    """Return ``value`` as a float, checked to lie between ``low`` and ``high`` (each bound closed unless
    ``low_open``/``high_open``; ``None`` for no bound) and, unless ``finite=False``, to be finite.

    Raises:
        TypeError: ``value`` is not a real number (bools are not).
        ValueError: ``value`` is NaN, infinite (with ``finite=True``) or outside the interval.
    """
    if not _is_real(value):
        raise TypeError(f"{name} must be a real number, got {name}={value!r}")
    x = float(value)
    if math.isnan(x) or (finite and math.isinf(x)) or not _in_interval(x, low, high, low_open, high_open):
        allowed = "" if low is None and high is None else " " + _interval(low, high, low_open, high_open)
        raise ValueError(f"{name} must be a {'finite ' if finite else ''}number{allowed}, got {name}={value!r}")
    return x


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a finite float ``> 0``; raises as :func:`check_real`."""
    return check_real(name, value, low=0, low_open=True)


def check_nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a finite float ``>= 0``; raises as :func:`check_real`."""
    return check_real(name, value, low=0)


def check_fraction(name: str, value: object) -> float:
    """Return ``value`` as a float in ``[0, 1)`` (a decay rate, a momentum, a held-out fraction); raises as
    :func:`check_real`."""
    return check_real(name, value, low=0, high=1, high_open=True)


def check_probability(name: str, value: object) -> float:
    """Return ``value`` as a float in ``[0, 1]``; raises as :func:`check_real`."""
    return check_real(name, value, low=0, high=1)


def check_open_unit(name: str, value: object) -> float:
    """Return ``value`` as a float in ``(0, 1)``; raises as :func:`check_real`."""
    return check_real(name, value, low=0, high=1, low_open=True, high_open=True)


def check_choice(name: str, value: object, allowed: Collection) -> object:
    """Return ``value`` if it is one of ``allowed``.

    Raises:
        ValueError: ``value`` is not one of ``allowed`` (whatever its type: a choice names a value, not a type).
    """
    try:
        ok = value in allowed
    except TypeError:  # an unhashable value tested against a set
        ok = False
    if not ok:
        shown = tuple(allowed) if not isinstance(allowed, tuple) else allowed
        raise ValueError(f"{name} must be one of {shown}, got {name}={value!r}")
    return value


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` as a bool (``numpy.bool_`` included): a forgotten flag fails loudly, not by truthiness.

    Raises:
        TypeError: ``value`` is not a bool (``0``, ``1`` and ``None`` are not).
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, got {name}={value!r}")
    return bool(value)


def check_rng(rng: object, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``.

    Raises:
        TypeError: Anything else (a seed, ``None``, the legacy ``np.random`` module).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), got {name}={rng!r}")
    return rng


def check_float_array(name: str, x: object, *, ndim: tuple[int, ...], dtype: np.dtype | None = None) -> np.ndarray:
    """Return ``x`` if it is a float32/float64 ndarray with one of the allowed ``ndim`` (and ``dtype`` if given).

    Raises:
        TypeError: ``x`` is not an ndarray, or has another dtype.
        ValueError: ``x`` has another number of dimensions.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {name}.dtype={x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{name}.dtype={x.dtype} does not match the layer's parameters ({dtype}); "
            f"convert the input or call layer.to(np.{x.dtype})"
        )
    if x.ndim not in ndim:
        raise ValueError(f"{name} must have ndim in {ndim}, got {name}.shape={x.shape}")
    return x
