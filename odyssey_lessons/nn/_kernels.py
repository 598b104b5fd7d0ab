"""numba kernels of the nn package: im2col / col2im for Conv2D and max pooling for MaxPool2D.

Kernels take arrays and scalars only and write into output arrays that their public wrapper allocates. Each is
compiled for float32 (training) and float64 (gradient checks).

The kernels are serial on purpose. With ``parallel=True`` they ran 2x faster on large batches of a 2-core machine,
but compiled 2.3x slower. Under pytest-xdist, or next to numpy's own BLAS threads, the threads oversubscribed the
cores and the test file ran 9x slower. The time of a Conv2D layer goes mostly to the BLAS matmul anyway.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def im2col(x, cols, k, stride, pad, pad_value):
    """Unfold ``k x k`` patches of ``x`` (N, C, H, W) into the rows of ``cols`` (N*OH*OW, >= C*k*k).

    ``cols[(n*OH + i)*OW + j, (c*k + u)*k + v] = x[n, c, i*stride + u - pad, j*stride + v - pad]``, and 0 where that
    index falls into the padding, which holds ``pad_value`` (0 for floats; the zero point, the code of real 0, for the
    integer kernels of :mod:`odyssey_lessons.quant`, which reuse this one). ``OH = (H + 2*pad - k) // stride + 1``,
    likewise ``OW``. Any dtype: ``cols`` has the dtype of ``x`` and ``pad_value`` is stored in it. Columns of ``cols``
    past ``C*k*k`` are left as they are (the VNNI kernels want rows padded to a multiple of 4).

    Each image is first copied into a padded buffer, so the patch loops run without a bounds test per pixel, and the
    common 3 x 3 window is written out (LLVM cannot unroll a loop over a run-time ``k``): 1.5-2.5x faster than testing
    every tap on the digits CNN's layers.
    """
    n_img, n_ch, h, w = x.shape
    hp, wp = h + 2 * pad, w + 2 * pad
    oh = (hp - k) // stride + 1
    ow = (wp - k) // stride + 1
    xp = np.empty((n_ch, hp, wp), dtype=x.dtype)
    xp[:] = pad_value
    for n in range(n_img):
        for c in range(n_ch):
            for yy in range(h):
                for xx in range(w):
                    xp[c, yy + pad, xx + pad] = x[n, c, yy, xx]
        for i in range(oh):
            for j in range(ow):
                row = (n * oh + i) * ow + j
                if k == 3:
                    for c in range(n_ch):
                        for u in range(3):
                            yy, base = i * stride + u, (c * 3 + u) * 3
                            cols[row, base] = xp[c, yy, j * stride]
                            cols[row, base + 1] = xp[c, yy, j * stride + 1]
                            cols[row, base + 2] = xp[c, yy, j * stride + 2]
                    continue
                for c in range(n_ch):
                    for u in range(k):
                        for v in range(k):
                            cols[row, (c * k + u) * k + v] = xp[c, i * stride + u, j * stride + v]


@njit(cache=True)
def col2im(cols, x, k, stride, pad):
    """The adjoint of :func:`im2col`: add every entry of ``cols`` back to the pixel of ``x`` it was copied from.

    ``x[n, c, i*stride + u - pad, j*stride + v - pad] += cols[(n*OH + i)*OW + j, (c*k + u)*k + v]``; entries that
    came from the padding are dropped. ``x`` must be zero on entry. Overlapping patches (stride < k) add up, which is
    exactly the chain rule for a pixel used by several outputs.
    """
    n_img, n_ch, h, w = x.shape
    oh = (h + 2 * pad - k) // stride + 1
    ow = (w + 2 * pad - k) // stride + 1
    for n in range(n_img):
        for i in range(oh):
            for j in range(ow):
                row = (n * oh + i) * ow + j
                for c in range(n_ch):
                    for u in range(k):
                        yy = i * stride + u - pad
                        if yy < 0 or yy >= h:
                            continue
                        for v in range(k):
                            xx = j * stride + v - pad
                            if 0 <= xx < w:
                                x[n, c, yy, xx] += cols[row, (c * k + u) * k + v]


@njit(cache=True)
def maxpool_forward(x, y, arg, k, stride):
    """``y[n, c, i, j] = max_{u, v < k} x[n, c, i*stride + u, j*stride + v]``; ``arg`` keeps where the max was.

    ``arg[n, c, i, j]`` is the flat index ``row * W + col`` of the winning pixel in its (H, W) plane: the first
    maximum in row-major order on ties, and the first NaN if there is one (NaN propagates, as in PyTorch).
    """
    n_img, n_ch, h, w = x.shape
    oh, ow = y.shape[2], y.shape[3]
    for n in range(n_img):
        for c in range(n_ch):
            for i in range(oh):
                for j in range(ow):
                    best = x[n, c, i * stride, j * stride]
                    where = (i * stride) * w + j * stride
                    for u in range(k):
                        for v in range(k):
                            val = x[n, c, i * stride + u, j * stride + v]
                            if best == best and (val > best or val != val):
                                best = val
                                where = (i * stride + u) * w + j * stride + v
                    y[n, c, i, j] = best
                    arg[n, c, i, j] = where


@njit(cache=True, inline="always")
def _pick(best, val):
    """The running max of :func:`maxpool_forward`: ``val`` wins if greater, a NaN wins over a number (written as
    selects without ``and``/``or``, which would branch, so that the loops vectorise)."""
    m = val if val > best else best
    m = best if best != best else m
    return val if val != val else m


@njit(cache=True)
def maxpool_eval(x, y, k, stride):
    """``y[n, c, i, j] = max_{u, v < k} x[n, c, i*stride + u, j*stride + v]`` without recording where (inference):
    the values of :func:`maxpool_forward`, NaN propagating (for integer codes the NaN test compiles away).

    The usual 2 x 2 window with stride 2 has its own loop, written out: with ``k`` a run-time value LLVM cannot
    unroll the two window loops, and the general form ran 6x slower on the digits CNN's pooling."""
    n_img, n_ch, oh, ow = y.shape
    for n in range(n_img):
        for c in range(n_ch):
            for i in range(oh):
                if k == 2 and stride == 2:
                    for j in range(ow):
                        top = _pick(x[n, c, 2 * i, 2 * j], x[n, c, 2 * i, 2 * j + 1])
                        top = _pick(top, x[n, c, 2 * i + 1, 2 * j])
                        y[n, c, i, j] = _pick(top, x[n, c, 2 * i + 1, 2 * j + 1])
                    continue
                for j in range(ow):
                    best = x[n, c, i * stride, j * stride]
                    for u in range(k):
                        for v in range(k):
                            best = _pick(best, x[n, c, i * stride + u, j * stride + v])
                    y[n, c, i, j] = best


@njit(cache=True)
def maxpool_backward(grad_y, arg, grad_x):
    """Route each output gradient to the pixel that won the max: ``grad_x[n, c, arg // W, arg % W] += grad_y``.

    ``grad_x`` must be zero on entry; with stride < k one pixel can win several windows and its gradients add up.
    """
    n_img, n_ch, oh, ow = grad_y.shape
    w = grad_x.shape[3]
    for n in range(n_img):
        for c in range(n_ch):
            for i in range(oh):
                for j in range(ow):
                    flat = arg[n, c, i, j]
                    grad_x[n, c, flat // w, flat % w] += grad_y[n, c, i, j]
