"""numba kernels of the formats package, the general path: rounding any input to any format, encoding to its bit
codes, sequential arithmetic. The branch-free float32 fast paths, bit-exact with these, are in ``_fast_kernels``.

Kernels take arrays and scalars only. A format reaches them as a small float64 parameter vector built by
``formats._quantize.rounding_params`` (indices ``P_*`` below), so one compiled kernel serves every format.

Rounding works on the float64 bit pattern of the input (float32 converts to float64 exactly), so a float64 input is
rounded once, directly to the target format, never through float32. With ``sig`` the 53-bit significand and ``e`` the
unbiased exponent, the target keeps ``sig >> shift`` where ``shift = 52 - M + max(0, emin - e)`` (the extra shift is
the subnormal range). The discarded remainder ``rem`` decides the rounding:

- nearest, ties to even: up when ``rem > half`` or ``rem == half`` and the code of the lower neighbour is odd (its
  lowest mantissa bit; with no mantissa bits, its exponent field -- see ``FloatFormat``);
- toward zero: never up;
- stochastic: up when ``r < rem`` for ``r`` uniform on ``[0, 2**shift)`` -- so ``P(up) = rem / 2**shift`` exactly,
  which makes the rounding unbiased. ``r`` is a counter-based hash (splitmix64) of ``(seed, index)``, so results do not
  depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from odyssey_lessons._bitcast import f64_as_u64, u64_as_f64

# Parameter vector layout (float64 values).
P_MANT = 0  # mantissa bits M
P_EMIN = 1  # exponent of the smallest normal
P_MAX = 2  # largest finite value
P_OVF = 3  # what a positive finite value that rounds above max becomes: inf, nan or max
P_INF = 4  # what +inf becomes: inf, nan or max
P_NAN_TO_ZERO = 5  # 1: NaN becomes a zero of the opposite sign (ml_dtypes' rule for formats without NaN)
P_SIGNED = 6  # 0: negative inputs become NaN
P_SUBNORMALS = 7  # 0: no zero and no subnormals; values below 2**emin become 2**emin
P_NEG_ZERO = 8  # 0: -0 does not exist and becomes +0
P_TIE_FIELD = 9  # 1: ties go by the exponent field's parity (no mantissa bits; see _spec.FloatFormat)
P_BIAS = 10
N_PARAMS = 11

MODE_NEAREST = 0
MODE_TOWARD_ZERO = 1
MODE_STOCHASTIC = 2

_SIGN64 = np.uint64(1 << 63)
_ABS64 = np.uint64((1 << 63) - 1)
_MANT64 = np.uint64((1 << 52) - 1)
_HIDDEN64 = np.uint64(1 << 52)
_ONE64 = np.uint64(1)
_ZERO64 = np.uint64(0)


@njit(cache=True)
def _pow2(k):
    """2.0**k for -1022 <= k <= 1023, built from its bits (exact, no libm call)."""
    return u64_as_f64(np.uint64(k + 1023) << np.uint64(52))


@njit(cache=True)
def _splitmix64(seed, index):
    """splitmix64 hash of ``seed + (index + 1) * golden``: 64 well-mixed random bits per (seed, index).

    ``_fast_kernels`` calls it too, and numba does not recompile their cached code when this changes: after editing
    it, delete the ``__pycache__`` folder beside these files."""
    z = seed + (np.uint64(index) + _ONE64) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def round_scalar(v, p, mode, rnd):
    """Round the float64 ``v`` to the format described by ``p`` (see module docstring); returns a float64."""
    if v != v:
        if p[P_NAN_TO_ZERO] != 0.0:
            return -np.copysign(0.0, v)
        return v
    b = f64_as_u64(v)
    neg = (b & _SIGN64) != _ZERO64
    bits = b & _ABS64
    emin = np.int64(p[P_EMIN])
    if bits == np.uint64(0x7FF0000000000000):
        r = p[P_INF]
    elif bits == _ZERO64:
        r = 0.0 if p[P_SUBNORMALS] != 0.0 else np.nan
    else:
        field = np.int64(bits >> np.uint64(52))
        if field == 0:  # float64 subnormal: far below any simulated format's range
            e = np.int64(-1022)
            sig = bits & _MANT64
        else:
            e = field - 1023
            sig = (bits & _MANT64) | _HIDDEN64
        if p[P_SUBNORMALS] == 0.0 and e < emin:
            r = _pow2(emin)
        else:
            shift = 52 - np.int64(p[P_MANT])
            if e < emin:
                shift += emin - e
            if shift > 62:
                shift = 62
            ushift = np.uint64(shift)
            mask = (_ONE64 << ushift) - _ONE64
            q = sig >> ushift
            rem = sig & mask
            if mode == MODE_NEAREST:
                half = _ONE64 << (ushift - _ONE64)
                # ties go to the even code: the lowest kept bit, or the exponent field when M = 0 (normal range)
                if p[P_TIE_FIELD] != 0.0 and e >= emin:
                    odd = np.uint64(e + np.int64(p[P_BIAS])) & _ONE64
                else:
                    odd = q & _ONE64
                if rem > half or (rem == half and odd != _ZERO64):
                    q += _ONE64
            elif mode == MODE_STOCHASTIC:
                if (rnd & mask) < rem:
                    q += _ONE64
            r = np.float64(q) * _pow2(e - 52 + shift)
            if r > p[P_MAX]:
                r = p[P_MAX] if mode == MODE_TOWARD_ZERO else p[P_OVF]
    if neg:
        if p[P_SIGNED] == 0.0:
            return np.nan
        if r == 0.0 and p[P_NEG_ZERO] == 0.0:
            return 0.0
        return -r
    return r


@njit(cache=True, parallel=True)
def quantize_kernel(x, out, p, mode, seed):
    """out[i] = round(x[i]) to the format ``p`` (1-D contiguous arrays; ``x`` float32 or float64, out float32)."""
    for i in prange(x.size):
        rnd = _splitmix64(seed, i) if mode == MODE_STOCHASTIC else _ZERO64
        out[i] = np.float32(round_scalar(np.float64(x[i]), p, mode, rnd))


# Encoding parameter vector layout (int64 values).
E_MANT = 0
E_EMIN = 1
E_BIAS = 2
E_SIGN_SHIFT = 3  # position of the sign bit (= exponent_bits + mantissa_bits); -1 when unsigned
E_NAN = 4  # positive NaN code
E_NAN_SIGNED = 5  # 1 when a negative NaN sets the sign bit (ieee, fn)
E_INF = 6  # +inf code (ieee), else -1
N_ENCODE = 7


@njit(cache=True, parallel=True)
def encode_kernel(r, out, c):
    """Bit codes of values ``r`` that are already representable in the format ``c`` (float32 in, uint32 out).

    Normal: ``field = e + bias``, ``mantissa = top M bits of the significand``.
    Subnormal: ``mantissa = r / 2**(emin - M)``.
    """
    m = np.uint64(c[E_MANT])
    emin = c[E_EMIN]
    for i in prange(r.size):
        v = np.float64(r[i])
        b = f64_as_u64(v)
        neg = (b & _SIGN64) != _ZERO64
        bits = b & _ABS64
        if v != v:
            code = np.uint64(c[E_NAN])
            if neg and c[E_NAN_SIGNED] == 1:
                code |= _ONE64 << np.uint64(c[E_SIGN_SHIFT])
            out[i] = np.uint32(code)
            continue
        if bits == np.uint64(0x7FF0000000000000):
            code = np.uint64(c[E_INF])
        elif bits == _ZERO64:
            code = _ZERO64
        else:
            e = np.int64(bits >> np.uint64(52)) - 1023
            sig = (bits & _MANT64) | _HIDDEN64
            if e >= emin:
                code = (np.uint64(e + c[E_BIAS]) << m) | ((sig >> (np.uint64(52) - m)) & ((_ONE64 << m) - _ONE64))
            else:
                code = sig >> (np.uint64(52) - m + np.uint64(emin - e))
        if neg and c[E_SIGN_SHIFT] >= 0:
            code |= _ONE64 << np.uint64(c[E_SIGN_SHIFT])
        out[i] = np.uint32(code)


@njit(cache=True)
def accumulate_kernel(x, out, p):
    """Running sum rounded after every addition: ``s_i = round(s_{i-1} + x_i)`` (round to nearest even)."""
    s = 0.0
    for i in range(x.size):
        s = round_scalar(s + np.float64(x[i]), p, MODE_NEAREST, _ZERO64)
        out[i] = np.float32(s)


@njit(cache=True, parallel=True)
def matmul_kernel(a, b, out, p_acc):
    """``out[i, j] = sum_k a[i, k] * b[k, j]``, each product exact (float64), the sum rounded after every addition.

    This is how a low-precision accumulator loses small addends; ``a`` and ``b`` are already rounded to the input
    format.
    """
    n, kdim = a.shape
    mcols = b.shape[1]
    for i in prange(n):
        for j in range(mcols):
            s = 0.0
            for k in range(kdim):
                s = round_scalar(s + np.float64(a[i, k]) * np.float64(b[k, j]), p_acc, MODE_NEAREST, _ZERO64)
            out[i, j] = np.float32(s)
