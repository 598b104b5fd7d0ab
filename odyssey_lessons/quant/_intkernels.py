"""The portable int8 GEMM kernel: int8 x int8 -> int32 with plain int32 multiply-adds, on any CPU.

:func:`gemm_s8_kernel` computes ``sum_k (a[i, k] - za) * (bt[j, k] - zb)``; its validating wrappers,
:func:`~odyssey_lessons.quant.int8_matmul` and :func:`~odyssey_lessons.quant.int8_conv2d`
(:mod:`odyssey_lessons.quant._intgemm`), check dtypes, shapes, zero points and the int32 accumulator bound first. On a
CPU with VNNI they take the ``vpdpbusd`` kernels of :mod:`odyssey_lessons.quant._vnnikernels` instead; both are exact,
so they agree bit for bit.

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

The register blocks are written out by hand on purpose: 16 (or 4) named scalar accumulators are what LLVM keeps in
registers; a loop over an accumulator array would go through memory. Their repeated rows are that unrolling, not
logic to factor out.
"""

from __future__ import annotations

import numpy as np
from numba import njit


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
    4 times; LLVM vectorises the loop over ``p``. Unrolled by hand on purpose: 16 named scalars stay in registers,
    where an accumulator array would not (module docstring)."""
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
