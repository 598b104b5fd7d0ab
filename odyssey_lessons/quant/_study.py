"""Helpers of Lesson 6's quantization study that need nothing but this package: the levels of a quantization grid,
how a weight's scales are laid out for each granularity, one weight quantized (integer or scaled float format) with
its real byte count, and the error of any approximation.

The study itself (trained models, calibration, accuracy) lives in :mod:`odyssey_lessons.studies._quantization`, since it
needs training; nothing here draws.
"""

from __future__ import annotations

import numpy as np

from odyssey_lessons.formats import get_format
from odyssey_lessons.quant._affine import GRANULARITIES, QParams, fake_quantize
from odyssey_lessons.quant._floatq import LOW_BIT_FLOAT_FORMATS, quantize_float, quantize_nf4
from odyssey_lessons.quant._observers import choose_qparams
from odyssey_lessons.quant._pack import packed_nbytes

NF4_BLOCK = 64
WEIGHT_FORMATS = ("int", *LOW_BIT_FLOAT_FORMATS, "nf4")
"""What :func:`quantize_weight` can round weights to: affine integers, a scaled float format, or NF4."""


def levels(qp: QParams, index: int = 0) -> np.ndarray:
    """The representable values ``(q - z) * s`` for ``q = qmin .. qmax`` of slice ``index`` (a flat index into the
    scales; 0 for per-tensor parameters), ascending, float64.

    Raises:
        TypeError: ``qp`` is not a QParams.
        IndexError: ``index`` is not a slice of ``qp``.
    """
    if not isinstance(qp, QParams):
        raise TypeError(f"qp must be a QParams, got {type(qp).__name__}")
    scales = np.asarray(qp.scale).reshape(-1)
    if not -scales.size <= index < scales.size:
        raise IndexError(f"index={index} is not one of the {scales.size} slices of qp")
    s = float(scales[index])
    z = int(np.asarray(qp.zero_point).reshape(-1)[index])
    return (np.arange(qp.qmin, qp.qmax + 1) - z) * s


def weight_slices(k: int, granularity: str, group_size: int) -> tuple[int | None, int | None]:
    """``(axis, group_size)`` for weight rows ``(out, K)``: tensor -> ``(None, None)``; channel -> axis 0; group ->
    axis 1 in groups of ``group_size`` inputs, or one group per row when ``group_size`` does not divide ``K`` (the
    digits CNN's 3x3 kernels have ``K = 9``).

    Raises:
        ValueError: Unknown granularity.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity=}")
    if granularity == "tensor":
        return None, None
    if granularity == "channel":
        return 0, None
    return 1, group_size if k % group_size == 0 else k


def quantize_weight(
    rows: np.ndarray,
    *,
    bits: int = 8,
    granularity: str = "channel",
    observer: str = "minmax",
    group_size: int = 16,
    weight_format: str = "int",
) -> tuple[QParams | None, np.ndarray, int, int]:
    """Quantize weight rows ``(out, K)``; returns ``(qparams, dequantized, payload bytes, scale bytes)``.

    ``weight_format="nf4"``: NormalFloat4 (Dettmers et al. 2023) in blocks of 64 weights (a row, when 64 does not
    divide it) with a float32 absmax each (``bits``, ``granularity`` and ``observer`` are not used).
    ``weight_format="int"``: symmetric, ``bits`` wide, calibrated with ``observer``
    (:func:`~odyssey_lessons.quant.choose_qparams`); codes packed, ``ceil(n bits / 8)`` bytes; 4 bytes per float32
    scale. A format of :data:`~odyssey_lessons.quant.LOW_BIT_FLOAT_FORMATS`: absmax scaling per slice
    (:func:`~odyssey_lessons.quant.quantize_float`; ``bits`` and ``observer`` are not used), ``fmt.bits`` per element;
    ``qparams`` is None.

    Raises:
        ValueError: Unknown format, granularity or observer, or bits outside 2..8.
    """
    if weight_format not in WEIGHT_FORMATS:
        raise ValueError(f"weight_format must be one of {WEIGHT_FORMATS}, got {weight_format!r}")
    if weight_format == "nf4":  # QLoRA's blocks of 64 (the row, when 64 does not divide it), absmax in float32
        block = NF4_BLOCK if rows.shape[1] % NF4_BLOCK == 0 else rows.shape[1]
        deq, absmax = quantize_nf4(np.ascontiguousarray(rows, dtype=np.float32), group_size=block)
        return None, deq.reshape(rows.shape), packed_nbytes(rows.size, 4), int(absmax.size * 4)
    axis, group = weight_slices(rows.shape[1], granularity, group_size)
    if weight_format == "int":
        qp = choose_qparams(rows, bits=bits, symmetric=True, granularity=granularity, axis=axis, group_size=group,
                            observer=observer)  # fmt: skip
        return qp, fake_quantize(rows, qp), packed_nbytes(rows.size, bits), qp.overhead_bytes()
    deq, scales = quantize_float(rows, weight_format, granularity=granularity, axis=axis, group_size=group)
    return None, deq, packed_nbytes(rows.size, get_format(weight_format).bits), int(scales.size * 4)


def approximation_error(x: np.ndarray, x_hat: np.ndarray) -> dict[str, float]:
    """The keys of :func:`~odyssey_lessons.quant.quantization_error` (``mse``, ``max_abs``, ``sqnr_db``) for any
    approximation ``x_hat`` of ``x`` (e.g. from a float format), computed in float64."""
    x64 = np.asarray(x, dtype=np.float64)
    err = x64 - np.asarray(x_hat, dtype=np.float64)
    noise, signal = float(np.sum(err**2)), float(np.sum(x64**2))
    return {
        "mse": float(np.mean(err**2)),
        "max_abs": float(np.max(np.abs(err))),
        "sqnr_db": float("inf") if noise == 0 else float(10 * np.log10(signal / noise)),
    }
