"""The float32 fast paths of rounding: branch-free kernels on the float32 bit pattern, bit-exact with the general one.

The general kernel (:func:`odyssey_lessons.formats._kernels.round_scalar`) handles every case one branchy scalar at a
time. For the common case -- float32 input, a format with zero and subnormals -- the same rounding can be written
branch-free on the float32 bit pattern, which LLVM vectorises, so rounding runs near memory bandwidth:

- normal range: ``r = (u + half - 1 + ((u >> s) & 1)) & ~(2**s - 1)`` with ``s = 23 - M`` (ties to even; a carry
  into the exponent field is exactly the step to the next binade);
- subnormal range: ``r = bits((|x| + C) - C)`` with ``C = 2**(emin - M + 23)``: the float32 adder rounds ``|x|`` to a
  multiple of ``ulp(C) = 2**(emin - M)``, the subnormal spacing, ties to even.

A format reaches these kernels as a uint32 parameter vector (indices ``F_*`` below) built by
``formats._quantize.fast_params``. Stochastic rounding uses the general kernels' counter-based random stream
(``_kernels._splitmix64``): numba does not recompile a cached kernel when an ``@njit`` function it calls from another
file changes, so after editing that stream, delete the ``__pycache__`` folder next to this file.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from odyssey_lessons._bitcast import f32_as_u32, u32_as_f32
from odyssey_lessons.formats._kernels import MODE_NEAREST, MODE_STOCHASTIC, _splitmix64

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
# - Each parallel chunk is a pair of slices ``x[lo:hi]``, ``out[lo:hi]`` (:func:`_chunk`) walked with ``j`` from 0.
#   numba wraps negative indices (``x[-1]`` is the last element), so ``x[i]`` with ``i = c * _CHUNK + ...`` compiles to
#   a select per element that LLVM cannot prove dead; LLVM 22 (numba 0.68) then vectorises the loop with masked
#   gathers and scatters, which ran the whole kernel at 0.22x memcpy on AMD Zen 5. An index counting up from 0 is
#   provably non-negative, the select folds away and the loads and stores are contiguous vectors.
# - Every uint32 expression is wrapped in ``_u32(...)``: numba types ``uint32 op uint32`` as 64-bit, which doubles the
#   vector width of the arithmetic unless each result is truncated where it is formed.
_u32 = np.uint32


@njit(cache=True)
def _n_chunks(n):
    """How many parallel chunks of ``_CHUNK`` elements cover ``n``."""
    return (n + _CHUNK - 1) // _CHUNK


@njit(cache=True)
def _chunk(a, lo):
    """The chunk of ``a`` that starts at ``lo``, as a slice to index from 0 (see above)."""
    return a[lo : min(a.size, lo + _CHUNK)]


@njit(cache=True)
def _finish_setup(q):
    """What :func:`_fast_finish` needs from the fast-path parameters ``q``, as one tuple: the bits of max, of what
    overflow and inf become, and the NaN and -0 flags."""
    return q[F_MAX], q[F_OVF], q[F_INF], q[F_NAN_TO_ZERO] == _ONE32, q[F_NEG_ZERO] == _ONE32


@njit(cache=True)
def _fast_finish(b, r, fin):
    """Apply overflow, inf, NaN and the sign to the rounded magnitude bits ``r`` of the input bits ``b``, with
    ``fin = _finish_setup(q)``."""
    maxb, ovf, infb, nan_to_zero, neg_zero = fin
    sign = _u32(b & _SIGN32)
    u = _u32(b & _ABS32)
    r = ovf if r > maxb else r
    r = infb if u == _INF32 else r
    r = _u32(r | sign) if (r != _ZERO32) | neg_zero else r
    nan_out = _u32(sign ^ _SIGN32) if nan_to_zero else b
    return nan_out if u > _INF32 else r


@njit(cache=True)
def _subnormal_quantum(q):
    """The subnormal spacing ``2**(emin - M) = C * 2**-23``, in float64 (so that its reciprocal fits too)."""
    return np.float64(u32_as_f32(q[F_MAGIC])) * 2.0**-23


@njit(cache=True)
def _nearest_setup(q):
    """The loop constants of round-to-nearest from the fast-path parameters ``q``, as one tuple."""
    s = q[F_SHIFT]
    keep = _u32(~_u32(_u32(_ONE32 << s) - _ONE32))
    half_m1 = _u32(_u32(_ONE32 << _u32(s - _ONE32)) - _ONE32)
    return s, keep, half_m1, q[F_TINY], u32_as_f32(q[F_MAGIC]), _finish_setup(q)


@njit(cache=True)
def _nearest_bits(y, k):
    """The bits of the float32 ``y`` rounded to nearest (ties to even), with ``k = _nearest_setup(q)``."""
    s, keep, half_m1, tiny, magic, fin = k
    b = f32_as_u32(y)
    u = _u32(b & _ABS32)
    rn = _u32(_u32(u + half_m1 + _u32(_u32(u >> s) & _ONE32)) & keep)
    rs = f32_as_u32((abs(y) + magic) - magic)
    return _fast_finish(b, rs if u < tiny else rn, fin)


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
    pattern (above ``0x7F800000``, inf's).

    ``train/_kernels.py``'s MX kernel calls it from its own file: numba does not recompile that cached kernel when
    this one changes, so after editing it (or :func:`_nearest_bits`), delete ``train/__pycache__`` too."""
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
    for c in prange(_n_chunks(x.size)):
        _nearest_run(_chunk(x, c * _CHUNK), _chunk(out, c * _CHUNK), q)


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
    tiny, fin, quantum = q[F_TINY], _finish_setup(q), _subnormal_quantum(q)
    for c in prange(_n_chunks(x.size)):
        lo = c * _CHUNK
        xc, oc = _chunk(x, lo), _chunk(out, lo)
        for j in range(xc.size):
            b = f32_as_u32(xc[j])
            u = _u32(b & _ABS32)
            rnd = _splitmix64(seed, lo + j)
            rn = _u32(_u32(u + _u32(_u32(rnd >> np.uint64(32)) & mask)) & keep)
            y = np.float64(abs(xc[j])) / quantum
            fl = np.floor(y)
            up = np.float64(rnd >> np.uint64(11)) * 2.0**-53 < y - fl
            rs = f32_as_u32(np.float32((fl + 1.0 if up else fl) * quantum))
            oc[j] = _fast_finish(b, rs if u < tiny else rn, fin)


@njit(cache=True, parallel=True)
def quantize_f32_toward_zero(x, out, q):
    """Truncate float32 ``x`` toward zero: clear the discarded bits (normal range) or floor ``|x| / 2**(emin - M)``
    (subnormal range). ``q[F_OVF]`` must hold max: truncation never overflows (IEEE)."""
    keep = _u32(~_u32(_u32(_ONE32 << q[F_SHIFT]) - _ONE32))
    tiny, fin, quantum = q[F_TINY], _finish_setup(q), _subnormal_quantum(q)
    inv_quantum = 1.0 / quantum
    for c in prange(_n_chunks(x.size)):
        xc, oc = _chunk(x, c * _CHUNK), _chunk(out, c * _CHUNK)
        for j in range(xc.size):
            b = f32_as_u32(xc[j])
            u = _u32(b & _ABS32)
            rn = _u32(u & keep)
            rs = f32_as_u32(np.float32(np.floor(np.float64(abs(xc[j])) * inv_quantum) * quantum))
            oc[j] = _fast_finish(b, rs if u < tiny else rn, fin)


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
    tiny, fin = q[F_TINY], _finish_setup(q)
    if mode == MODE_NEAREST:  # a separate loop without the random stream, so it vectorises
        for c in prange(_n_chunks(x.size)):
            xc, oc = _chunk(x, c * _CHUNK), _chunk(out, c * _CHUNK)
            for j in range(xc.size):
                b = f32_as_u32(xc[j])
                oc[j] = _scale_finish(b, _u32(_u32(b + half) & keep), b >= _u32(0x00600000), tiny, fin)
        return
    for c in prange(_n_chunks(x.size)):
        lo = c * _CHUNK
        xc, oc = _chunk(x, lo), _chunk(out, lo)
        for j in range(xc.size):
            b = f32_as_u32(xc[j])
            if mode == MODE_STOCHASTIC:
                rnd = _splitmix64(seed, lo + j)
                add = _u32(_u32(rnd >> np.uint64(32)) & mask)
                up = _u32(_u32(rnd) & _u32(0x3FFFFF)) < _u32(b - _u32(0x00400000))
            else:
                add = _ZERO32
                up = False
            oc[j] = _scale_finish(b, _u32(_u32(b + add) & keep), up, tiny, fin)


@njit(cache=True)
def _scale_finish(b, rn, up, tiny, fin):
    """Result bits for a scale format: ``rn`` in the normal range, ``up`` decides the float32-subnormal range
    (``fin = _finish_setup(q)``: a scale format has no NaN-to-zero and no -0, so only its first three apply)."""
    maxb, ovf, infb = fin[0], fin[1], fin[2]
    rs = np.uint32(0x00800000) if up else tiny
    r = rs if b < np.uint32(0x00800000) else rn
    r = tiny if b <= tiny else r
    r = ovf if r > maxb else r
    r = infb if b == _INF32 else r
    return np.uint32(0x7FC00000) if (b == _ZERO32) | (b > _INF32) else r
