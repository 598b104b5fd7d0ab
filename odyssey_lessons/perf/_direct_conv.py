"""Direct convolution: the textbook loop nest, one numba kernel
(:func:`odyssey_lessons.perf._kernels.direct_conv2d_kernel`), no im2col matrix and no BLAS.

``nn.Conv2D`` computes a convolution as im2col (copy every ``k x k`` patch into a row of a matrix ``cols``) followed by
one large BLAS matrix product. This module computes the same forward pass directly, summing
``W[o, c, u, v] * x[n, c, i*s + u - p, j*s + v - p]`` in a loop nest. It needs no extra memory (``cols`` repeats each
input value up to ``k*k`` times), but its inner loop is numba's, not a hand-tuned BLAS kernel's. Which one wins
depends on the layer's shape: lesson 7 measures it.

The loop order: for every output pixel, a vector of ``O`` accumulators (one per output channel) receives
``x[n, c, row, col] * W[:, c, u, v]`` for each of the ``C k k`` input values under the kernel -- the innermost loop
runs over the output channels, with the weight transposed to (C, k, k, O) so that loop reads memory contiguously and
numba can vectorise it. (Sliding along an output row instead gives an inner loop of only 8 iterations on the 8x8
digits; on the 2-vCPU Xeon this course was built on it measured 5-25x slower than this order.)
"""

from __future__ import annotations

import numpy as np

from odyssey_lessons._validate import FLOAT_DTYPES, check_int, check_positive_int
from odyssey_lessons.nn import conv_output_size
from odyssey_lessons.perf._kernels import direct_conv2d_kernel


def direct_conv2d(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, *, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """The forward pass of ``nn.Conv2D`` computed by a direct loop nest (no im2col, no BLAS).

    ``y[n, o, i, j] = bias[o] + sum_{c,u,v} weight[o, c, u, v] * x[n, c, i*stride + u - padding,
    j*stride + v - padding]`` with zero padding; ``OH = (H + 2 padding - k) // stride + 1``, likewise ``OW``.
    The kernel runs on one thread (numba, serial), like the course's training step.

    Args:
        x: Input (N, C, H, W), float32 or float64.
        weight: Kernels (O, C, k, k), the same dtype as ``x``.
        bias: Bias (O,), the same dtype as ``x``.
        stride: Step between neighbouring outputs (>= 1).
        padding: Zeros added on each side of the height and width (>= 0).

    Returns:
        ``y`` (N, O, OH, OW), a new array of ``x``'s dtype.

    Raises:
        TypeError: An argument that is not an ndarray, a dtype other than float32/float64, or mixed dtypes.
        ValueError: Shapes that do not fit together, a non-square kernel, a bad ``stride`` or ``padding``, or an input
            smaller than the kernel.
    """
    for name, a in (("x", x), ("weight", weight), ("bias", bias)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"x must have dtype float32 or float64, got x.dtype={x.dtype}")
    if weight.dtype != x.dtype or bias.dtype != x.dtype:
        raise TypeError(f"x, weight and bias must share a dtype, got {x.dtype}, {weight.dtype}, {bias.dtype}")
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got x.shape={x.shape}")
    if weight.ndim != 4 or weight.shape[2] != weight.shape[3]:
        raise ValueError(f"weight must be (O, C, k, k) with a square kernel, got weight.shape={weight.shape}")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight has {weight.shape[1]} input channels but x has {x.shape[1]} (x.shape={x.shape})")
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got bias.shape={bias.shape}")
    stride = check_positive_int("stride", stride)
    padding = check_int("padding", padding, minimum=0)
    padding = int(padding)
    n, _, h, w = x.shape
    k = weight.shape[2]
    oh, ow = conv_output_size("H", h, k, stride, padding), conv_output_size("W", w, k, stride, padding)
    y = np.empty((n, weight.shape[0], oh, ow), dtype=x.dtype)
    weight_t = np.ascontiguousarray(weight.transpose(1, 2, 3, 0))  # (C, k, k, O): output channels innermost
    direct_conv2d_kernel(np.ascontiguousarray(x), weight_t, np.ascontiguousarray(bias), y, stride, padding)
    return y


def im2col_bytes(input_shape: tuple[int, ...], kernel_size: int, *, stride: int = 1, padding: int = 0,
                 itemsize: int = 4) -> int:  # fmt: skip
    """Bytes of the im2col matrix ``cols`` (N*OH*OW, C*k*k) that ``nn.Conv2D`` builds for an input of
    ``input_shape`` (N, C, H, W): the memory a direct convolution does without.

    Raises:
        TypeError: ``input_shape`` is not a tuple of ints, or ``kernel_size``/``stride`` not an int.
        ValueError: ``input_shape`` is not four ints >= 1, or the padded input is smaller than the kernel.
    """
    if not isinstance(input_shape, tuple | list):
        raise TypeError(f"input_shape must be (N, C, H, W) of ints >= 1, got input_shape={input_shape!r}")
    if len(input_shape) != 4:
        raise ValueError(f"input_shape must be (N, C, H, W) of ints >= 1, got input_shape={input_shape!r}")
    n, c, h, w = (check_int("input_shape[i]", d, minimum=1) for d in input_shape)
    k = check_positive_int("kernel_size", kernel_size)
    stride = check_positive_int("stride", stride)
    oh, ow = conv_output_size("H", h, k, stride, padding), conv_output_size("W", w, k, stride, padding)
    return itemsize * n * oh * ow * c * k * k
