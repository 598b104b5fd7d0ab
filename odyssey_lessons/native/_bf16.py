"""bf16 x bf16 -> fp32 matrix multiplication on the CPU's ``vdpbf16ps`` (AVX512-BF16), with a portable kernel that
gives the same bits, and a measurement against float32 BLAS.

Kernels and their exact arithmetic: ``_bf16_kernels.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from odyssey_lessons._interleave import interleaved
from odyssey_lessons._threads import single_threaded
from odyssey_lessons._validate import check_positive_int
from odyssey_lessons.formats import rounder
from odyssey_lessons.native import _bf16_kernels as K
from odyssey_lessons.native._features import cpu_features

BF16_PATHS = ("auto", "native", "fallback")
"""The values of ``path=``: ``auto`` picks ``native`` where numba's target has AVX512-BF16, else ``fallback``."""

_KERNELS = {"native": K.matmul_native, "fallback": K.matmul_portable}


def bf16_matmul_path() -> str:
    """The kernel ``bf16_matmul(..., path="auto")`` runs on this machine: ``"native"`` (``vdpbf16ps``, where
    ``cpu_features()["avx512_bf16"]``) or ``"fallback"`` (portable numba, same bits)."""
    return "native" if cpu_features()["avx512_bf16"] else "fallback"


def _bf16_bits(name: str, x: ArrayLike) -> NDArray[np.uint16]:
    """``x`` as C-contiguous 2-D bf16 bit patterns: float32 rounded to nearest even (``formats.rounder("bf16")``),
    uint16 and ``ml_dtypes.bfloat16`` taken as they are."""
    arr = np.asarray(x)
    if arr.dtype.name == "bfloat16" and arr.dtype.itemsize == 2:  # ml_dtypes.bfloat16: already bf16 bits
        arr = arr.view(np.uint16)
    if arr.dtype not in (np.float32, np.uint16):
        raise TypeError(
            f"{name} must be float32 (rounded to bf16 here), uint16 bf16 bit patterns or ml_dtypes.bfloat16, "
            f"got dtype {arr.dtype}; convert explicitly, e.g. {name}.astype(np.float32)"
        )
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got {name}.shape={arr.shape}")
    if arr.dtype == np.uint16:
        return np.ascontiguousarray(arr)
    rounded = rounder("bf16")(np.ascontiguousarray(arr))
    bits = np.empty(arr.shape, np.uint16)
    K.bf16_bits_from_f32(rounded.view(np.uint32).reshape(-1), bits.reshape(-1))
    return bits


def _kernel(path: str) -> Callable:
    if not isinstance(path, str) or path not in BF16_PATHS:
        raise ValueError(f"path must be one of {BF16_PATHS}, got path={path!r}")
    if path == "auto":
        path = bf16_matmul_path()
    if path == "native" and not cpu_features()["avx512_bf16"]:
        raise ValueError(
            "path='native' needs AVX512-BF16 (vdpbf16ps) in numba's compile target, which this machine lacks "
            f"(cpu_features()={cpu_features()}); use path='fallback' or 'auto'"
        )
    return _KERNELS[path]


def bf16_matmul(a: ArrayLike, b: ArrayLike, *, path: str = "auto") -> NDArray[np.float32]:
    """``a @ b`` of bf16 matrices with float32 accumulation, as ``vdpbf16ps`` computes it; float32 result.

    Inputs are bf16: float32 arrays are first rounded to bf16 (nearest, ties to even, overflow to inf -- exactly
    ``ml_dtypes.bfloat16``'s cast, done by :func:`odyssey_lessons.formats.rounder`), uint16 arrays are bf16 bit patterns
    and ``ml_dtypes.bfloat16`` arrays are used as they are.

    Each output element is one float32 accumulator, starting at +0, walking k in pairs ``p = 0, 1, ...``::

        acc = fma(a[i, 2p+1], b[2p+1, j], acc)     # the odd k of the pair first, as the instruction does
        acc = fma(a[i, 2p],   b[2p,   j], acc)

    with an odd K padded by one zero (so the last pair adds ``0 * 0`` first). Each fma rounds once to float32
    (nearest even); bf16 denormal inputs count as zero (DAZ) and results below the smallest normal ``2**-126`` after
    rounding become a zero of their sign (FTZ). So the result differs from a float64 matmul of the same bf16 values
    by the rounding of a sequential float32 sum: ``|error| <= gamma_K * sum_k |a_ik b_kj|`` with
    ``gamma_K = K u / (1 - K u)``, ``u = 2**-24``, plus at most ``K * 2**-126`` from flushing.
    Special values follow IEEE: ``inf * 0`` and ``inf - inf`` give NaN, a NaN input gives NaN (its payload is not
    specified), products beyond float32's range give ``+-inf``.

    Both paths give the same bits (NaNs: both NaN): ``native`` runs ``vdpbf16ps`` on 6 x 64 float32 accumulator tiles
    held in registers; ``fallback`` is portable numba (much slower), rounding the same way in float64 arithmetic.

    Args:
        a: (M, K) float32, uint16 (bf16 bits) or ml_dtypes.bfloat16 matrix.
        b: (K, N) matrix of the same kinds.
        path: ``"auto"`` (native where available), ``"native"`` or ``"fallback"``; see :func:`bf16_matmul_path`.

    Returns:
        (M, N) float32 C-contiguous array (zeros when K is 0).

    Raises:
        TypeError: ``a`` or ``b`` has another dtype.
        ValueError: ``a`` or ``b`` is not 2-D, their inner dimensions differ, ``path`` is unknown, or
            ``path="native"`` on a machine without AVX512-BF16.
    """
    kernel = _kernel(path)
    a16, b16 = _bf16_bits("a", a), _bf16_bits("b", b)
    (m, k), (k_b, n) = a16.shape, b16.shape
    if k != k_b:
        raise ValueError(f"a's columns must equal b's rows, got a.shape={a16.shape} and b.shape={b16.shape}")
    if m == 0 or n == 0 or k == 0:
        return np.zeros((m, n), np.float32)
    k2 = (k + 1) // 2
    ap = np.empty((-(-m // K.MR), k2, K.MR), np.uint32)
    bp = np.empty((-(-n // K.NR), k2, K.NR), np.uint32)
    K.pack_rows(a16, K.MR, ap)
    K.pack_cols(b16, K.NR, bp)
    c = np.zeros((ap.shape[0] * K.MR, bp.shape[0] * K.NR), np.float32)
    kernel(ap, bp, c)
    return c if c.shape == (m, n) else np.ascontiguousarray(c[:m, :n])


def bf16_matmul_speed(m: int, k: int, n: int, *, repeats: int = 9, seed: int = 0) -> dict:
    """Time ``bf16_matmul`` (auto path) against float32 BLAS (``numpy.matmul``) on an (m, k) @ (k, n) product, both
    on one thread (:func:`odyssey_lessons._threads.single_threaded`).

    Each contender is called once to warm up (compile or cache load, page faults), then they take turns ``repeats``
    times, so both see the same machine load; a sample repeats a call until it lasts at least 20 ms. Three contenders:
    ``bf16`` (inputs already bf16 bits: packing included, rounding not), ``bf16_from_f32`` (float32 inputs, rounding
    included) and ``fp32_blas``. Gflop/s counts ``2 m k n`` flops.

    Returns:
        ``{"m", "k", "n", "path", "seconds": {contender: [per-call seconds, ...]}, "median_s": {...},
        "gflops": {contender: 2mkn / median / 1e9}, "speedup": median fp32_blas / median bf16}``.

    Raises:
        ValueError: A dimension or ``repeats`` is not a positive int.
    """
    m, k, n = check_positive_int("m", m), check_positive_int("k", k), check_positive_int("n", n)
    repeats = check_positive_int("repeats", repeats)
    rng = np.random.default_rng(seed)
    a32 = rng.standard_normal((m, k), dtype=np.float32)
    b32 = rng.standard_normal((k, n), dtype=np.float32)
    a16, b16 = _bf16_bits("a", a32), _bf16_bits("b", b32)
    fns = {
        "bf16": lambda: bf16_matmul(a16, b16),
        "bf16_from_f32": lambda: bf16_matmul(a32, b32),
        "fp32_blas": lambda: np.matmul(a32, b32),
    }
    with single_threaded():
        times = interleaved(fns, repeats, min_time=0.02)
    median = {name: float(np.median(t)) for name, t in times.items()}
    flops = 2.0 * m * k * n
    return {
        "m": m,
        "k": k,
        "n": n,
        "path": bf16_matmul_path(),
        "seconds": times,
        "median_s": median,
        "gflops": {name: flops / t / 1e9 for name, t in median.items()},
        "speedup": median["fp32_blas"] / median["bf16"],
    }
