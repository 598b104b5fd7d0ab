"""Integer GEMM and convolution: int8 x int8 -> int32, as integer-only inference runs them (Jacob et al. 2018).

``int8_matmul(a, b)`` computes ``sum_k (a[i,k] - za) * (b[k,j] - zb)`` exactly in int32. ``int8_conv2d`` unfolds the
int8 image into patches (im2col, padding with the zero point) and runs the same GEMM. These are the validating
wrappers; the kernels are the portable one of :mod:`odyssey_lessons.quant._intkernels` and, on a CPU with VNNI
(``path="auto"``), the ``vpdpbusd`` ones reached through :mod:`odyssey_lessons.quant._vnnigemm` and
:mod:`odyssey_lessons.quant._vnniconv`. Every path is exact, so they agree bit for bit.

Overflow bound: one product is at most ``128 * 128 = 2**14`` in magnitude, so ``K`` products fit in int32 for
``K * 2**14 < 2**31``, i.e. ``K < 131,072`` (``K * 127 * 127 < 2**31`` gives the often quoted ``K < 133,000`` for the
restricted symmetric range). With zero points the bound is ``K * max|a - za| * max|b - zb| < 2**31``; the wrappers
check it and refuse larger ``K`` instead of wrapping around.

uint8 activations (asymmetric, zero point ``za`` in 0..255) are mapped to int8 by flipping the top bit,
``a - 128``, with zero point ``za - 128``; ``(a - za)`` is unchanged, so one int8 x int8 kernel serves both.
"""

from __future__ import annotations

import numpy as np

from odyssey_lessons._validate import check_int
from odyssey_lessons.nn import conv_output_size, im2col, maxpool_eval
from odyssey_lessons.quant._intkernels import gemm_s8_kernel
from odyssey_lessons.quant._vnniconv import ConvWeights, vnni_conv2d
from odyssey_lessons.quant._vnnigemm import PackedWeights, resolve_int8_path, vnni_matmul

INT32_MAX = 2**31 - 1
_SIGNED_TOP = np.uint8(0x80)


def _check_int_array(name: str, x: object, ndim: int) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
        raise TypeError(f"{name} must have dtype int8 or uint8, got {name}.dtype={x.dtype}")
    if x.ndim != ndim:
        raise ValueError(f"{name} must have ndim {ndim}, got {name}.shape={x.shape}")
    return x


def _check_operands(x_name: str, x: object, w_name: str, w: object, ndim: int) -> None:
    """``x``: int8 or uint8 activations, ``w``: int8 weights, both ``ndim``-D (TypeError/ValueError naming them)."""
    _check_int_array(x_name, x, ndim)
    _check_int_array(w_name, w, ndim)
    if w.dtype != np.int8:
        raise TypeError(f"{w_name} must have dtype int8 (signed weights), got {w_name}.dtype={w.dtype}")


def _check_zero_point(name: str, zp: object, dtype: np.dtype) -> int:
    """The zero point as an int in the range of ``dtype``; raises TypeError/ValueError naming ``name``."""
    if isinstance(zp, bool) or not isinstance(zp, int | np.integer):
        raise TypeError(f"{name} must be an int, got {name}={zp!r}")
    info = np.iinfo(dtype)
    if not info.min <= zp <= info.max:
        raise ValueError(f"{name} must be in [{info.min}, {info.max}] for {dtype} data, got {name}={zp}")
    return int(zp)


def to_signed(x: np.ndarray, zero_point: int) -> tuple[np.ndarray, int]:
    """int8 data as is; uint8 data shifted to int8 (``x - 128``, zero point ``zero_point - 128``), C-contiguous."""
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x ^ _SIGNED_TOP).view(np.int8), zero_point - 128
    return np.ascontiguousarray(x), zero_point


def check_accumulator_bound(k: int, za: int, zb: int) -> None:
    """Raise ValueError unless ``K * max|a - za| * max|b - zb| < 2**31`` (int8 operands, so no int32 wrap-around)."""
    amax = max(za + 128, 127 - za)
    bmax = max(zb + 128, 127 - zb)
    raw = k * 128 * 128
    if k * amax * bmax > INT32_MAX or raw > INT32_MAX:
        raise ValueError(
            f"K={k} products of int8 values could overflow the int32 accumulator "
            f"(K * {amax} * {bmax} must be < 2**31; K < 131,072 with zero points 0)"
        )


def matmul_s8t(a: np.ndarray, bt: np.ndarray, za: int, zb: int) -> np.ndarray:
    """Checked-arguments core: int8 ``a`` (M, K) times transposed int8 ``bt`` (N, K) -> int32 (M, N)."""
    check_accumulator_bound(a.shape[1], za, zb)
    out = np.empty((a.shape[0], bt.shape[0]), dtype=np.int32)
    gemm_s8_kernel(a, bt, za, zb, out)
    return out


def _vnni_operand(x: np.ndarray, zx: int, k: int, zw: int) -> tuple[np.ndarray, int]:
    """Activations ``x`` and their zero point as the VNNI kernels take them (uint8, :func:`to_unsigned`), once the
    accumulator bound holds for ``K = k`` products (the bound of the int8 view, which the shift leaves unchanged)."""
    check_accumulator_bound(k, zx - 128 if x.dtype == np.uint8 else zx, zw)
    return to_unsigned(x, zx)


def to_unsigned(x: np.ndarray, zero_point: int) -> tuple[np.ndarray, int]:
    """uint8 data as is; int8 data shifted to uint8 (``x + 128``, zero point ``zero_point + 128``), C-contiguous."""
    if x.dtype == np.int8:
        return np.ascontiguousarray(x.view(np.uint8) ^ _SIGNED_TOP), zero_point + 128
    return np.ascontiguousarray(x), zero_point


def int8_matmul(
    a: np.ndarray, b: np.ndarray, *, a_zero_point: int = 0, b_zero_point: int = 0, path: str = "auto"
) -> np.ndarray:
    """Exact integer matrix product ``C[i, j] = sum_k (a[i, k] - a_zero_point) * (b[k, j] - b_zero_point)``, int32.

    Args:
        a: (M, K) int8, or uint8 activations (asymmetric quantization with ``a_zero_point`` in 0..255).
        b: (K, N) int8 weights (usually symmetric, ``b_zero_point = 0``).
        a_zero_point, b_zero_point: Zero points in the range of the operand's dtype.
        path: ``"auto"`` (the fastest this CPU has), ``"avx512_vnni"``, ``"vnni_256"`` or ``"portable"`` (see
            :data:`odyssey_lessons.quant.INT8_PATHS`); every path gives the same exact result.

    Returns:
        (M, N) int32, equal to the int64 product (the bound below guarantees no wrap-around).

    Raises:
        TypeError: Not int8/uint8 arrays (``b`` must be int8), or a zero point that is not an int.
        ValueError: Not 2-D, inner sizes differ, zero point out of range, ``K`` so large that
            ``K * max|a - za| * max|b - zb|`` could reach 2**31, or a path this CPU lacks.
    """
    _check_operands("a", a, "b", b, 2)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"a (M, K) and b (K, N) must share K, got a.shape={a.shape}, b.shape={b.shape}")
    za = _check_zero_point("a_zero_point", a_zero_point, a.dtype)
    zb = _check_zero_point("b_zero_point", b_zero_point, b.dtype)
    path = resolve_int8_path(path)
    if path != "portable":
        au, zau = _vnni_operand(a, za, a.shape[1], zb)
        return vnni_matmul(au, PackedWeights(b.T), zau, zb, path)
    a8, za8 = to_signed(a, za)
    return matmul_s8t(a8, np.ascontiguousarray(b.T), za8, zb)


def conv2d_s8(x8: np.ndarray, w_rows: np.ndarray, k: int, stride: int, padding: int, zx: int) -> np.ndarray:
    """Checked-arguments core: int8 NCHW ``x8`` (zero point ``zx``), weights as rows (O, C*k*k) -> int32 (N*OH*OW, O).

    Rows of the result are ordered (n, i, j), columns are output channels (channels last, as requantization wants).
    """
    n, c, h, w = x8.shape
    oh, ow = conv_output_size("H", h, k, stride, padding), conv_output_size("W", w, k, stride, padding)
    cols = np.empty((n * oh * ow, c * k * k), dtype=np.int8)
    im2col(x8, cols, k, stride, padding, np.int8(zx))
    return matmul_s8t(cols, w_rows, zx, 0)


def int8_conv2d(
    x: np.ndarray, w: np.ndarray, *, stride: int = 1, padding: int = 0, x_zero_point: int = 0, path: str = "auto"
) -> np.ndarray:
    """Exact integer 2-D convolution (cross-correlation, NCHW, as :class:`odyssey_lessons.nn.Conv2D`):

    ``y[n, o, i, j] = sum_{c,u,v} w[o, c, u, v] * (x[n, c, i*stride + u - padding, j*stride + v - padding] - zx)``

    where the padding holds the zero point (real value 0), so padded taps contribute nothing. int8 im2col, then
    :func:`int8_matmul`'s kernel.

    Args:
        x: (N, C, H, W) int8, or uint8 with ``x_zero_point`` in 0..255.
        w: (O, C, kh, kw) int8 weights (symmetric, zero point 0), square kernel.
        stride, padding: As in ``nn.Conv2D``.
        path: The GEMM path, as in :func:`int8_matmul`.

    Returns:
        (N, O, OH, OW) int32, ``OH = (H + 2*padding - kh) // stride + 1``.

    Raises:
        TypeError, ValueError: Wrong dtypes or ndim, channel mismatch, non-square kernel, bad stride/padding,
            input smaller than the kernel, or an accumulator that could overflow int32.
    """
    _check_operands("x", x, "w", w, 4)
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w (O, C, kh, kw) must have x's C={x.shape[1]} channels, got w.shape={w.shape}")
    if w.shape[2] != w.shape[3]:
        raise ValueError(f"w must have a square kernel (kh == kw), got w.shape={w.shape}")
    stride = check_int("stride", stride, minimum=1)
    padding = check_int("padding", padding, minimum=0)
    zx = _check_zero_point("x_zero_point", x_zero_point, x.dtype)
    path = resolve_int8_path(path)
    n, _, h, wd = x.shape
    k = w.shape[2]
    oh, ow = conv_output_size("H", h, k, stride, padding), conv_output_size("W", wd, k, stride, padding)
    rows = np.ascontiguousarray(w.reshape(w.shape[0], -1))
    if path != "portable":
        xu, zxu = _vnni_operand(x, zx, rows.shape[1], 0)
        return vnni_conv2d(xu, ConvWeights(rows, k), stride, padding, zxu, path)
    x8, zx8 = to_signed(x, zx)
    acc = conv2d_s8(x8, rows, k, stride, padding, zx8)
    return np.ascontiguousarray(acc.reshape(n, oh, ow, -1).transpose(0, 3, 1, 2))


def maxpool2d_int(x: np.ndarray, kernel_size: int, stride: int) -> np.ndarray:
    """Max pooling of integer codes (N, C, H, W) -> (N, C, (H - k) // stride + 1, ...); windows that do not fit
    are dropped, as in ``nn.MaxPool2D``."""
    n, c, h, w = x.shape
    oh = conv_output_size("H", h, kernel_size, stride, 0)
    ow = conv_output_size("W", w, kernel_size, stride, 0)
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    maxpool_eval(np.ascontiguousarray(x), y, kernel_size, stride)
    return y
