"""Slow, obviously correct reference quantization: one element at a time, in Python scalars.

Written from the formulas (q = clamp(round(x / s) + z, qmin, qmax), x_hat = (q - z) * s; symmetric restricted range;
asymmetric range widened to contain 0), sharing no code with the package. Python's ``round`` rounds half to even, as
``np.rint`` does. Scales are float32; ``x / s`` is one float32 division, as in the package.
"""

from __future__ import annotations

import itertools

import numpy as np

MIN_SCALE = 2.0**-23


def ref_qrange(bits, symmetric):
    if symmetric:
        return -(2 ** (bits - 1)) + 1, 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def slice_of(idx, shape, granularity, axis, group_size):
    """Index (into the keepdims scale array) of the slice that element ``idx`` belongs to."""
    if granularity == "tensor":
        return ()
    axis = axis % len(shape)
    if granularity == "channel":
        return tuple(i if d == axis else 0 for d, i in enumerate(idx))
    return tuple(i // group_size if d == axis else i for d, i in enumerate(idx))


def scale_shape(shape, granularity, axis, group_size):
    if granularity == "tensor":
        return ()
    axis = axis % len(shape)
    if granularity == "channel":
        return tuple(n if d == axis else 1 for d, n in enumerate(shape))
    return tuple(n // group_size if d == axis else n for d, n in enumerate(shape))


def ref_ranges(x, granularity, axis=None, group_size=None):
    """Per-slice (min, max) by scanning every element."""
    sshape = scale_shape(x.shape, granularity, axis, group_size)
    lo = np.full(sshape, np.inf)
    hi = np.full(sshape, -np.inf)
    for idx in itertools.product(*map(range, x.shape)):
        k = slice_of(idx, x.shape, granularity, axis, group_size)
        v = float(x[idx])
        lo[k] = min(lo[k], v)
        hi[k] = max(hi[k], v)
    return lo, hi


def ref_scale_zero_point(lo, hi, bits, symmetric):
    """One slice's (float32 scale, int zero point) from its range, as plain Python arithmetic."""
    qmin, qmax = ref_qrange(bits, symmetric)
    lo, hi = float(lo), float(hi)
    if symmetric:
        s = max(abs(lo), abs(hi)) / qmax
        return np.float32(max(s, MIN_SCALE)), 0
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    s = np.float32(max((hi - lo) / (qmax - qmin), MIN_SCALE))
    z = qmin - round(lo / float(s))
    return s, min(max(z, qmin), qmax)


def ref_qparams(lo, hi, bits, symmetric):
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    scale = np.empty(lo.shape, dtype=np.float32)
    zero = np.empty(lo.shape, dtype=np.int64)
    for k in np.ndindex(lo.shape):
        scale[k], zero[k] = ref_scale_zero_point(lo[k], hi[k], bits, symmetric)
    return scale, zero


def ref_quantize(x, scale, zero, bits, symmetric, granularity, axis=None, group_size=None):
    qmin, qmax = ref_qrange(bits, symmetric)
    q = np.empty(x.shape, dtype=np.int64)
    for idx in itertools.product(*map(range, x.shape)):
        k = slice_of(idx, x.shape, granularity, axis, group_size)
        t = np.float32(x[idx]) / np.float32(scale[k])
        q[idx] = min(max(round(float(t)) + int(zero[k]), qmin), qmax)
    return q


def ref_dequantize(q, scale, zero, granularity, axis=None, group_size=None):
    out = np.empty(q.shape, dtype=np.float32)
    for idx in itertools.product(*map(range, q.shape)):
        k = slice_of(idx, q.shape, granularity, axis, group_size)
        out[idx] = np.float32(int(q[idx]) - int(zero[k])) * np.float32(scale[k])
    return out


def ref_ste_mask(x, scale, zero, bits, symmetric, granularity="tensor", axis=None, group_size=None):
    """1.0 where round(x / s) + z is inside [qmin, qmax] (the clipped straight-through estimator), else 0.0."""
    qmin, qmax = ref_qrange(bits, symmetric)
    mask = np.empty(x.shape, dtype=np.float32)
    for idx in itertools.product(*map(range, x.shape)):
        k = slice_of(idx, x.shape, granularity, axis, group_size)
        t = round(float(np.float32(x[idx]) / np.float32(scale[k]))) + int(zero[k])
        mask[idx] = 1.0 if qmin <= t <= qmax else 0.0
    return mask


def ref_pack(values, bits):
    """Little-endian bit stream: bit k of element i is stream bit i*bits + k; stream bit j is bit j%8 of byte j//8."""
    stream = []
    for v in values:
        u = int(v) & ((1 << bits) - 1)  # Python's & on a negative int gives the two's complement bits
        stream.extend((u >> k) & 1 for k in range(bits))
    out = []
    for start in range(0, len(stream), 8):
        out.append(sum(b << i for i, b in enumerate(stream[start : start + 8])))
    return np.array(out, dtype=np.uint8)


def ref_nearest(values, codebook):
    """Index of the nearest codebook entry for each value (first one on a tie)."""
    return np.array([min(range(len(codebook)), key=lambda j: abs(float(v) - float(codebook[j]))) for v in values])
