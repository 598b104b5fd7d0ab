"""numba kernels of the formats package: rounding to a format, encoding to its bit codes, sequential arithmetic.

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

from odyssey_lessons._bitcast import f32_as_u32, f64_as_u64, u32_as_f32, u64_as_f64

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
    """splitmix64 hash of ``seed + (index + 1) * golden``: 64 well-mixed random bits per (seed, index)."""
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


# ----- float32 fast paths -------------------------------------------------------------------------------------------
# The general kernel above handles every case one branchy scalar at a time. For the common case -- float32 input, a
# format with zero and subnormals -- the same rounding can be written branch-free on the float32 bit pattern, which
# LLVM vectorises, so rounding runs near memory bandwidth:
#   normal range:    r = (u + half - 1 + ((u >> s) & 1)) & ~(2**s - 1)      with s = 23 - M (ties to even; a carry
#                    into the exponent field is exactly the step to the next binade)
#   subnormal range: r = bits((|x| + C) - C) with C = 2**(emin - M + 23): the float32 adder rounds |x| to a multiple
#                    of ulp(C) = 2**(emin - M), the subnormal spacing, ties to even.
# Fast-path parameter vector layout (uint32 values), from ``_quantize.fast_params``.
F_SHIFT = 0  # s = 23 - M
F_TINY = 1  # float32 bits of 2**emin; below it is the subnormal range
F_MAGIC = 2  # float32 bits of C
F_MAX = 3  # float32 bits of max
F_OVF = 4  # float32 bits of what an overflowing magnitude becomes (inf, NaN or max)
F_INF = 5  # float32 bits of what inf becomes
F_NAN_TO_ZERO = 6  # 1: NaN becomes a zero of the opposite sign
F_NEG_ZERO = 7  # 1: -0 exists
N_FAST = 8

_SIGN32 = np.uint32(0x80000000)
_ABS32 = np.uint32(0x7FFFFFFF)
_INF32 = np.uint32(0x7F800000)
_ONE32 = np.uint32(1)
_ZERO32 = np.uint32(0)
_CHUNK = 1 << 14


# How the loops are written, and why it matters 4-8x (guarded by tests/formats/test_codegen.py, which reads the IR):
# - Each parallel chunk is a pair of slices ``x[lo:hi]``, ``out[lo:hi]`` walked with ``j`` from 0. numba wraps negative
#   indices (``x[-1]`` is the last element), so ``x[i]`` with ``i = c * _CHUNK + ...`` compiles to a select per element
#   that LLVM cannot prove dead; LLVM 22 (numba 0.68) then vectorises the loop with masked gathers and scatters, which
#   ran the whole kernel at 0.22x memcpy on AMD Zen 5. An index counting up from 0 is provably non-negative, the select
#   folds away and the loads and stores are contiguous vectors.
# - Every uint32 expression is wrapped in ``_u32(...)``: numba types ``uint32 op uint32`` as 64-bit, which doubles the
#   vector width of the arithmetic unless each result is truncated where it is formed.
_u32 = np.uint32


@njit(cache=True)
def _fast_finish(b, r, maxb, ovf, infb, nan_to_zero, neg_zero):
    """Apply overflow, inf, NaN and the sign to the rounded magnitude bits ``r`` of the input bits ``b``."""
    sign = _u32(b & _SIGN32)
    u = _u32(b & _ABS32)
    r = ovf if r > maxb else r
    r = infb if u == _INF32 else r
    r = _u32(r | sign) if (r != _ZERO32) | neg_zero else r
    nan_out = _u32(sign ^ _SIGN32) if nan_to_zero else b
    return nan_out if u > _INF32 else r


@njit(cache=True)
def _nearest_setup(q):
    """The loop constants of round-to-nearest from the fast-path parameters ``q``, as one tuple."""
    s = q[F_SHIFT]
    keep = _u32(~_u32(_u32(_ONE32 << s) - _ONE32))
    half_m1 = _u32(_u32(_ONE32 << _u32(s - _ONE32)) - _ONE32)
    nan_to_zero, neg_zero = q[F_NAN_TO_ZERO] == _ONE32, q[F_NEG_ZERO] == _ONE32
    return s, keep, half_m1, q[F_TINY], q[F_MAX], q[F_OVF], q[F_INF], nan_to_zero, neg_zero, u32_as_f32(q[F_MAGIC])


@njit(cache=True)
def _nearest_bits(y, k):
    """The bits of the float32 ``y`` rounded to nearest (ties to even), with ``k = _nearest_setup(q)``."""
    s, keep, half_m1, tiny, maxb, ovf, infb, nan_to_zero, neg_zero, magic = k
    b = f32_as_u32(y)
    u = _u32(b & _ABS32)
    rn = _u32(_u32(u + half_m1 + _u32(_u32(u >> s) & _ONE32)) & keep)
    rs = f32_as_u32((abs(y) + magic) - magic)
    return _fast_finish(b, rs if u < tiny else rn, maxb, ovf, infb, nan_to_zero, neg_zero)


@njit(cache=True)
def _nearest_run(x, out, q):
    """Round the contiguous float32 ``x`` to nearest (ties to even) into ``out`` (uint32 view of float32)."""
    k = _nearest_setup(q)
    for j in range(x.size):
        out[j] = _nearest_bits(x[j], k)


@njit(cache=True)
def quantize_f32_nearest_scaled(x, out, q, scale, inv_scale):
    """Scaled rounding in one pass (FP8 recipes' fake quantization): ``out = round(x * scale) * inv_scale`` with
    float32 products, ``q`` the (saturating) nearest-rounding parameters. The same values as multiplying, rounding
    and multiplying again in three numpy passes, bit for bit; on the calling thread (training-step arrays).

    Returns the bits of ``amax = max|x_i|`` from the same pass (delayed scaling records it): non-negative float32
    values order as their bit patterns do, so an integer max finds it, vectorised; a NaN anywhere gives a NaN
    pattern (above ``0x7F800000``, inf's)."""
    k = _nearest_setup(q)
    amax = _ZERO32
    for j in range(x.size):
        amax = max(amax, _u32(f32_as_u32(x[j]) & _ABS32))
        out[j] = u32_as_f32(_nearest_bits(x[j] * scale, k)) * inv_scale
    return amax


@njit(cache=True)
def abs_max_bits(x):
    """The bits of ``max|x_i|`` of the float32 ``x`` (0 when empty; a NaN pattern when any element is NaN), as an
    integer max over the magnitude bits: one vectorised pass."""
    amax = _ZERO32
    for j in range(x.size):
        amax = max(amax, _u32(f32_as_u32(x[j]) & _ABS32))
    return amax


@njit(cache=True, parallel=True)
def quantize_f32_nearest(x, out, q):
    """Round float32 ``x`` to nearest (ties to even) into ``out`` (uint32 view of float32), branch-free, in parallel
    chunks."""
    n = x.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        lo = c * _CHUNK
        _nearest_run(x[lo : min(n, lo + _CHUNK)], out[lo : min(n, lo + _CHUNK)], q)


@njit(cache=True)
def quantize_f32_nearest_serial(x, out, q):
    """:func:`quantize_f32_nearest` on the calling thread: for the small arrays of a training step, where scheduling
    a parallel loop (about 1 us) costs more than rounding a few thousand values."""
    _nearest_run(x, out, q)


@njit(cache=True, parallel=True)
def quantize_f32_stochastic(x, out, q, seed):
    """Round float32 ``x`` stochastically: add ``2**s`` uniform random units below the kept bits, then truncate.

    In the subnormal range the same is done on ``|x| / 2**(emin - M)`` (exact power-of-two scaling) in float64.
    """
    s = q[F_SHIFT]
    mask = _u32(_u32(_ONE32 << s) - _ONE32)
    keep = _u32(~mask)
    tiny = q[F_TINY]
    maxb, ovf, infb = q[F_MAX], q[F_OVF], q[F_INF]
    nan_to_zero, neg_zero = q[F_NAN_TO_ZERO] == _ONE32, q[F_NEG_ZERO] == _ONE32
    quantum = np.float64(u32_as_f32(q[F_MAGIC])) * 2.0**-23  # 2**(emin - M)
    n = x.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        lo = c * _CHUNK
        xc, oc = x[lo : min(n, lo + _CHUNK)], out[lo : min(n, lo + _CHUNK)]
        for j in range(xc.size):
            b = f32_as_u32(xc[j])
            u = _u32(b & _ABS32)
            rnd = _splitmix64(seed, lo + j)
            rn = _u32(_u32(u + _u32(_u32(rnd >> np.uint64(32)) & mask)) & keep)
            y = np.float64(abs(xc[j])) / quantum
            fl = np.floor(y)
            up = np.float64(rnd >> np.uint64(11)) * 2.0**-53 < y - fl
            rs = f32_as_u32(np.float32((fl + 1.0 if up else fl) * quantum))
            oc[j] = _fast_finish(b, rs if u < tiny else rn, maxb, ovf, infb, nan_to_zero, neg_zero)


@njit(cache=True, parallel=True)
def quantize_f32_toward_zero(x, out, q):
    """Truncate float32 ``x`` toward zero: clear the discarded bits (normal range) or floor ``|x| / 2**(emin - M)``
    (subnormal range). ``q[F_OVF]`` must hold max: truncation never overflows (IEEE)."""
    s = q[F_SHIFT]
    keep = _u32(~_u32(_u32(_ONE32 << s) - _ONE32))
    tiny = q[F_TINY]
    maxb, ovf, infb = q[F_MAX], q[F_OVF], q[F_INF]
    nan_to_zero, neg_zero = q[F_NAN_TO_ZERO] == _ONE32, q[F_NEG_ZERO] == _ONE32
    quantum = np.float64(u32_as_f32(q[F_MAGIC])) * 2.0**-23  # 2**(emin - M); float64 so 1/quantum fits
    inv_quantum = 1.0 / quantum
    n = x.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        lo = c * _CHUNK
        xc, oc = x[lo : min(n, lo + _CHUNK)], out[lo : min(n, lo + _CHUNK)]
        for j in range(xc.size):
            b = f32_as_u32(xc[j])
            u = _u32(b & _ABS32)
            rn = _u32(u & keep)
            rs = f32_as_u32(np.float32(np.floor(np.float64(abs(xc[j])) * inv_quantum) * quantum))
            oc[j] = _fast_finish(b, rs if u < tiny else rn, maxb, ovf, infb, nan_to_zero, neg_zero)


@njit(cache=True, parallel=True)
def quantize_f32_scale(x, out, q, mode, seed):
    """Round float32 ``x`` in an unsigned format without zero or subnormals whose mantissa is 0 bits (e8m0fnu: the
    powers of two ``2**emin .. 2**emax``, emin = -127). Every value is ``1.0 * 2**e``, so a nearest tie always rounds
    up (the significand 1 is odd, as in ml_dtypes): add ``half`` (nearest), ``0`` (toward zero) or a random
    ``r < 2**s`` (stochastic) below the exponent field, then truncate.

    Below ``2**emin`` the result is ``2**emin``; zero, negatives and NaN give NaN. The float32 subnormals ``b`` in
    ``[2**-127, 2**-126)`` have bit patterns ``0x400000 + d`` with ``d / 0x400000`` the fraction of the way up to
    ``2**-126``, so the decision there is integer too: up when ``d >= 0x200000`` (nearest) or ``r22 < d`` (stochastic).
    """
    s = q[F_SHIFT]
    mask = _u32(_u32(_ONE32 << s) - _ONE32)
    keep = _u32(~mask)
    half = _u32(_ONE32 << _u32(s - _ONE32))
    tiny = q[F_TINY]
    maxb, ovf, infb = q[F_MAX], q[F_OVF], q[F_INF]
    n = x.size
    if mode == MODE_NEAREST:  # a separate loop without the random stream, so it vectorises
        for c in prange((n + _CHUNK - 1) // _CHUNK):
            lo = c * _CHUNK
            xc, oc = x[lo : min(n, lo + _CHUNK)], out[lo : min(n, lo + _CHUNK)]
            for j in range(xc.size):
                b = f32_as_u32(xc[j])
                oc[j] = _scale_finish(b, _u32(_u32(b + half) & keep), b >= _u32(0x00600000), tiny, maxb, ovf, infb)
        return
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        lo = c * _CHUNK
        xc, oc = x[lo : min(n, lo + _CHUNK)], out[lo : min(n, lo + _CHUNK)]
        for j in range(xc.size):
            b = f32_as_u32(xc[j])
            if mode == MODE_STOCHASTIC:
                rnd = _splitmix64(seed, lo + j)
                add = _u32(_u32(rnd >> np.uint64(32)) & mask)
                up = _u32(_u32(rnd) & _u32(0x3FFFFF)) < _u32(b - _u32(0x00400000))
            else:
                add = _ZERO32
                up = False
            oc[j] = _scale_finish(b, _u32(_u32(b + add) & keep), up, tiny, maxb, ovf, infb)


@njit(cache=True)
def _scale_finish(b, rn, up, tiny, maxb, ovf, infb):
    """Result bits for a scale format: ``rn`` in the normal range, ``up`` decides the float32-subnormal range."""
    rs = np.uint32(0x00800000) if up else tiny
    r = rs if b < np.uint32(0x00800000) else rn
    r = tiny if b <= tiny else r
    r = ovf if r > maxb else r
    r = infb if b == _INF32 else r
    return np.uint32(0x7FC00000) if (b == _ZERO32) | (b > _INF32) else r
