"""FP8 scaling recipes: a scale ``s`` per tensor (or per block) so that ``x * s`` uses the FP8 range, rounded to the
format and divided by ``s`` again.

- current scaling: ``s`` from this tensor's own amax (one extra pass over the data before the cast);
- delayed scaling (NVIDIA Transformer Engine): ``s`` from the amax history of previous steps;
- MX (OCP Microscaling): each block of 32 values along an axis shares a power-of-two (E8M0) scale.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from odyssey_lessons._validate import check_int
from odyssey_lessons.formats import FloatFormat, get_format, quantize, rounder
from odyssey_lessons.formats._fast_kernels import abs_max_bits, quantize_f32_nearest_scaled
from odyssey_lessons.formats._quantize import nearest_params

_F32_MAX = float(np.finfo(np.float32).max)
_E8M0_MIN_EXP, _E8M0_MAX_EXP = -127, 127  # e8m0fnu holds 2**-127 .. 2**127


def _float_array(x: ArrayLike, name: str = "x") -> NDArray[np.floating]:
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name} must be a floating array, got dtype {arr.dtype}")
    return arr


def _amax(x: NDArray[np.floating]) -> float:
    """``max|x_i|`` (NaN if any element is NaN): one integer-max pass over float32 data, numpy otherwise."""
    if x.dtype == np.float32 and x.flags.c_contiguous:
        return _amax_from_bits(abs_max_bits(x.reshape(-1)))
    return float(np.max(np.abs(x))) if x.size else 0.0


def _amax_from_bits(bits: np.uint32) -> float:
    return math.nan if bits > 0x7F800000 else float(np.uint32(bits).view(np.float32))


def _scale_from_amax(amax: float, fmt_max: float, margin: int, previous: float) -> float:
    """``fmt_max / amax / 2**margin``, capped at float32's max; ``previous`` when amax is 0 or not finite."""
    if not (math.isfinite(amax) and amax > 0):
        return previous
    return min(fmt_max / amax / 2.0**margin, _F32_MAX)


def current_scale(x: ArrayLike, fmt: str | FloatFormat, *, margin: int = 0) -> float:
    """Per-tensor scale from the tensor itself: ``s = max(fmt) / amax(x) / 2**margin``, ``amax = max|x_i|``.

    ``x * s`` then has its largest magnitude at ``max(fmt) / 2**margin``. An all-zero (or empty) tensor, or one whose
    amax is inf/NaN, gets ``s = 1``; the result is capped at float32's max.

    Raises:
        TypeError: ``x`` is not a floating array, or ``margin`` is not an int.
        ValueError: Unknown format or negative margin.
    """
    f = get_format(fmt)
    m = check_int("margin", margin, minimum=0)
    return _scale_from_amax(_amax(_float_array(x)), f.max, m, 1.0)


def fake_quantize_scaled(x: ArrayLike, fmt: str | FloatFormat, scale: float) -> NDArray[np.float32]:
    """``quantize(x * scale, fmt, saturate=True) * (1 / scale)``: the values an FP8 tensor with this scale stands for.

    The arithmetic is float32, as Transformer Engine's cast kernels do it: ``x`` (as float32) times
    ``float32(scale)``, rounded to float32, then to ``fmt``; the dequantized value is the code times
    ``float32(1 / scale)`` (TE's ``scale_inv``). Overflow saturates to ``+-max(fmt)`` (as FP8 training recipes cast),
    NaN stays NaN.

    Raises:
        TypeError: ``x`` is not a floating array.
        ValueError: Unknown format, or ``scale`` not positive and finite.
    """
    f = get_format(fmt)
    if isinstance(scale, bool) or not isinstance(scale, int | float | np.integer | np.floating):
        raise TypeError(f"scale must be a number, got {type(scale).__name__} {scale!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive and finite, got scale={scale!r}")
    x32 = np.ascontiguousarray(_float_array(x), dtype=np.float32)
    return _saturating_rounder(f)(x32, scale=scale)  # a product beyond float32 is inf and saturates to max


def fake_quantize_scaled_amax(x: NDArray[np.float32], fmt: FloatFormat, scale: float) -> tuple[NDArray, float]:
    """:func:`fake_quantize_scaled` of a C-contiguous float32 ``x`` and ``amax(x)``, from one pass where the format
    has a fast kernel (delayed scaling casts with the old scale and records the amax of the same tensor)."""
    params = nearest_params(fmt, True)
    if params is None or x.dtype != np.float32 or not x.flags.c_contiguous:
        return fake_quantize_scaled(x, fmt, scale), _amax(x)
    out = np.empty(x.shape, dtype=np.float32)
    bits = quantize_f32_nearest_scaled(x.reshape(-1), out.reshape(-1), params, np.float32(scale), np.float32(1 / scale))
    return out, _amax_from_bits(bits)


@cache
def _saturating_rounder(f: FloatFormat):  # -> formats.rounder's function
    return rounder(f, saturate=True)


class DelayedScaling:
    """Transformer Engine's delayed scaling: the scale for this step comes from the amax of earlier steps.

    The history is a ring of the last ``history_len`` amax values; after each :meth:`update_amax` the scale becomes
    ``s = max(fmt) / max(history) / 2**margin`` (TE's ``amax_compute_algo="max"``). Use it as::

        s = ds.scale()                               # from previous steps (1.0 on the first step, as in TE)
        y = fake_quantize_scaled(x, fmt, s)
        ds.update_amax(x)                            # record this step's amax for the next one

    A tensor whose amax jumps above the history overflows and is saturated: that is the price of not looking at the
    data before casting. As in TE, a zero or non-finite history max keeps the previous scale (and an inf amax stays
    in the ring, freezing the scale, until it drops out).

    Args:
        fmt: Target format (e.g. ``"e4m3fn"`` forward, ``"e5m2"`` for gradients).
        history_len: Length of the amax ring, a positive int (TE's default 1024).
        margin: Extra headroom: the scale is divided by ``2**margin``, an int >= 0.

    Raises:
        TypeError: ``history_len`` or ``margin`` is not an int.
        ValueError: Unknown format, ``history_len < 1`` or ``margin < 0``.
    """

    def __init__(self, fmt: str | FloatFormat, *, history_len: int = 1024, margin: int = 0) -> None:
        self.fmt = get_format(fmt)
        if isinstance(history_len, bool) or not isinstance(history_len, int | np.integer):
            raise TypeError(f"history_len must be an int, got {type(history_len).__name__} {history_len!r}")
        if history_len < 1:
            raise ValueError(f"history_len must be a positive int, got history_len={history_len}")
        self.history_len = int(history_len)
        self.margin = check_int("margin", margin, minimum=0)
        self._ring = np.zeros(self.history_len, dtype=np.float64)
        self._count = 0  # amax values recorded so far
        self._scale = 1.0

    def scale(self) -> float:
        """The scale to use for this step (1.0 before any amax has been recorded)."""
        return self._scale

    def update_amax(self, x: ArrayLike) -> float:
        """Record ``amax(x) = max|x_i|`` in the ring (dropping the oldest when full), recompute the scale, and return
        the amax.

        Raises:
            TypeError: ``x`` is not a floating array.
        """
        return self.record_amax(_amax(_float_array(x)))

    def record_amax(self, amax: float) -> float:
        """Record an amax computed elsewhere (e.g. in the cast's own pass); as :meth:`update_amax` otherwise."""
        self._ring[self._count % self.history_len] = amax
        self._count += 1
        recorded = self._ring[: min(self._count, self.history_len)]  # the ring's order does not matter for its max
        self._scale = _scale_from_amax(float(np.max(recorded)), self.fmt.max, self.margin, self._scale)
        return amax

    @property
    def history(self) -> NDArray[np.float64]:
        """The recorded amax values still in the ring, oldest first (a copy)."""
        n = min(self._count, self.history_len)
        start = self._count % self.history_len if self._count >= self.history_len else 0
        return np.roll(self._ring, -start)[:n].copy()

    def __repr__(self) -> str:
        return f"DelayedScaling({self.fmt.name!r}, history_len={self.history_len}, margin={self.margin})"


def _block_view(x: NDArray, block_size: object, axis: object) -> tuple[NDArray, int, int]:
    """``x`` with ``axis`` moved last and split into ``(..., n_blocks, block_size)``; also the normalised axis."""
    if isinstance(block_size, bool) or not isinstance(block_size, int | np.integer):
        raise TypeError(f"block_size must be an int, got {type(block_size).__name__} {block_size!r}")
    if block_size < 1:
        raise ValueError(f"block_size must be a positive int, got block_size={block_size}")
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise TypeError(f"axis must be an int, got {type(axis).__name__} {axis!r}")
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must be in [-{x.ndim}, {x.ndim}) for an array of shape {x.shape}, got axis={axis}")
    ax = int(axis) % x.ndim
    n = x.shape[ax]
    if n % block_size:
        raise ValueError(f"block_size={block_size} must divide the length {n} of axis {axis} (shape {x.shape})")
    moved = np.moveaxis(x, ax, -1)
    return moved.reshape(*moved.shape[:-1], n // block_size, int(block_size)), ax, int(block_size)


def mx_block_quantize(
    x: ArrayLike, fmt: str | FloatFormat, *, block_size: int = 32, axis: int = -1
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """MX (OCP Microscaling) block quantization: each block of ``block_size`` consecutive values along ``axis``
    shares one power-of-two scale.

    For a block with ``amax = max|x_i|`` (OCP MX spec v1.0, shared exponent ``floor(log2(amax)) - emax_elem``)::

        X = 2**(floor(log2(amax)) - emax_elem)         E8M0: exponent clamped to [-127, 127]
        q_i = quantize(x_i / X, fmt, saturate=True)    x_i ~= q_i * X

    ``emax_elem`` is the exponent of the element format's largest binade (8 for e4m3fn, 15 for e5m2, 2 for e2m1fn),
    so ``amax / X`` lies in ``[2**emax, 2**(emax+1))``; the part above ``max(fmt)`` saturates, as the spec says.
    A block of zeros gets ``X = 1``. A block holding inf or NaN gets ``X = NaN`` (E8M0's only special value), so it
    decodes to NaN.

    Args:
        x: Floating array.
        fmt: Element format (``"e4m3fn"``, ``"e5m2"``, ``"e2m3fn"``, ``"e3m2fn"``, ``"e2m1fn"`` in the spec).
        block_size: Values per block (32 in the spec); must divide the length of ``axis``.
        axis: The axis along which blocks are formed.

    Returns:
        ``(q, scales)``: ``q`` float32 of ``x``'s shape holding the element values (in ``fmt``), ``scales`` float32 of
        ``x``'s shape with ``axis`` shortened to ``n // block_size``. :func:`mx_block_dequantize` gives ``q * X``.

    Raises:
        TypeError: ``x`` is not a floating array, or ``block_size``/``axis`` is not an int.
        ValueError: Unknown format, bad axis, or ``block_size`` does not divide the axis length.
    """
    f = get_format(fmt)
    arr = _float_array(x)
    # float32 throughout: dividing by a power of two is exact (a quotient below float32's range is far below any
    # element format's smallest value, so it rounds to 0 either way), and float32 takes quantize's fast kernels.
    blocks, ax, _ = _block_view(arr.astype(np.float32, copy=False), block_size, axis)
    amax = np.max(np.abs(blocks), axis=-1)
    _, e = np.frexp(np.where(np.isfinite(amax) & (amax > 0), amax, np.float32(1.0)))  # amax = m * 2**e
    shared = np.clip(e - 1 - f.max_exponent, _E8M0_MIN_EXP, _E8M0_MAX_EXP)
    scales = np.where(amax > 0, np.ldexp(np.float32(1.0), shared), np.float32(1.0)).astype(np.float32)
    scales = np.where(np.isfinite(amax), scales, np.float32(np.nan))
    q = quantize(blocks / scales[..., None], f, saturate=True)
    q = np.moveaxis(q.reshape(*q.shape[:-2], -1), -1, ax)
    return np.ascontiguousarray(q), np.ascontiguousarray(np.moveaxis(scales.astype(np.float32), -1, ax))


def mx_block_dequantize(q: ArrayLike, scales: ArrayLike, *, axis: int = -1) -> NDArray[np.float32]:
    """``q_i * X_block(i)``: undo :func:`mx_block_quantize` (the block size is ``q``'s axis length over ``scales``').

    Raises:
        TypeError: An input is not a floating array.
        ValueError: The shapes do not fit together.
    """
    qa, sa = _float_array(q, "q"), _float_array(scales, "scales")
    if qa.ndim != sa.ndim or qa.ndim == 0:
        raise ValueError(f"q and scales must have the same number of dimensions, got {qa.shape} and {sa.shape}")
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer) or not -qa.ndim <= axis < qa.ndim:
        raise ValueError(f"axis must be an int in [-{qa.ndim}, {qa.ndim}), got axis={axis!r}")
    ax = int(axis) % qa.ndim
    n_blocks = sa.shape[ax]
    other_q = qa.shape[:ax] + qa.shape[ax + 1 :]
    other_s = sa.shape[:ax] + sa.shape[ax + 1 :]
    if other_q != other_s or n_blocks == 0 or qa.shape[ax] % n_blocks:
        raise ValueError(f"scales of shape {sa.shape} do not fit q of shape {qa.shape} along axis {axis}")
    expanded = np.repeat(sa.astype(np.float64), qa.shape[ax] // n_blocks, axis=ax)
    return (qa.astype(np.float64) * expanded).astype(np.float32)
