"""The int8 GEMM on VNNI: weights packed once into panels (:class:`PackedWeights`), the zero-point corrections and a
quantized layer's epilogue constants folded (:class:`QuantizedGemm`), and the dispatch between the int8 paths
(:data:`INT8_PATHS`). The kernels are in :mod:`odyssey_lessons.quant._vnnikernels`.

``vpdpbusd`` multiplies *unsigned* by *signed* bytes, so ``a`` is uint8: activations already are (asymmetric,
zero point ``za`` in 0..255); int8 data is shifted by 128 (``a + 128``, zero point ``za + 128``), which leaves
``a - za`` unchanged. Then ``sum_k (a - za)(b - zb) = sum_k a*b - za * colsum(b) - zb * rowsum(a) + K * za * zb``,
every term computed mod 2**32 (int32 wrap-around), which gives the exact result when it fits int32.
"""

from __future__ import annotations

import numpy as np

from odyssey_lessons.native import cpu_features
from odyssey_lessons.native._vnni import NR, pack_weights
from odyssey_lessons.quant._pack import PackedCodes
from odyssey_lessons.quant._vnnikernels import GEMM_KERNELS, row_sums_u8

INT8_PATHS = ("avx512_vnni", "vnni_256", "portable")
"""The int8 GEMM paths, fastest first: VNNI on 512-bit vectors, VNNI on 256-bit vectors, and the portable kernel of
:mod:`odyssey_lessons.quant._intkernels` (plain int32 multiply-adds, any CPU)."""


def available_int8_paths() -> tuple[str, ...]:
    """The paths of :data:`INT8_PATHS` this machine can run (numba's compile target decides, see
    :func:`odyssey_lessons.native.cpu_features`); ``"portable"`` always."""
    features = cpu_features()
    return tuple(p for p in INT8_PATHS if p == "portable" or features[p])


def resolve_int8_path(path: str) -> str:
    """``"auto"`` -> the fastest available path; a named path is returned if this machine has it.

    Raises:
        TypeError: ``path`` is not a str.
        ValueError: An unknown path, or one this CPU (or numba's compile target) lacks.
    """
    if not isinstance(path, str):
        raise TypeError(f"path must be a str, got path={path!r}")
    available = available_int8_paths()
    if path == "auto":
        return available[0]
    if path not in INT8_PATHS:
        raise ValueError(f"path must be 'auto' or one of {INT8_PATHS}, got path={path!r}")
    if path not in available:
        raise ValueError(
            f"path={path!r} needs a CPU feature numba's compile target lacks here (cpu_features()={cpu_features()}); "
            f"available: {available}"
        )
    return path


class PackedWeights:
    """int8 weight codes (N, K) packed once for the VNNI kernels: the panels, and the column sums ``sum_k w[j, k]``.

    Codes of fewer than 8 bits (``bits < 8``) stay bit-packed in memory (:func:`~odyssey_lessons.quant.pack_int` of
    the panels, so the model keeps its int4 size) and :meth:`panels` unpacks them on every call
    (:class:`~odyssey_lessons.quant._pack.PackedCodes`). ``rows`` may be a transposed view of a (K, N) matrix.
    """

    def __init__(self, rows: np.ndarray, bits: int = 8) -> None:
        self.n, self.k = rows.shape
        self.k_pad = -(-self.k // 4) * 4
        self._codes = PackedCodes(pack_weights(rows), bits)
        self.colsum = rows.sum(axis=1, dtype=np.int32)

    def panels(self) -> np.ndarray:
        """The int8 panels (N/NR, K_pad/4, NR, 4): unpacked from the stored bits when ``bits < 8``."""
        return self._codes.codes()


_EMPTY32 = np.zeros((0, 0), dtype=np.int32)
_EMPTY8 = np.zeros((0, 0), dtype=np.uint8)
_EMPTY_VEC = np.zeros(0, dtype=np.int32)


def padded(v: np.ndarray) -> np.ndarray:
    """A per-column int32 vector (N,) zero-padded to whole panels (a multiple of NR)."""
    out = np.zeros(-(-v.size // NR) * NR, dtype=np.int32)
    out[: v.size] = v
    return out


def padded_u8(a: np.ndarray, k_pad: int) -> np.ndarray:
    """uint8 ``a`` (M, K) as a C-contiguous (M, k_pad) array (zero columns appended when K < k_pad)."""
    if a.shape[1] == k_pad and a.flags.c_contiguous:
        return a
    out = np.zeros((a.shape[0], k_pad), dtype=np.uint8)
    out[:, : a.shape[1]] = a
    return out


def vnni_matmul(a_u8: np.ndarray, w: PackedWeights, za: int, zb: int, kernel: str) -> np.ndarray:
    """int32 ``sum_k (a[i, k] - za) * (w[j, k] - zb)`` for uint8 ``a`` (M, K); arguments checked by the caller.

    ``= S[i, j] + (K za zb - za colsum[j]) - zb rowsum[i]``, each term wrapped to int32."""
    a = padded_u8(a_u8, w.k_pad)
    m = a.shape[0]
    rowterm = np.zeros(m, dtype=np.int32)
    if zb != 0:
        row_sums_u8(a, w.k, rowterm)
        rowterm = (rowterm.astype(np.int64) * zb).astype(np.int32)  # mod 2**32
    colterm = padded((w.k * za * zb - za * w.colsum.astype(np.int64)).astype(np.int32))
    out = np.empty((m, w.n), dtype=np.int32)
    GEMM_KERNELS[kernel](a, w.panels(), colterm, rowterm, _EMPTY_VEC, _EMPTY_VEC, _EMPTY_VEC, out, _EMPTY8)
    return out


class QuantizedGemm:
    """A quantized layer on the VNNI kernel: packed weights, and every per-column constant of its epilogue computed
    once -- ``colterm[j] = bias[j] - za * colsum[j]`` (the input zero point's correction folded into the int32
    bias), and ``m0``, ``shift`` per column."""

    def __init__(
        self, weights: PackedWeights, za: int, bias: np.ndarray, m0: np.ndarray, shift: np.ndarray,
        zy: int, lo: int, hi: int,
    ) -> None:  # fmt: skip
        n = weights.n
        self.weights = weights
        self.colterm = padded((bias.astype(np.int64) - za * weights.colsum.astype(np.int64)).astype(np.int32))
        self.m0 = padded(np.broadcast_to(m0.reshape(-1), (n,)).astype(np.int32))
        self.shift = padded(np.broadcast_to(shift.reshape(-1), (n,)).astype(np.int32))
        self.zrange = np.array([zy, lo, hi, int((self.shift < 0).any())], dtype=np.int64)

    def __call__(self, a_u8: np.ndarray, kernel: str) -> np.ndarray:
        """uint8 codes ``clamp(zy + requantize(sum_k (a - za) w + bias), lo, hi)`` for uint8 ``a`` (M, K)."""
        a = padded_u8(a_u8, self.weights.k_pad)
        out = np.empty((a.shape[0], self.weights.n), dtype=np.uint8)
        GEMM_KERNELS[kernel](
            a, self.weights.panels(), self.colterm, _EMPTY_VEC, self.m0, self.shift, self.zrange, _EMPTY32, out
        )
        return out
