"""Quantization: affine integer quantization (2..8 bits), low-precision float formats and NF4, calibration
observers, sub-byte bit packing, and fake quantization with a straight-through estimator for QAT.

``qp = choose_qparams(w, bits=4, granularity="channel", axis=0)``; ``q = quantize_affine(w, qp)``;
``w_hat = dequantize_affine(q, qp)`` (torchao's names: ``formats.quantize`` is another operation, rounding to a float
format); ``pack_int(q, 4)`` stores two codes per byte; ``prepare_qat(model)`` returns a copy of a float model ready
for quantization-aware training with :func:`odyssey_lessons.train.fit`.

Integer-only inference: ``int8_matmul`` / ``int8_conv2d`` accumulate int8 products in int32; ``quantize_multiplier``
and ``requantize`` rescale with a fixed-point multiplier and shift (gemmlowp); ``QuantizedModel.from_float(model,
calibration_x)`` builds an integer pipeline from a trained float model and reports its real size in bytes. On a CPU
with VNNI the integer GEMMs run on ``vpdpbusd`` (``path="auto"``; ``INT8_PATHS`` lists the paths,
``available_int8_paths()`` those this machine has), with the portable kernel as the fallback; every path is exact.

A production engine beside it: ``export_onnx(qmodel, input_shape)`` writes the same integer pipeline as ONNX
(QLinearConv, MatMulInteger, QuantizeLinear), ``export_float_onnx(model, input_shape)`` the float model, and
``OnnxRuntimeModel(proto)`` runs either on ONNX Runtime (optional: ``pip install 'odyssey-lessons[bench]'``).
"""

from odyssey_lessons.quant._affine import (
    GRANULARITIES,
    QParams,
    calc_qparams,
    dequantize_affine,
    fake_quantize,
    qrange,
    quantization_error,
    quantize_affine,
)
from odyssey_lessons.quant._fake import FakeQuant, QATConv2D, QATLinear, prepare_qat, ste_mask
from odyssey_lessons.quant._floatq import (
    LOW_BIT_FLOAT_FORMATS,
    NF4_CODEBOOK,
    nf4_decode,
    nf4_encode,
    quantize_float,
    quantize_nf4,
)
from odyssey_lessons.quant._intgemm import int8_conv2d, int8_matmul
from odyssey_lessons.quant._observers import (
    OBSERVERS,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MSEObserver,
    Observer,
    PercentileObserver,
    choose_qparams,
)
from odyssey_lessons.quant._onnx import OnnxRuntimeModel, export_float_onnx, export_onnx
from odyssey_lessons.quant._pack import pack_int, packed_nbytes, size_report, unpack_int
from odyssey_lessons.quant._qmodel import QuantizedModel
from odyssey_lessons.quant._requant import quantize_multiplier, requantize
from odyssey_lessons.quant._study import WEIGHT_FORMATS, approximation_error, levels, quantize_weight, weight_slices
from odyssey_lessons.quant._vnnigemm import INT8_PATHS, available_int8_paths, resolve_int8_path

__all__ = [
    "WEIGHT_FORMATS",
    "INT8_PATHS",
    "available_int8_paths",
    "resolve_int8_path",
    "approximation_error",
    "levels",
    "quantize_weight",
    "weight_slices",
    "QuantizedModel",
    "OnnxRuntimeModel",
    "export_onnx",
    "export_float_onnx",
    "int8_conv2d",
    "int8_matmul",
    "quantize_multiplier",
    "requantize",
    "LOW_BIT_FLOAT_FORMATS",
    "GRANULARITIES",
    "NF4_CODEBOOK",
    "OBSERVERS",
    "FakeQuant",
    "MSEObserver",
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "Observer",
    "PercentileObserver",
    "QATConv2D",
    "QATLinear",
    "QParams",
    "calc_qparams",
    "choose_qparams",
    "dequantize_affine",
    "fake_quantize",
    "nf4_decode",
    "nf4_encode",
    "pack_int",
    "packed_nbytes",
    "prepare_qat",
    "qrange",
    "quantization_error",
    "quantize_affine",
    "quantize_float",
    "quantize_nf4",
    "size_report",
    "ste_mask",
    "unpack_int",
]
