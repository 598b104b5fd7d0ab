"""numba kernels of the nn package: im2col / col2im for Conv2D and max pooling for MaxPool2D.

Kernels take arrays and scalars only and write into output arrays that their public wrapper allocates. Each is
compiled for float32 (training) and float64 (gradient checks).

The kernels are serial on purpose. With ``parallel=True`` they ran 2x faster on large batches of a 2-core machine,
but compiled 2.3x slower. Under pytest-xdist, or next to numpy's own BLAS threads, the threads oversubscribed the
cores and the test file ran 9x slower. The time of a Conv2D layer goes mostly to the BLAS matmul anyway.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def im2col(x, cols, k, stride, pad, pad_value):
    """Unfold ``k x k`` patches of ``x`` (N, C, H, W) into the rows of ``cols`` (N*OH*OW, C*k*k).

    ``cols[(n*OH + i)*OW + j, (c*k + u)*k + v] = x[n, c, i*stride + u - pad, j*stride + v - pad]``, and 0 where that
    index falls into the padding, which holds ``pad_value`` (0 for floats; the zero point, the code of real 0, for the
    integer kernels of :mod:`odyssey_lessons.quant`, which reuse this one). ``OH = (H + 2*pad - k) // stride + 1``,
    likewise ``OW``. Any dtype: ``cols`` has the dtype of ``x`` and ``pad_value`` is stored in it.
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
                        for v in range(k):
                            xx = j * stride + v - pad
                            col = (c * k + u) * k + v
                            if 0 <= yy < h and 0 <= xx < w:
                                cols[row, col] = x[n, c, yy, xx]
                            else:
                                cols[row, col] = pad_value


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
