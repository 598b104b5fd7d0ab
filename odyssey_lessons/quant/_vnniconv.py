"""Integer convolution on VNNI, computed as ``W @ patches`` (the layout is explained in
:mod:`odyssey_lessons.quant._vnnikernels`, which holds the kernels): weights as rows padded to whole groups of 4 taps
(:class:`ConvWeights`), activation panels (:func:`patches`), and a quantized layer's epilogue constants
(:class:`QuantizedConv`).

Zero points: ``sum_t w[o, t] (x[t] - zx) = S[o, q] - zx * rowsum(w)[o]``, a per-channel constant folded into
the int32 bias. Taps past ``C*k*k`` (K is padded to a multiple of 4) have weight 0, so their bytes do not matter.
"""

from __future__ import annotations

import numpy as np

from odyssey_lessons.native._vnni import NR
from odyssey_lessons.nn import conv_output_size
from odyssey_lessons.quant._pack import PackedCodes
from odyssey_lessons.quant._vnnikernels import CONV_KERNELS, im2col_panels

_EMPTY32 = np.zeros((0, 0, 0), dtype=np.int32)
_EMPTY8 = np.zeros((0, 0, 0), dtype=np.uint8)
_EMPTY_VEC = np.zeros(0, dtype=np.int32)


class ConvWeights:
    """int8 convolution weights as rows (O, C*k*k), K padded with zeros to a multiple of 4, and their row sums.
    Codes of fewer than 8 bits stay bit-packed and :meth:`rows` unpacks them on every call
    (:class:`~odyssey_lessons.quant._pack.PackedCodes`)."""

    def __init__(self, rows: np.ndarray, kernel_size: int, bits: int = 8) -> None:
        self.o, self.k = rows.shape
        self.kernel_size = kernel_size
        self.k_pad = -(-self.k // 4) * 4
        padded = np.zeros((self.o, self.k_pad), dtype=np.int8)
        padded[:, : self.k] = rows
        self._codes = PackedCodes(padded, bits)
        self.rowsum = rows.astype(np.int64).sum(axis=1)

    def rows(self) -> np.ndarray:
        """The int8 rows (O, K_pad): unpacked from the stored bits when ``bits < 8``."""
        return self._codes.codes()


def patches(x_u8: np.ndarray, w: ConvWeights, stride: int, padding: int, zx: int) -> tuple[np.ndarray, int, int]:
    """The activation panels of uint8 ``x`` for ``w``, and the output height and width."""
    n, _, h, wd = x_u8.shape
    k = w.kernel_size
    oh, ow = conv_output_size("H", h, k, stride, padding), conv_output_size("W", wd, k, stride, padding)
    out = np.empty((n, -(-(oh * ow) // NR), w.k_pad // 4, NR, 4), dtype=np.uint8)
    im2col_panels(np.ascontiguousarray(x_u8), k, stride, padding, np.uint8(zx), out)
    return out, oh, ow


def vnni_conv2d(x_u8: np.ndarray, w: ConvWeights, stride: int, padding: int, zx: int, kernel: str) -> np.ndarray:
    """int32 ``sum_t w[o, t] (x[t] - zx)`` as (N, O, OH, OW) for uint8 ``x``; arguments checked by the caller."""
    cols, oh, ow = patches(x_u8, w, stride, padding, zx)
    rowterm = (-zx * w.rowsum).astype(np.int32)  # mod 2**32
    out = np.empty((x_u8.shape[0], w.o, oh * ow), dtype=np.int32)
    CONV_KERNELS[kernel](w.rows(), cols, rowterm, _EMPTY_VEC, _EMPTY_VEC, np.zeros(3, np.int64), out, _EMPTY8)
    return out.reshape(x_u8.shape[0], w.o, oh, ow)


class QuantizedConv:
    """A quantized Conv2D on the VNNI kernel: weights as rows, the per-channel constants of its epilogue computed
    once (``bias[o] - zx * rowsum(w)[o]``, ``m0``, ``shift``)."""

    def __init__(
        self, weights: ConvWeights, stride: int, padding: int, zx: int, bias: np.ndarray, m0: np.ndarray,
        shift: np.ndarray, zy: int, lo: int, hi: int,
    ) -> None:  # fmt: skip
        o = weights.o
        self.weights, self.stride, self.padding, self.zx = weights, stride, padding, zx
        self.rowterm = (bias.astype(np.int64) - zx * weights.rowsum).astype(np.int32)
        self.m0 = np.broadcast_to(m0.reshape(-1), (o,)).astype(np.int32)
        self.shift = np.broadcast_to(shift.reshape(-1), (o,)).astype(np.int32)
        self.zrange = np.array([zy, lo, hi], dtype=np.int64)

    def __call__(self, x_u8: np.ndarray, kernel: str) -> np.ndarray:
        """uint8 codes (N, O, OH, OW) for uint8 ``x`` (N, C, H, W)."""
        cols, oh, ow = patches(x_u8, self.weights, self.stride, self.padding, self.zx)
        out = np.empty((x_u8.shape[0], self.weights.o, oh * ow), dtype=np.uint8)
        CONV_KERNELS[kernel](self.weights.rows(), cols, self.rowterm, self.m0, self.shift, self.zrange, _EMPTY32, out)
        return out.reshape(x_u8.shape[0], self.weights.o, oh, ow)
