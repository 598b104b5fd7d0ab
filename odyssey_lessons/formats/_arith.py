"""Arithmetic carried out in a simulated format: sequential sums that stall, and matmuls with a chosen accumulator."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from odyssey_lessons.formats import _kernels as K
from odyssey_lessons.formats._quantize import _as_float_array, quantize, rounding_params
from odyssey_lessons.formats._spec import FloatFormat, get_format


def accumulate(values: ArrayLike, fmt: str | FloatFormat) -> NDArray[np.float32]:
    """Running sums of ``values`` with every addend and every partial sum rounded to ``fmt`` (nearest even).

    ``s_0 = 0``, ``s_i = round(s_{i-1} + round(x_i))``. Once ``s`` is large, ``round(s + x) == s``: the sum stalls.

    Returns:
        float32 array of the partial sums ``s_1 .. s_n`` (1-D).
    """
    f = get_format(fmt)
    x = quantize(_as_float_array(values, "values").reshape(-1), f)
    out = np.empty(x.size, dtype=np.float32)
    K.accumulate_kernel(x, out, rounding_params(f, False))
    return out


def stall_point(fmt: str | FloatFormat) -> float:
    """Smallest power of two ``N`` with ``round(N + 1) == N`` in ``fmt`` (``2**(M+1)``: the ulp there is 2).

    Found by trying powers of two with :func:`quantize`, not by the formula, so it also tests the rounding.

    Raises:
        ValueError: No such ``N`` below the format's max (e.g. formats whose max is below ``2**(M+1)``).
    """
    f = get_format(fmt)
    n = 1.0
    while n <= f.max:
        if quantize(np.array([n + 1.0]), f)[0] == n:
            return n
        n *= 2.0
    raise ValueError(f"{f.name}: N + 1 rounds to N for no power of two N up to max={f.max}")


def matmul(
    a: ArrayLike,
    b: ArrayLike,
    *,
    input_format: str | FloatFormat = "fp32",
    accumulator_format: str | FloatFormat = "fp32",
) -> NDArray[np.float32]:
    """``a @ b`` with inputs rounded to ``input_format`` and a sequential sum rounded to ``accumulator_format``.

    Each product of two rounded inputs is exact (float64 holds it); after every addition the running sum is rounded
    to the accumulator format (formed in float64 first, which equals direct rounding except in rare double-rounding
    ties). This is the arithmetic of a dot product on hardware with a narrow accumulator.

    Raises:
        ValueError: ``a`` or ``b`` is not 2-D or their inner dimensions differ.
    """
    fa, facc = get_format(input_format), get_format(accumulator_format)
    qa = quantize(_as_float_array(a, "a"), fa)
    qb = quantize(_as_float_array(b, "b"), fa)
    if qa.ndim != 2 or qb.ndim != 2:
        raise ValueError(f"a and b must be 2-D, got a.shape={qa.shape}, b.shape={qb.shape}")
    if qa.shape[1] != qb.shape[0]:
        raise ValueError(f"inner dimensions differ: a.shape={qa.shape}, b.shape={qb.shape}")
    out = np.empty((qa.shape[0], qb.shape[1]), dtype=np.float32)
    K.matmul_kernel(qa, qb, out, rounding_params(facc, False))
    return out


def relative_error(x: ArrayLike, fmt: str | FloatFormat) -> NDArray[np.float64]:
    """``|quantize(x) - x| / |x|`` in float64 (NaN where ``x`` is 0, inf where ``x`` overflows to inf/NaN)."""
    x64 = _as_float_array(x).astype(np.float64)
    q = quantize(x64, fmt).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(q - x64) / np.abs(x64)
    return np.where(np.isfinite(q) | ~np.isfinite(x64), err, math.inf)
