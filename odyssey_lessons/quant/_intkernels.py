"""Integer GEMM and convolution: int8 x int8 -> int32, as integer-only inference runs them (Jacob et al. 2018).

``int8_matmul(a, b)`` computes ``sum_k (a[i,k] - za) * (b[k,j] - zb)`` exactly in int32. ``int8_conv2d`` unfolds the
int8 image into patches (im2col, padding with the zero point) and runs the same GEMM.

How the kernel is written: every int8 value is widened to int32 *explicitly* and every sum is cast back with
``np.int32(...)``. numba types ``int32 + int32`` as int64; without the casts the accumulators would silently
become int64 and LLVM would vectorise at half the width. ``b`` is transposed once to ``(N, K)`` so
that both operands of a dot product are contiguous; a 4 x 4 register block computes 16 dot products per pass over
``K`` (each loaded byte is used 4 times) and LLVM vectorises the ``K`` loop (sign extension, then ``vpmaddwd`` or
``vpmulld`` + ``vpaddd``, 256-bit). Measured single-threaded on a 2-core AVX-512 Xeon (``benchmarks/bench_quant.py``):
25-35 Gop/s, about 0.3x float32 BLAS at batch 256 and 0.6-1.8x at batch 1. Tried and slower here: 2x2, 2x4, 4x2,
1x8 blocks, operands pre-widened to int16, pairs of ``K`` (``a0*b0 + a1*b1``, which LLVM scalarised) and
vectorising over ``N`` with accumulators in memory. Reaching BLAS speed needs VNNI (``vpdpbusd``) code that numba
does not generate from Python loops.

On a CPU with VNNI, :func:`int8_matmul` and :func:`int8_conv2d` take the ``vpdpbusd`` kernel of
:mod:`odyssey_lessons.quant._vnnigemm` instead (``path="auto"``); this kernel is the portable fallback, and both are
exact, so they agree bit for bit.

Overflow bound: one product is at most ``128 * 128 = 2**14`` in magnitude, so ``K`` products fit in int32 for
``K * 2**14 < 2**31``, i.e. ``K < 131,072`` (``K * 127 * 127 < 2**31`` gives the often quoted ``K < 133,000`` for the
restricted symmetric range). With zero points the bound is ``K * max|a - za| * max|b - zb| < 2**31``; the wrappers
check it and refuse larger ``K`` instead of wrapping around.

uint8 activations (asymmetric, zero point ``za`` in 0..255) are mapped to int8 by flipping the top bit,
``a - 128``, with zero point ``za - 128``; ``(a - za)`` is unchanged, so one int8 x int8 kernel serves both.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from odyssey_lessons._validate import check_int
from odyssey_lessons.nn import im2col, maxpool_eval
from odyssey_lessons.quant._vnniconv import ConvWeights, vnni_conv2d
from odyssey_lessons.quant._vnnigemm import PackedWeights, resolve_int8_path, vnni_matmul

INT32_MAX = 2**31 - 1
_SIGNED_TOP = np.uint8(0x80)


@njit(cache=True, inline="always")
def dot_s8(a, i, bt, j, k):
    """``sum_p int32(a[i, p]) * int32(bt[j, p])`` in int32 (for the rows and columns left over by the blocks)."""
    c = np.int32(0)
    for p in range(k):
        c = np.int32(c + np.int32(a[i, p]) * np.int32(bt[j, p]))
    return c


@njit(cache=True, inline="always")
def block_4x4(a, bt, i, j, k, out):
    """``out[i:i+4, j:j+4] = a[i:i+4] @ bt[j:j+4].T``: 16 int32 accumulators in registers, each loaded byte used
    4 times; LLVM vectorises the loop over ``p``."""
    c00 = c01 = c02 = c03 = np.int32(0)
    c10 = c11 = c12 = c13 = np.int32(0)
    c20 = c21 = c22 = c23 = np.int32(0)
    c30 = c31 = c32 = c33 = np.int32(0)
    for p in range(k):
        a0, a1, a2, a3 = np.int32(a[i, p]), np.int32(a[i + 1, p]), np.int32(a[i + 2, p]), np.int32(a[i + 3, p])
        b0, b1, b2, b3 = np.int32(bt[j, p]), np.int32(bt[j + 1, p]), np.int32(bt[j + 2, p]), np.int32(bt[j + 3, p])
        c00, c01, c02, c03 = (
            np.int32(c00 + a0 * b0),
            np.int32(c01 + a0 * b1),
            np.int32(c02 + a0 * b2),
            np.int32(c03 + a0 * b3),
        )
        c10, c11, c12, c13 = (
            np.int32(c10 + a1 * b0),
            np.int32(c11 + a1 * b1),
            np.int32(c12 + a1 * b2),
            np.int32(c13 + a1 * b3),
        )
        c20, c21, c22, c23 = (
            np.int32(c20 + a2 * b0),
            np.int32(c21 + a2 * b1),
            np.int32(c22 + a2 * b2),
            np.int32(c23 + a2 * b3),
        )
        c30, c31, c32, c33 = (
            np.int32(c30 + a3 * b0),
            np.int32(c31 + a3 * b1),
            np.int32(c32 + a3 * b2),
            np.int32(c33 + a3 * b3),
        )
    out[i, j], out[i, j + 1], out[i, j + 2], out[i, j + 3] = c00, c01, c02, c03
    out[i + 1, j], out[i + 1, j + 1], out[i + 1, j + 2], out[i + 1, j + 3] = c10, c11, c12, c13
    out[i + 2, j], out[i + 2, j + 1], out[i + 2, j + 2], out[i + 2, j + 3] = c20, c21, c22, c23
    out[i + 3, j], out[i + 3, j + 1], out[i + 3, j + 2], out[i + 3, j + 3] = c30, c31, c32, c33


@njit(cache=True, inline="always")
def block_1x4(a, bt, i, j, k, out):
    """``out[i, j:j+4] = bt[j:j+4] @ a[i]``: 4 int32 accumulators."""
    c0 = c1 = c2 = c3 = np.int32(0)
    for p in range(k):
        a0 = np.int32(a[i, p])
        c0 = np.int32(c0 + a0 * np.int32(bt[j, p]))
        c1 = np.int32(c1 + a0 * np.int32(bt[j + 1, p]))
        c2 = np.int32(c2 + a0 * np.int32(bt[j + 2, p]))
        c3 = np.int32(c3 + a0 * np.int32(bt[j + 3, p]))
    out[i, j], out[i, j + 1], out[i, j + 2], out[i, j + 3] = c0, c1, c2, c3


@njit(cache=True)
def gemm_s8_kernel(a, bt, za, zb, out):
    """``out[i, j] = sum_k (a[i, k] - za) * (bt[j, k] - zb)`` in int32, for int8 ``a`` (M, K), ``bt`` (N, K).

    Computed as ``sum_k a*b - zb * rowsum(a)[i] - za * colsum(b)[j] + K * za * zb`` (the row/column-sum
    correction), so the inner loop is a plain int8 dot product. The caller guarantees the result fits int32.
    """
    m, k = a.shape
    n = bt.shape[0]
    rowsum = np.zeros(m, dtype=np.int32)
    colsum = np.zeros(n, dtype=np.int32)
    if zb != 0:
        for i in range(m):
            s = np.int32(0)
            for p in range(k):
                s = np.int32(s + np.int32(a[i, p]))
            rowsum[i] = s
    if za != 0:
        for j in range(n):
            s = np.int32(0)
            for p in range(k):
                s = np.int32(s + np.int32(bt[j, p]))
            colsum[j] = s
    const = np.int32(np.int32(k) * np.int32(za) * np.int32(zb))
    za32, zb32 = np.int32(za), np.int32(zb)
    m4, n4 = m - m % 4, n - n % 4
    for i in range(0, m4, 4):
        for j in range(0, n4, 4):
            block_4x4(a, bt, i, j, k, out)
        for j in range(n4, n):
            for ii in range(i, i + 4):
                out[ii, j] = dot_s8(a, ii, bt, j, k)
    for i in range(m4, m):  # leftover rows (all of them at batch 1): 1 x 4 blocks, each loaded a[i] byte used 4 times
        for j in range(0, n4, 4):
            block_1x4(a, bt, i, j, k, out)
        for j in range(n4, n):
            out[i, j] = dot_s8(a, i, bt, j, k)
    if za != 0 or zb != 0:
        for i in range(m):
            for j in range(n):
                out[i, j] = np.int32(out[i, j] - zb32 * rowsum[i] - za32 * colsum[j] + const)


@njit(cache=True)
def quantize_u8_kernel(x, scale, zp, qmin, qmax, out):
    """``out[i, j] = clamp(rint(x[i, j] / scale) + zp, qmin, qmax)`` for float32 ``x`` (M, K) and float32 ``scale``:
    ``quantize`` for one per-tensor uint8 activation in one pass (ties to even, the division in float32). Columns of
    ``out`` past K are left as they are. Returns the number of NaN inputs (which have no code: the caller raises)."""
    lo, hi = np.float32(qmin), np.float32(qmax)
    z = np.float32(zp)
    nans = 0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            t = np.rint(x[i, j] / scale) + z
            nans += t != t
            out[i, j] = np.uint8(min(max(t, lo), hi))
    return nans


# ----- validating wrappers ------------------------------------------------------------------------------------------
def _check_int_array(name: str, x: object, ndim: int) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
        raise TypeError(f"{name} must have dtype int8 or uint8, got {name}.dtype={x.dtype}")
    if x.ndim != ndim:
        raise ValueError(f"{name} must have ndim {ndim}, got {name}.shape={x.shape}")
    return x


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
    _check_int_array("a", a, 2)
    _check_int_array("b", b, 2)
    if b.dtype != np.int8:
        raise TypeError(f"b must have dtype int8 (signed weights), got b.dtype={b.dtype}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"a (M, K) and b (K, N) must share K, got a.shape={a.shape}, b.shape={b.shape}")
    za = _check_zero_point("a_zero_point", a_zero_point, a.dtype)
    zb = _check_zero_point("b_zero_point", b_zero_point, b.dtype)
    path = resolve_int8_path(path)
    if path != "portable":
        check_accumulator_bound(a.shape[1], za - 128 if a.dtype == np.uint8 else za, zb)
        au, zau = to_unsigned(a, za)
        return vnni_matmul(au, PackedWeights(b.T), zau, zb, path)
    a8, za8 = to_signed(a, za)
    return matmul_s8t(a8, np.ascontiguousarray(b.T), za8, zb)


def conv_out_size(name: str, size: int, k: int, stride: int, pad: int) -> int:
    if size + 2 * pad < k:
        raise ValueError(f"input {name}={size} plus padding {2 * pad} is smaller than kernel_size={k}")
    return (size + 2 * pad - k) // stride + 1


def conv2d_s8(x8: np.ndarray, w_rows: np.ndarray, k: int, stride: int, padding: int, zx: int) -> np.ndarray:
    """Checked-arguments core: int8 NCHW ``x8`` (zero point ``zx``), weights as rows (O, C*k*k) -> int32 (N*OH*OW, O).

    Rows of the result are ordered (n, i, j), columns are output channels (channels last, as requantization wants).
    """
    n, c, h, w = x8.shape
    oh, ow = conv_out_size("H", h, k, stride, padding), conv_out_size("W", w, k, stride, padding)
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
    _check_int_array("x", x, 4)
    _check_int_array("w", w, 4)
    if w.dtype != np.int8:
        raise TypeError(f"w must have dtype int8 (signed weights), got w.dtype={w.dtype}")
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
    oh, ow = conv_out_size("H", h, k, stride, padding), conv_out_size("W", wd, k, stride, padding)
    rows = np.ascontiguousarray(w.reshape(w.shape[0], -1))
    if path != "portable":
        check_accumulator_bound(rows.shape[1], zx - 128 if x.dtype == np.uint8 else zx, 0)
        xu, zxu = to_unsigned(x, zx)
        return vnni_conv2d(xu, ConvWeights(rows, k), stride, padding, zxu, path)
    else:
        x8, zx8 = to_signed(x, zx)
        acc = conv2d_s8(x8, rows, k, stride, padding, zx8)
    return np.ascontiguousarray(acc.reshape(n, oh, ow, -1).transpose(0, 3, 1, 2))


def maxpool2d_int(x: np.ndarray, kernel_size: int, stride: int) -> np.ndarray:
    """Max pooling of integer codes (N, C, H, W) -> (N, C, (H - k) // stride + 1, ...); windows that do not fit
    are dropped, as in ``nn.MaxPool2D``."""
    n, c, h, w = x.shape
    oh = conv_out_size("H", h, kernel_size, stride, 0)
    ow = conv_out_size("W", w, kernel_size, stride, 0)
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    maxpool_eval(np.ascontiguousarray(x), y, kernel_size, stride)
    return y
