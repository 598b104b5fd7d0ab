"""numba kernels of the training step: fused passes over a tensor that would otherwise take several numpy passes."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from odyssey_lessons.formats._fast_kernels import quantize_f32_nearest_scaled


@njit(cache=True)
def store_cast_counting(g, q):
    """``g[i] = q[i]`` (``q``: ``g`` cast to a lower-precision format; both flat float32), returning the counts the
    training history records, in one pass instead of ten numpy passes:

    - ``live``: finite nonzero ``g[i]``;
    - ``under``: live ``g[i]`` whose cast ``q[i]`` is 0 (lost to underflow);
    - ``over``: finite ``g[i]`` whose cast is inf or NaN (overflow).
    """
    live = 0
    under = 0
    over = 0
    for i in range(g.size):
        gi = g[i]
        qi = q[i]
        finite = np.isfinite(gi)
        is_live = finite & (gi != np.float32(0.0))
        live += is_live
        under += is_live & (qi == np.float32(0.0))
        over += finite & ~np.isfinite(qi)
        g[i] = qi
    return live, under, over


@njit(cache=True)
def mx_fake_quantize_blocks(x, out, q, block, emax):
    """MX fake quantization of the flat float32 ``x`` (a multiple of ``block`` long) into ``out``, one pass per block:
    ``X = 2**clip(floor(log2(amax)) - emax, -127, 127)`` from the block's ``amax = max|x_i|``, then
    ``out_i = round(x_i / X) * X`` with the element format's saturating nearest-rounding parameters ``q``
    (dividing by a power of two is multiplying by its exact inverse). A block of zeros keeps ``X = 1``; a block
    holding inf or NaN decodes to NaN (E8M0's NaN scale). The same values as ``mx_block_quantize`` followed by
    ``mx_block_dequantize``, bit for bit.
    """
    for start in range(0, x.size, block):
        xb, ob = x[start : start + block], out[start : start + block]
        amax = np.float32(0.0)
        finite = True
        for j in range(xb.size):
            a = abs(xb[j])
            finite &= a < np.float32(np.inf)  # False for NaN and inf
            amax = max(amax, a)
        if not finite:
            ob[:] = np.nan
        elif amax == np.float32(0.0):
            ob[:] = xb
        else:
            e = math.frexp(amax)[1]  # amax = m * 2**e, 0.5 <= m < 1
            shared = min(max(e - 1 - emax, -127), 127)
            scale = np.float32(math.ldexp(1.0, -shared))
            quantize_f32_nearest_scaled(xb, ob, q, scale, np.float32(math.ldexp(1.0, shared)))
