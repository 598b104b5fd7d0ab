"""numba kernels of the perf package, all single-threaded: the four STREAM kernels and the direct convolution.

STREAM (McCalpin): loops over float64 arrays, one pass each. Bytes per element counted as STREAM counts them (each
array read or written once): copy 16, scale 16, add 24, triad 24.

The direct convolution is the loop nest of :mod:`odyssey_lessons.perf._direct_conv` (its module docstring explains
the loop order); :func:`~odyssey_lessons.perf._direct_conv.direct_conv2d` validates and calls it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def stream_copy(a, c):
    """``c = a``."""
    for i in range(a.size):
        c[i] = a[i]


@njit(cache=True)
def stream_scale(b, c, s):
    """``b = s * c``."""
    for i in range(c.size):
        b[i] = s * c[i]


@njit(cache=True)
def stream_add(a, b, c):
    """``c = a + b``."""
    for i in range(a.size):
        c[i] = a[i] + b[i]


@njit(cache=True)
def stream_triad(a, b, c, s):
    """``a = b + s * c``."""
    for i in range(b.size):
        a[i] = b[i] + s * c[i]


@njit(cache=True)
def direct_conv2d_kernel(x, weight_t, bias, y, stride, pad):
    """``y[n, o, i, j] = bias[o] + sum_{c,u,v} weight_t[c, u, v, o] * x[n, c, i*stride + u - pad, j*stride + v - pad]``
    with zeros outside ``x`` (the padding). ``weight_t`` is the (O, C, k, k) weight transposed to (C, k, k, O), so the
    innermost loop runs over the output channels with unit stride. ``y`` is (N, O, OH, OW) and is overwritten."""
    n_img, n_ch, h, w = x.shape
    k, n_out = weight_t.shape[1], weight_t.shape[3]
    oh, ow = y.shape[2], y.shape[3]
    acc = np.empty(n_out, dtype=y.dtype)
    for n in range(n_img):
        for i in range(oh):
            for j in range(ow):
                for o in range(n_out):
                    acc[o] = bias[o]
                for c in range(n_ch):
                    for u in range(k):
                        row = i * stride + u - pad
                        if row < 0 or row >= h:
                            continue  # the zero padding adds nothing
                        for v in range(k):
                            col = j * stride + v - pad
                            if col < 0 or col >= w:
                                continue
                            xv = x[n, c, row, col]
                            for o in range(n_out):
                                acc[o] += xv * weight_t[c, u, v, o]
                for o in range(n_out):
                    y[n, o, i, j] = acc[o]
