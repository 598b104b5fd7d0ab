"""Quantization to low-precision float formats (FP8, FP6, FP4) with a scale, and to the NF4 codebook.

Float formats: per slice (tensor, channel or group, as in affine quantization) ``s = absmax / fmt.max``, then
``x_hat = round_fmt(x / s) * s`` with :func:`odyssey_lessons.formats.quantize` (round to nearest, ties to even,
saturating). Unlike integers, a float grid is denser near 0, which suits bell-shaped weights.

NF4 (Dettmers et al. 2023, "QLoRA: Efficient Finetuning of Quantized LLMs"): 16 values placed at quantiles of a
standard normal, normalised to [-1, 1], with an exact 0; each block of ``group_size`` (default 64) consecutive values
of the flattened tensor is scaled by its absmax, and each value is replaced by the nearest codebook entry.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from odyssey_lessons.formats import FORMATS, get_format
from odyssey_lessons.formats import quantize as round_to_format
from odyssey_lessons.quant._affine import _MIN_SCALE, as_rows, check_granularity, expand

LOW_BIT_FLOAT_FORMATS: tuple[str, ...] = tuple(n for n, f in FORMATS.items() if f.signed and f.bits <= 8)
"""The signed 8-bit-or-narrower formats of :data:`odyssey_lessons.formats.FORMATS` (FP8, FP6, FP4)."""


def _nf4_codebook() -> np.ndarray:
    """NF4 as bitsandbytes' ``create_normal_map(offset=0.9677083, use_extra_value=True)`` computes it: 8 positive
    quantiles ``Phi^-1(linspace(offset, 0.5, 9)[:-1])``, 7 negative ``-Phi^-1(linspace(offset, 0.5, 8)[:-1])`` and 0,
    divided by the largest. ``offset = (1 - 1/(2*15) + 1 - 1/(2*16)) / 2`` is the mean of the quantile points for
    15 and 16 levels, so the extreme values are finite."""
    offset = 0.9677083
    inv_cdf = NormalDist().inv_cdf
    pos = [inv_cdf(p) for p in np.linspace(offset, 0.5, 9)[:-1]]
    neg = [-inv_cdf(p) for p in np.linspace(offset, 0.5, 8)[:-1]]
    values = np.sort(np.array(pos + [0.0] + neg))
    return (values / values.max()).astype(np.float32)


NF4_CODEBOOK: np.ndarray = _nf4_codebook()
"""The 16 NF4 values, ascending, from -1 to 1 with an exact 0 (QLoRA, Dettmers et al. 2023)."""
NF4_CODEBOOK.flags.writeable = False


def _check_x(x: object) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"x must have a float dtype, got x.dtype={x.dtype}")
    if np.isnan(x).any():
        raise ValueError("x contains NaN, which has no quantized value")
    return x.astype(np.float32)


def quantize_float(
    x: np.ndarray, fmt: str, *, granularity: str = "tensor", axis: int | None = None, group_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Scale each slice so its absmax lands on ``fmt``'s largest finite value and round to ``fmt``.

    ``s = max(absmax / fmt.max, 2**-23)`` (float32, reduced keepdims shape as in :class:`QParams`);
    ``x_hat = quantize(x / s, fmt, saturate=True) * s``.

    Args:
        x: Float array (converted to float32).
        fmt: One of :data:`LOW_BIT_FLOAT_FORMATS` (or an alias such as ``"fp8_e4m3"``).
        granularity, axis, group_size: As for :func:`~odyssey_lessons.quant.choose_qparams`.

    Returns:
        ``(x_hat, scales)``: dequantized float32 values of ``x``'s shape and the float32 scales.

    Raises:
        ValueError: ``fmt`` is not one of :data:`LOW_BIT_FLOAT_FORMATS`, ``x`` is empty or has NaN, or a bad
            granularity/axis/group size.
        TypeError: ``x`` is not a float ndarray.
    """
    f = get_format(fmt)
    if f.name not in LOW_BIT_FLOAT_FORMATS:
        raise ValueError(f"fmt must be one of {LOW_BIT_FLOAT_FORMATS}, got {fmt=}")
    x = _check_x(x)
    if x.size == 0:
        raise ValueError(f"x must not be empty, got x.shape={x.shape}")
    gran, axis, group = check_granularity(max(x.ndim, 1), granularity, axis, group_size)
    if gran != "tensor":
        check_granularity(x.ndim, gran, axis, group, dim=x.shape[axis])
    rows, red = as_rows(x, gran, axis, group)
    with np.errstate(over="ignore"):  # +-inf inputs give an inf absmax; saturating rounding keeps them at +-max
        absmax = np.max(np.abs(rows), axis=1).astype(np.float64)
    scale = np.maximum(np.minimum(absmax, np.finfo(np.float32).max) / f.max, _MIN_SCALE).astype(np.float32)
    scale = scale.reshape(red)
    s = expand(scale, gran, axis, group)
    x_hat = round_to_format(x / s, f, saturate=True) * s
    return x_hat.astype(np.float32), scale


def nf4_encode(x: np.ndarray, *, group_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """NF4 codes (indices 0..15 into :data:`NF4_CODEBOOK`, uint8, ``x``'s shape) and per-block absmax (float32,
    ``(x.size // group_size,)``) over blocks of ``group_size`` consecutive elements of the flattened ``x``.

    Each value goes to the nearest codebook entry of ``x / absmax`` (ties to the lower entry). A block of zeros has
    absmax 0 and codes of the entry 0.

    Raises:
        ValueError: ``group_size`` < 1 or not dividing ``x.size``, empty ``x``, NaN in ``x``.
        TypeError: ``x`` is not a float ndarray or ``group_size`` not an int.
    """
    x = _check_x(x)
    if isinstance(group_size, bool) or not isinstance(group_size, int | np.integer):
        raise TypeError(f"group_size must be an int, got {group_size=}")
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size=}")
    if x.size == 0 or x.size % group_size:
        raise ValueError(f"group_size={group_size} does not divide the number of elements {x.size} of x")
    blocks = x.reshape(-1, group_size)
    absmax = np.max(np.abs(blocks), axis=1)
    normed = blocks / np.where(absmax > 0, absmax, np.float32(1))[:, None]
    # nearest entry = how many midpoints between neighbours lie strictly below the value
    mids = (NF4_CODEBOOK[1:] + NF4_CODEBOOK[:-1]) / np.float32(2)
    codes = np.searchsorted(mids, normed, side="left").astype(np.uint8)
    return codes.reshape(x.shape), absmax.astype(np.float32)


def nf4_decode(codes: np.ndarray, absmax: np.ndarray, *, group_size: int = 64) -> np.ndarray:
    """``x_hat = NF4_CODEBOOK[codes] * absmax[block]`` as float32, shaped like ``codes``.

    Raises:
        ValueError: Codes outside 0..15, or ``absmax`` does not have one entry per block.
    """
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu" or (codes.size and (codes.min() < 0 or codes.max() > 15)):
        raise ValueError("codes must be integers in 0..15")
    absmax = np.asarray(absmax, dtype=np.float32).reshape(-1)
    if codes.size % group_size or absmax.size != codes.size // group_size:
        raise ValueError(f"absmax must have one entry per block of {group_size=}, got {absmax.size}")
    values = NF4_CODEBOOK[codes.reshape(-1, group_size)] * absmax[:, None]
    return values.reshape(codes.shape).astype(np.float32)


def quantize_nf4(x: np.ndarray, *, group_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """NF4 fake quantization: ``(x_hat, absmax)`` with ``x_hat = nf4_decode(*nf4_encode(x))`` (see
    :func:`nf4_encode` for the blocks and errors)."""
    codes, absmax = nf4_encode(x, group_size=group_size)
    return nf4_decode(codes, absmax, group_size=group_size), absmax
