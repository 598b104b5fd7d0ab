"""numba kernels of the integer pipeline's element-wise steps: quantizing float activations to uint8 codes
(:func:`quantize_u8_kernel`), unpacking sub-byte weight codes (:func:`unpack_signed_kernel`), and requantization,
int32 accumulators -> int8/uint8 codes with a fixed-point multiplier (the rest of this module).

The arithmetic (gemmlowp's ``SaturatingRoundingDoublingHighMul`` and ``RoundingDivideByPOT``, TFLite's saturating
left shift for multipliers ``M >= 1``) and the steps 0-3 the docstrings below name are explained in
:mod:`odyssey_lessons.quant._requant`, whose :func:`~odyssey_lessons.quant._requant.requantize` validates and calls
:func:`requantize_kernel`. The inlined :func:`requantize_right` and :func:`requantize_value` are also the epilogue of
the VNNI kernels (:mod:`odyssey_lessons.quant._vnnikernels`). :func:`quantize_u8_kernel` is called by
:meth:`~odyssey_lessons.quant.QuantizedModel.forward_int` (the model checked the parameters when it was built),
:func:`unpack_signed_kernel` by :class:`~odyssey_lessons.quant._pack.PackedCodes` (the weights of the VNNI kernels).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_INT32_MIN = np.int64(-(2**31))
_INT32_MAX = np.int64(2**31 - 1)
_NUDGE_POS = np.int64(1 << 30)
_NUDGE_NEG = np.int64(1 - (1 << 30))
_TWO31 = np.int64(1 << 31)


@njit(cache=True)
def srdhm(a, b):
    """gemmlowp's SaturatingRoundingDoublingHighMul for int32 values held in int64: ``round(a * b / 2**31)``,
    half away from zero, with C's truncating division; saturates the one overflow ``a = b = -2**31``."""
    if a == _INT32_MIN and b == _INT32_MIN:
        return _INT32_MAX
    ab = a * b
    nudge = _NUDGE_POS if ab >= 0 else _NUDGE_NEG
    t = ab + nudge
    q = t // _TWO31
    if t < 0 and q * _TWO31 != t:  # floor -> truncation toward zero, as in C
        q += 1
    return q


@njit(cache=True)
def rounding_divide_by_pot(x, exponent):
    """gemmlowp's RoundingDivideByPOT: ``x / 2**exponent`` rounded half away from zero (arithmetic shift + fix)."""
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


@njit(cache=True, inline="always")
def requantize_right(acc, m0, right, zp, lo, hi):
    """``clamp(zp + RDBPOT(SRDHM(acc, m0), right), lo, hi)`` for an int32 accumulator and ``right >= 0`` (steps 1-3),
    as int64. The arithmetic of :func:`srdhm` and :func:`rounding_divide_by_pot` written with selects instead of
    branches, so that a loop over channels vectorises (the VNNI kernel's epilogue); ``m0 >= 0`` (quantize_multiplier
    gives ``[2**30, 2**31)``), so SRDHM's one saturating case ``acc = m0 = -2**31`` cannot occur."""
    ab = np.int64(acc) * np.int64(m0)
    t = ab + (_NUDGE_POS if ab >= 0 else _NUDGE_NEG)
    q = (t + (_TWO31 - 1 if t < 0 else 0)) >> 31  # t / 2**31 truncated toward zero, as in C
    r = np.int64(right)
    mask = (np.int64(1) << r) - 1
    threshold = (mask >> 1) + (1 if q < 0 else 0)
    v = (q >> r) + (1 if (q & mask) > threshold else 0) + zp
    return min(max(v, lo), hi)


@njit(cache=True, inline="always")
def requantize_value(acc, m0, shift, zp, lo, hi):
    """Steps 0-3 for one int32 accumulator: for ``shift < 0`` (``M >= 1``) a left shift by ``-shift`` saturated to
    int32 (TFLite), then :func:`requantize_right` with ``max(shift, 0)``."""
    sh = np.int64(shift)
    a = min(max(np.int64(acc) << (-sh if sh < 0 else np.int64(0)), _INT32_MIN), _INT32_MAX)
    return requantize_right(a, m0, sh if sh > 0 else np.int64(0), zp, lo, hi)


@njit(cache=True)
def requantize_kernel(acc, m0, shift, zp, lo, hi, out):
    """``out[r, c] = requantize_value(acc[r, c], m0[c], shift[c], zp, lo, hi)`` for int32 ``acc`` (R, C);
    ``m0``/``shift`` have length C (per channel) or 1 (per tensor)."""
    rows, cols = acc.shape
    per_channel = m0.size > 1
    for r in range(rows):
        for c in range(cols):
            ch = c if per_channel else 0
            out[r, c] = requantize_value(acc[r, c], m0[ch], shift[ch], zp, lo, hi)


@njit(cache=True)
def quantize_u8_kernel(x, scale, zp, qmin, qmax, out):
    """``out[i, j] = clamp(rint(x[i, j] / scale) + zp, qmin, qmax)`` for float32 ``x`` (M, K) and float32 ``scale``:
    ``quantize`` for one per-tensor uint8 activation in one pass (ties to even, the division in float32). Columns of
    ``out`` past K are left as they are. Returns the number of NaN inputs (which have no code: the caller raises)."""
    lo, hi = np.float32(qmin), np.float32(qmax)
    z = np.float32(zp)
    nans = 0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            t = np.rint(x[i, j] / scale) + z
            nans += t != t
            out[i, j] = np.uint8(min(max(t, lo), hi))
    return nans


@njit(cache=True)
def unpack_signed_kernel(packed, bits, out):
    """``out[i]`` = the ``i``-th ``bits``-bit two's-complement code of the little-endian bit stream ``packed``
    (:func:`pack_int`'s layout), sign-extended to int8, for ``i < out.size``; one pass, no temporaries."""
    if bits == 4:  # two codes per byte: a loop LLVM vectorises (sign extension by shifting the nibble up and back)
        pairs = out.size // 2
        for b in range(pairs):
            byte = np.int8(packed[b])
            out[2 * b] = np.int8(byte << np.int8(4)) >> np.int8(4)
            out[2 * b + 1] = byte >> np.int8(4)
        if out.size % 2:
            out[out.size - 1] = np.int8(np.int8(packed[pairs]) << np.int8(4)) >> np.int8(4)
        return
    mask = np.uint32((1 << bits) - 1)
    sign = np.int32(1 << (bits - 1))
    last = packed.size - 1
    for i in range(out.size):
        pos = i * bits
        byte = pos >> 3
        word = np.uint32(packed[byte])
        if byte < last:
            word |= np.uint32(packed[byte + 1]) << np.uint32(8)
        v = np.int32((word >> np.uint32(pos & 7)) & mask)
        out[i] = np.int8(v - 2 * sign if v >= sign else v)
