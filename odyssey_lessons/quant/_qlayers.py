"""The integer layers of a :class:`~odyssey_lessons.quant.QuantizedModel`: what each step of integer-only inference
stores and computes. :class:`QGemm` is a quantized Linear or Conv2D (int8 codes, int32 bias, requantization constants)
and runs on the portable kernel or the VNNI kernels; :class:`QMaxPool`, :class:`QReLU` and :class:`QFlatten` act on
the codes directly. How a float model becomes these layers, and the model's input and output, is in
:mod:`odyssey_lessons.quant._qmodel`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from odyssey_lessons.nn import conv_output_size
from odyssey_lessons.quant._affine import QParams
from odyssey_lessons.quant._intgemm import conv2d_s8, matmul_s8t, maxpool2d_int, to_signed
from odyssey_lessons.quant._kernels import requantize_kernel
from odyssey_lessons.quant._pack import unpack_int
from odyssey_lessons.quant._vnniconv import ConvWeights, QuantizedConv
from odyssey_lessons.quant._vnnigemm import PackedWeights, QuantizedGemm


def qp_bytes(qp: QParams) -> int:
    """Stored bytes of an activation's per-tensor parameters: a float32 scale and an int32 zero point."""
    return qp.scale.nbytes + qp.zero_point.nbytes


@dataclass
class QGemm:
    """A quantized Linear (``kernel_size == 0``) or Conv2D layer.

    ``weight`` holds the int8 codes as rows (O, K) -- or, packed, ``pack_int`` bytes (``weight_bits < 8``).
    ``y_q = requantize(sum (x_q - in_qp.z) w_q + bias, m0, shift)`` with ``relu`` fused.
    """

    weight: np.ndarray
    weight_shape: tuple[int, ...]
    weight_qp: QParams
    weight_bits: int
    bias: np.ndarray
    m0: np.ndarray
    shift: np.ndarray
    in_qp: QParams
    out_qp: QParams
    relu: bool
    kernel_size: int = 0
    stride: int = 1
    padding: int = 0
    path: str = "portable"

    def weight_codes(self) -> np.ndarray:
        """int8 codes as rows (O, K): unpacked from the stored bytes when ``weight_bits < 8``."""
        if self.weight_bits == 8:
            return self.weight
        count = int(np.prod(self.weight_shape))
        codes = unpack_int(self.weight, self.weight_bits, count=count, signed=True)
        return codes.reshape(self.weight_shape[0], -1)

    def nbytes(self) -> dict[str, int]:
        return {
            "weights": self.weight.nbytes,
            "biases": self.bias.nbytes,
            "overhead": self.weight_qp.scale.nbytes + self.m0.nbytes + self.shift.nbytes + qp_bytes(self.out_qp),
        }

    def __post_init__(self) -> None:
        # kernel arguments, computed once: forward runs the kernels without re-validating (from_float checked them)
        self._zx = int(self.in_qp.zero_point)
        zy = int(self.out_qp.zero_point)
        self._zy, self._hi = np.int64(zy), np.int64(self.out_qp.qmax)
        self._lo = np.int64(max(self.out_qp.qmin, zy) if self.relu else self.out_qp.qmin)

    def vnni_layer(self) -> QuantizedGemm | QuantizedConv:
        """This layer on the VNNI kernels: weights packed (sub-byte codes stay packed), epilogue constants folded.
        Built on first use, then kept."""
        if getattr(self, "_vnni", None) is None:
            rows = np.ascontiguousarray(self.weight_codes())
            zy, lo, hi = int(self._zy), int(self._lo), int(self._hi)
            if self.kernel_size == 0:
                packed = PackedWeights(rows, self.weight_bits)
                self._vnni = QuantizedGemm(packed, self._zx, self.bias, self.m0, self.shift, zy, lo, hi)
            else:
                conv = ConvWeights(rows, self.kernel_size, self.weight_bits)
                self._vnni = QuantizedConv(
                    conv, self.stride, self.padding, self._zx, self.bias, self.m0, self.shift, zy, lo, hi
                )
        return self._vnni

    def forward(self, x: np.ndarray) -> np.ndarray:
        """uint8 codes in (in_qp) -> uint8 codes out (out_qp): int8 GEMM + int32 bias, then requantization."""
        if self.path != "portable":
            return self._forward_vnni(x)
        x8, zx = to_signed(x, self._zx)
        rows = self.weight_codes()
        if self.kernel_size == 0:
            acc = matmul_s8t(x8, rows, zx, 0)
        else:
            acc = conv2d_s8(x8, rows, self.kernel_size, self.stride, self.padding, zx)
        acc += self.bias
        q = np.empty(acc.shape, dtype=np.uint8)
        requantize_kernel(acc, self.m0, self.shift, self._zy, self._lo, self._hi, q)
        if self.kernel_size == 0:
            return q
        n, _, h, w = x.shape
        oh = conv_output_size("H", h, self.kernel_size, self.stride, self.padding)
        ow = conv_output_size("W", w, self.kernel_size, self.stride, self.padding)
        return np.ascontiguousarray(q.reshape(n, oh, ow, -1).transpose(0, 3, 1, 2))

    def _forward_vnni(self, x: np.ndarray) -> np.ndarray:
        """As :meth:`forward`, on the VNNI kernels with the bias, requantization and clamp fused into their
        epilogue (a convolution comes out in NCHW order directly)."""
        return self.vnni_layer()(x, self.path)


@dataclass
class QMaxPool:
    """Max pooling of the codes (same scale and zero point in and out)."""

    kernel_size: int
    stride: int

    def forward(self, x: np.ndarray) -> np.ndarray:
        return maxpool2d_int(x, self.kernel_size, self.stride)


@dataclass
class QReLU:
    """A ReLU that could not be fused: clamp the codes below at the zero point."""

    zero_point: int

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, x.dtype.type(self.zero_point))


@dataclass
class QFlatten:
    """(N, C, H, W) -> (N, C*H*W), the same order as ``nn.Flatten``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)
