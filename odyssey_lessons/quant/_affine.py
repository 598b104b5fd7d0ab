"""Affine (uniform integer) quantization: ``q = clamp(round(x / s) + z, qmin, qmax)``, ``x_hat = (q - z) * s``.

Two schemes, both for any width ``bits`` in 2..8:

- **symmetric** (``z = 0``): signed integers on the *restricted* range ``qmin = -(2**(b-1) - 1)``,
  ``qmax = 2**(b-1) - 1`` (int8: -127..127, not -128), with ``s = max|x| / qmax``. Dropping -128 keeps the grid
  symmetric around 0, so ``-x`` quantizes to ``-q``; int8 GEMM weight quantization commonly does this.
- **asymmetric**: unsigned integers ``0..2**b - 1`` with an integer zero point ``z``, ``s = (hi - lo) / (qmax - qmin)``,
  ``z = qmin - round(lo / s)``. The range ``[lo, hi]`` is first widened to contain 0 (as PyTorch does), so that 0 --
  ReLU outputs, zero padding -- is represented exactly by ``q = z``.

Rounding is round-half-to-even (``np.rint``). A zero-width range (e.g. an all-zero tensor) would give ``s = 0``; the
scale is clamped to at least ``float32 eps`` (``2**-23``, PyTorch's observer default) so nothing divides by zero.

Granularity: one ``(s, z)`` per **tensor**, per **channel** (a slice along ``axis``), or per **group** of
``group_size`` consecutive elements along ``axis``. For a :class:`~odyssey_lessons.nn.Linear` weight, stored
``(out_features, in_features)``, per-channel means ``axis=0`` (one scale per output) and group-wise means ``axis=1``
(groups run along the input dimension of each output row). Scales are stored in the *reduced keepdims shape*: the
tensor's shape with the channel axis kept and every other axis 1 (channel), the grouped axis divided by
``group_size`` (group), or ``()`` (tensor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from odyssey_lessons._validate import check_bool, check_int

GRANULARITIES: tuple[str, ...] = ("tensor", "channel", "group")
MIN_BITS, MAX_BITS = 2, 8
_MIN_SCALE = float(np.finfo(np.float32).eps)  # 2**-23: smallest scale, for zero-width ranges


def check_bits(bits: object) -> int:
    """Return ``bits`` as an int, or raise TypeError (not an int) or ValueError (not in 2..8)."""
    return check_int("bits", bits, minimum=MIN_BITS, maximum=MAX_BITS)


def qrange(bits: int, symmetric: bool) -> tuple[int, int]:
    """The integer range ``(qmin, qmax)``: symmetric ``(-(2**(b-1) - 1), 2**(b-1) - 1)`` (restricted, no -2**(b-1)),
    asymmetric ``(0, 2**b - 1)``.

    Raises:
        ValueError: ``bits`` not in 2..8.
        TypeError: ``bits`` not an int or ``symmetric`` not a bool.
    """
    bits = check_bits(bits)
    symmetric = check_bool("symmetric", symmetric)
    if symmetric:
        return -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def check_granularity(
    ndim: int, granularity: object, axis: object, group_size: object, dim: int | None = None
) -> tuple[str, int | None, int | None]:
    """Validate ``(granularity, axis, group_size)`` for an ``ndim``-D tensor; returns them with ``axis`` made >= 0.

    ``axis`` defaults to 0 for ``"channel"`` (the output channel of Linear and Conv2D weights) and to -1 for
    ``"group"`` (the input dimension of a Linear weight). ``dim`` is the length of the grouped axis, when known, to
    check that ``group_size`` divides it.

    Raises:
        ValueError: Unknown granularity, an axis that does not exist, ``axis``/``group_size`` given where they mean
            nothing, or a group size that is < 1 or does not divide the dimension.
        TypeError: ``axis`` or ``group_size`` is not an int.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity=}")
    if granularity == "tensor":
        if axis is not None:
            raise ValueError(f"axis must be None for granularity='tensor', got {axis=}")
        if group_size is not None:
            raise ValueError(f"group_size must be None unless granularity='group', got {group_size=}")
        return "tensor", None, None
    if axis is None:
        axis = 0 if granularity == "channel" else -1
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise TypeError(f"axis must be an int or None, got {axis=}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis={axis} does not exist for a tensor with ndim={ndim}")
    axis = int(axis) % ndim
    if granularity == "channel":
        if group_size is not None:
            raise ValueError(f"group_size must be None unless granularity='group', got {group_size=}")
        return "channel", axis, None
    if isinstance(group_size, bool) or not isinstance(group_size, int | np.integer):
        raise TypeError(f"group_size must be an int for granularity='group', got {group_size=}")
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size=}")
    if dim is not None and dim % group_size:
        raise ValueError(f"group_size={group_size} does not divide the dimension {dim} of axis={axis}")
    return "group", axis, int(group_size)


def reduced_shape(shape: tuple[int, ...], granularity: str, axis: int | None, group_size: int | None) -> tuple:
    """Shape of the scales for a tensor of ``shape`` (validated arguments, ``axis`` >= 0)."""
    if granularity == "tensor":
        return ()
    if granularity == "channel":
        return tuple(n if i == axis else 1 for i, n in enumerate(shape))
    return tuple(n // group_size if i == axis else n for i, n in enumerate(shape))


def as_rows(
    x: np.ndarray, granularity: str, axis: int | None, group_size: int | None
) -> tuple[np.ndarray, tuple[int, ...]]:
    """View ``x`` as a 2-D array with one row per quantization slice; returns ``(rows, reduced_shape)``.

    Row ``i`` holds the elements that share the scale at flat index ``i`` of the reduced shape (C order).
    """
    red = reduced_shape(x.shape, granularity, axis, group_size)
    if granularity == "tensor":
        return x.reshape(1, -1), red
    if granularity == "channel":
        return np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1), red
    split = x.shape[:axis] + (x.shape[axis] // group_size, group_size) + x.shape[axis + 1 :]
    return np.moveaxis(x.reshape(split), axis + 1, -1).reshape(-1, group_size), red


def expand(a: np.ndarray, granularity: str, axis: int | None, group_size: int | None) -> np.ndarray:
    """Make per-slice values ``a`` (reduced keepdims shape) broadcastable to the tensor: groups are repeated
    ``group_size`` times along ``axis``; per-tensor and per-channel arrays already broadcast."""
    return np.repeat(a, group_size, axis=axis) if granularity == "group" else a


@dataclass(frozen=True)
class QParams:
    """Quantization parameters: scales, zero points and the scheme they belong to.

    Attributes:
        scale: float32, in the reduced keepdims shape (``()`` per tensor), all > 0.
        zero_point: int32, same shape as ``scale`` (all 0 when symmetric).
        bits: Integer width, 2..8.
        symmetric: Symmetric (signed, restricted range, ``z = 0``) or asymmetric (unsigned, integer ``z``).
        granularity: ``"tensor"``, ``"channel"`` or ``"group"``.
        axis: The channel axis (channel) or the grouped axis (group), >= 0; ``None`` per tensor.
        group_size: Elements per group (group), else ``None``.
    """

    scale: np.ndarray
    zero_point: np.ndarray
    bits: int
    symmetric: bool
    granularity: str = "tensor"
    axis: int | None = None
    group_size: int | None = None

    def __post_init__(self) -> None:
        check_bits(self.bits)
        check_bool("symmetric", self.symmetric)
        scale = np.asarray(self.scale, dtype=np.float32)
        zero_point = np.asarray(self.zero_point)
        if zero_point.dtype.kind not in "iu":
            raise TypeError(f"zero_point must hold integers, got zero_point.dtype={zero_point.dtype}")
        zero_point = zero_point.astype(np.int32)
        if zero_point.shape != scale.shape:
            raise ValueError(f"zero_point.shape={zero_point.shape} must equal scale.shape={scale.shape}")
        if not (np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise ValueError(f"scale must be finite and > 0, got min(scale)={scale.min() if scale.size else None}")
        qmin, qmax = qrange(self.bits, bool(self.symmetric))
        if self.symmetric and np.any(zero_point != 0):
            raise ValueError("zero_point must be 0 for symmetric quantization")
        if np.any(zero_point < qmin) or np.any(zero_point > qmax):
            raise ValueError(f"zero_point must lie in [{qmin}, {qmax}] for bits={self.bits}")
        ndim = max(scale.ndim, 1)
        gran, axis, group = check_granularity(ndim, self.granularity, self.axis, self.group_size)
        if gran == "tensor" and scale.shape != ():
            raise ValueError(f"a per-tensor scale must have shape (), got scale.shape={scale.shape}")
        scale, zero_point = scale.copy(), zero_point.copy()
        scale.flags.writeable = zero_point.flags.writeable = False  # frozen: the arrays too
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "zero_point", zero_point)
        object.__setattr__(self, "bits", int(self.bits))
        object.__setattr__(self, "symmetric", bool(self.symmetric))
        object.__setattr__(self, "axis", axis)
        object.__setattr__(self, "group_size", group)

    def _key(self) -> tuple:
        arrays = (self.scale.shape, self.scale.tobytes(), self.zero_point.tobytes())
        return (self.bits, self.symmetric, self.granularity, self.axis, self.group_size, *arrays)

    def __eq__(self, other: object) -> bool:
        """Equal when the scheme and every scale and zero point are equal (arrays compared as a whole)."""
        return isinstance(other, QParams) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def qmin(self) -> int:
        """Smallest integer code (see :func:`qrange`)."""
        return qrange(self.bits, self.symmetric)[0]

    @property
    def qmax(self) -> int:
        """Largest integer code (see :func:`qrange`)."""
        return qrange(self.bits, self.symmetric)[1]

    @property
    def dtype(self) -> np.dtype:
        """Container dtype of the codes: int8 (symmetric) or uint8 (asymmetric)."""
        return np.dtype(np.int8 if self.symmetric else np.uint8)

    def overhead_bytes(self) -> int:
        """Bytes of metadata: 4 per float32 scale, plus 4 per int32 zero point when asymmetric (0 when symmetric)."""
        return int(self.scale.size * 4 + (0 if self.symmetric else self.zero_point.size * 4))

    def expand(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """``(scale, zero_point)`` broadcastable to a tensor of ``shape`` (groups are repeated along ``axis``).

        Raises:
            ValueError: These parameters do not fit a tensor of ``shape``.
        """
        shape = tuple(shape)
        if self.granularity == "tensor":
            return self.scale, self.zero_point
        ok = len(shape) == self.scale.ndim and self.axis < len(shape)
        if ok and self.granularity == "group":
            dim = shape[self.axis]
            ok = dim % self.group_size == 0
            ok = ok and self.scale.shape == reduced_shape(shape, "group", self.axis, self.group_size)
        elif ok:
            ok = self.scale.shape == reduced_shape(shape, "channel", self.axis, None)
        if not ok:
            raise ValueError(
                f"QParams with scale.shape={self.scale.shape} ({self.granularity}, axis={self.axis}, "
                f"group_size={self.group_size}) do not fit a tensor of shape {shape}"
            )
        return (
            expand(self.scale, self.granularity, self.axis, self.group_size),
            expand(self.zero_point, self.granularity, self.axis, self.group_size),
        )


def calc_qparams(
    lo: np.ndarray | float,
    hi: np.ndarray | float,
    *,
    bits: int,
    symmetric: bool,
    granularity: str = "tensor",
    axis: int | None = None,
    group_size: int | None = None,
) -> QParams:
    """Scales and zero points from observed ranges ``[lo, hi]`` (scalars, or arrays in the reduced keepdims shape).

    Symmetric: ``s = max(|lo|, |hi|) / qmax``, ``z = 0``. Asymmetric: ``lo = min(lo, 0)``, ``hi = max(hi, 0)``,
    ``s = (hi - lo) / (qmax - qmin)``, ``z = clamp(qmin - round(lo / s), qmin, qmax)``. ``s`` is at least ``2**-23``.

    Raises:
        ValueError: ``lo``/``hi`` differ in shape, are not finite, have ``lo > hi``, or a bad bits/granularity/axis.
    """
    qmin, qmax = qrange(bits, symmetric)
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if lo.shape != hi.shape:
        raise ValueError(f"lo and hi must have the same shape, got lo.shape={lo.shape}, hi.shape={hi.shape}")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("lo and hi must be finite")
    if np.any(lo > hi):
        raise ValueError("lo must be <= hi everywhere")
    gran, axis, group_size = check_granularity(max(lo.ndim, 1), granularity, axis, group_size)
    if gran == "tensor":
        if lo.size != 1:
            raise ValueError(f"granularity='tensor' needs scalar lo/hi, got lo.shape={lo.shape}")
        lo, hi = lo.reshape(()), hi.reshape(())
    if symmetric:
        scale = np.maximum(np.abs(lo), np.abs(hi)) / qmax
    else:
        lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
        scale = (hi - lo) / (qmax - qmin)
    scale = np.maximum(scale, _MIN_SCALE).astype(np.float32)
    if symmetric:
        zero_point = np.zeros(scale.shape, dtype=np.int32)
    else:
        zero_point = np.clip(qmin - np.rint(lo / scale.astype(np.float64)), qmin, qmax).astype(np.int32)
    return QParams(scale, zero_point, bits, symmetric, gran, axis, group_size)


def _check_float_array(name: str, x: object) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name} must have a float dtype, got {name}.dtype={x.dtype}")
    return x


def minmax_ranges(
    x: np.ndarray, granularity: str = "tensor", axis: int | None = None, group_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-slice ``(min, max)`` of ``x`` in the reduced keepdims shape (validated arguments, ``axis`` >= 0)."""
    rows, red = as_rows(x, granularity, axis, group_size)
    return rows.min(axis=1).reshape(red), rows.max(axis=1).reshape(red)


def quantize_affine(x: np.ndarray, qp: QParams) -> np.ndarray:
    """Integer codes ``q = clamp(rint(x / s) + z, qmin, qmax)`` (ties to even), computed in float32.

    ``x`` is converted to float32 first. Values outside the range (and +-inf) saturate to ``qmin``/``qmax``.

    Returns:
        int8 (symmetric) or uint8 (asymmetric) array of ``x``'s shape.

    Raises:
        ValueError: ``x`` contains NaN (it has no integer code), or ``qp`` does not fit ``x``'s shape.
        TypeError: ``x`` is not a float ndarray or ``qp`` is not a QParams.
    """
    x = _check_float_array("x", x)
    if not isinstance(qp, QParams):
        raise TypeError(f"qp must be a QParams, got {type(qp).__name__}")
    if np.isnan(x).any():
        raise ValueError("x contains NaN, which has no quantized value")
    scale, zero_point = qp.expand(x.shape)
    with np.errstate(over="ignore"):  # huge x / tiny s -> inf, which the clamp saturates
        t = np.rint(x.astype(np.float32) / scale)
    return np.clip(t + zero_point, qp.qmin, qp.qmax).astype(qp.dtype)


def dequantize_affine(q: np.ndarray, qp: QParams) -> np.ndarray:
    """``x_hat = (q - z) * s`` as float32.

    Raises:
        TypeError: ``q`` is not an integer ndarray.
        ValueError: ``q`` has codes outside ``[qmin, qmax]`` or ``qp`` does not fit its shape.
    """
    if not isinstance(q, np.ndarray) or q.dtype.kind not in "iu":
        raise TypeError(f"q must be an integer numpy.ndarray, got {getattr(q, 'dtype', type(q).__name__)}")
    if not isinstance(qp, QParams):
        raise TypeError(f"qp must be a QParams, got {type(qp).__name__}")
    if q.size and (q.min() < qp.qmin or q.max() > qp.qmax):
        raise ValueError(f"q must lie in [{qp.qmin}, {qp.qmax}], got [{q.min()}, {q.max()}]")
    scale, zero_point = qp.expand(q.shape)
    return (q.astype(np.int32) - zero_point).astype(np.float32) * scale


def fake_quantize(x: np.ndarray, qp: QParams) -> np.ndarray:
    """``dequantize_affine(quantize_affine(x, qp), qp)``: ``x`` snapped to the quantization grid, as float32."""
    return dequantize_affine(quantize_affine(x, qp), qp)


def quantization_error(x: np.ndarray, qp: QParams) -> dict[str, float]:
    """Error of :func:`fake_quantize`: ``mse = mean((x - x_hat)**2)``, ``max_abs = max|x - x_hat|`` and
    ``sqnr_db = 10 log10(sum x**2 / sum (x - x_hat)**2)`` (inf when the error is 0), computed in float64."""
    xhat = fake_quantize(x, qp).astype(np.float64)
    x64 = x.astype(np.float32).astype(np.float64)
    err = x64 - xhat
    noise = float(np.sum(err**2))
    signal = float(np.sum(x64**2))
    sqnr = float("inf") if noise == 0 else (10 * np.log10(signal / noise) if signal > 0 else float("-inf"))
    return {
        "mse": float(np.mean(err**2)) if err.size else 0.0,
        "max_abs": float(np.max(np.abs(err))) if err.size else 0.0,
        "sqnr_db": float(sqnr),
    }
