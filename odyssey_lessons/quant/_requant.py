"""Requantization: int32 accumulators -> int8/uint8 codes with a fixed-point multiplier (gemmlowp / TFLite style).

A layer ``y = x @ w`` with ``x = s_x (q_x - z_x)``, ``w = s_w q_w`` and ``y = s_y (q_y - z_y)`` needs
``q_y = z_y + M * acc`` with ``acc = sum (q_x - z_x) q_w`` (+ the int32 bias) and the real multiplier
``M = s_x s_w / s_y``. Integer-only hardware has no float, so ``M`` is stored as ``M = M0 * 2**-31 * 2**-shift``
with ``M0`` an int32 in ``[2**30, 2**31)`` (31 bits of precision) and ``-31 <= shift <= 31``; then (Jacob et al.
2018; TFLite's ``MultiplyByQuantizedMultiplier``):

0. for ``M >= 1`` (``shift < 0``): ``acc * 2**-shift``, saturated to int32 (TFLite's left shift);
1. ``SaturatingRoundingDoublingHighMul(acc, M0)`` = ``round(acc * M0 / 2**31)`` (the high 32 bits of the doubled
   64-bit product, rounded half away from zero; the single overflowing case ``acc = M0 = -2**31`` saturates);
2. ``RoundingDivideByPOT(., max(shift, 0))`` = divide by ``2**shift``, rounding half away from zero;
3. add ``z_y``, clamp to ``[qmin, qmax]`` (ReLU fused: clamp below at ``z_y``, the code of real 0).

Two roundings, so the result is within 1 of ``round(acc * M)`` computed exactly (where the left shift does not
saturate). A layer's ``M`` is below 1 unless its output range is smaller than one input-times-weight step, which
happens with coarse weights (2-bit weights have a large scale ``s_w``), so ``M >= 1`` takes the left shift.

The arithmetic runs in the numba kernels of :mod:`odyssey_lessons.quant._kernels`; this module holds the validating
wrappers.
"""

from __future__ import annotations

import math

import numpy as np

from odyssey_lessons.quant._kernels import requantize_kernel


def quantize_multiplier(real_multiplier: float | np.ndarray) -> tuple[np.ndarray | int, np.ndarray | int]:
    """Split ``M`` into ``M0 * 2**-31 * 2**-shift``, ``M0`` in ``[2**30, 2**31)``, ``-31 <= shift <= 31``.

    ``M = q * 2**e`` with ``q`` in ``[0.5, 1)`` (``frexp``); ``M0 = round(q * 2**31)`` (a rounding up to ``2**31`` is
    renormalised to ``2**30`` with ``e + 1``); ``shift = -e`` (negative for ``M >= 1``: a left shift).
    Relative error ``<= 2**-31``.

    Args:
        real_multiplier: A positive float in ``[2**-32, 2**31)``, or an array of them (per-channel multipliers).

    Returns:
        ``(m0, shift)``: Python ints for a scalar input, int32 arrays shaped like the input for an array.

    Raises:
        TypeError: Not a real number or a float array.
        ValueError: A value that is not finite, not > 0, ``>= 2**31`` or below ``2**-32`` (``|shift|`` would exceed
            31).
    """
    scalar = isinstance(real_multiplier, int | float | np.floating) and not isinstance(real_multiplier, bool)
    if not scalar and not (isinstance(real_multiplier, np.ndarray) and real_multiplier.dtype.kind == "f"):
        raise TypeError(f"real_multiplier must be a float or a float array, got {real_multiplier!r}")
    values = np.atleast_1d(np.asarray(real_multiplier, dtype=np.float64))
    m0 = np.empty(values.shape, dtype=np.int32)
    shift = np.empty(values.shape, dtype=np.int32)
    for idx, m in np.ndenumerate(values):
        if not (math.isfinite(m) and m > 0):
            raise ValueError(f"real_multiplier must be finite and > 0, got {m!r}")
        q, e = math.frexp(m)
        q_fixed = round(q * 2**31)
        if q_fixed == 2**31:  # q rounded up to 1: renormalise
            q_fixed, e = 2**30, e + 1
        if -e > 31:
            raise ValueError(f"real_multiplier={m!r} is below 2**-32: the shift would exceed 31")
        if e > 31:
            raise ValueError(f"real_multiplier={m!r} is not below 2**31: the left shift would exceed 31")
        m0[idx], shift[idx] = q_fixed, -e
    if scalar:
        return int(m0[0]), int(shift[0])
    return m0, shift


def _as_int_vector(name: str, v: object) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(v))
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise TypeError(f"{name} must be an int or a 1-D integer array, got {name}={v!r}")
    return arr.astype(np.int32)


def requantize(
    acc: np.ndarray,
    m0: int | np.ndarray,
    shift: int | np.ndarray,
    *,
    out_zero_point: int,
    qmin: int,
    qmax: int,
    relu: bool = False,
) -> np.ndarray:
    """Requantize int32 accumulators: ``clamp(out_zero_point + RDBPOT(SRDHM(acc, m0), shift), lo, qmax)`` (for
    ``shift < 0``: ``SRDHM(sat32(acc * 2**-shift), m0)``).

    ``lo = max(qmin, out_zero_point)`` with ``relu`` (ReLU fused: real values below 0 clamp to the code of 0), else
    ``qmin``. Per-channel ``m0``/``shift`` (length C) apply along the **last** axis of ``acc`` (channels last, as the
    GEMM produces them); scalars apply to every element. Rounding: half away from zero, twice (see the module).

    Args:
        acc: int32 array, any shape (at least 1-D).
        m0, shift: From :func:`quantize_multiplier`.
        out_zero_point, qmin, qmax: Output zero point and code range; ``[qmin, qmax]`` within uint8 gives uint8,
            within int8 gives int8.

    Returns:
        uint8 or int8 array shaped like ``acc``.

    Raises:
        TypeError: ``acc`` not int32, ``m0``/``shift`` not integers.
        ValueError: Lengths that do not match the last axis, ``m0`` outside ``[2**30, 2**31)``, ``shift`` outside
            ``[-31, 31]``, or a bad code range / zero point.
    """
    if not isinstance(acc, np.ndarray) or acc.dtype != np.int32:
        raise TypeError(f"acc must be an int32 numpy.ndarray, got {getattr(acc, 'dtype', type(acc).__name__)}")
    if acc.ndim < 1:
        raise ValueError(f"acc must have ndim >= 1, got acc.shape={acc.shape}")
    m0v, shv = _as_int_vector("m0", m0), _as_int_vector("shift", shift)
    if m0v.shape != shv.shape or m0v.size not in (1, acc.shape[-1]):
        raise ValueError(
            f"m0 and shift must be scalars or have length acc.shape[-1]={acc.shape[-1]}, "
            f"got {m0v.shape} and {shv.shape}"
        )
    if np.any(m0v < 2**30):
        raise ValueError(f"m0 must be in [2**30, 2**31) (from quantize_multiplier), got m0={m0!r}")
    if np.any(shv < -31) or np.any(shv > 31):
        raise ValueError(f"shift must be in [-31, 31], got shift={shift!r}")
    for name, v in (("out_zero_point", out_zero_point), ("qmin", qmin), ("qmax", qmax)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise TypeError(f"{name} must be an int, got {name}={v!r}")
    if 0 <= qmin < qmax <= 255:
        dtype = np.uint8
    elif -128 <= qmin < qmax <= 127:
        dtype = np.int8
    else:
        raise ValueError(f"[qmin, qmax] must lie within uint8 or int8 with qmin < qmax, got [{qmin}, {qmax}]")
    if not qmin <= out_zero_point <= qmax:
        raise ValueError(f"out_zero_point must be in [{qmin}, {qmax}], got out_zero_point={out_zero_point}")
    lo = max(int(qmin), int(out_zero_point)) if relu else int(qmin)
    rows = np.ascontiguousarray(acc).reshape(-1, acc.shape[-1])
    out = np.empty(rows.shape, dtype=dtype)
    requantize_kernel(rows, m0v, shv, np.int64(out_zero_point), np.int64(lo), np.int64(qmax), out)
    return out.reshape(acc.shape)
