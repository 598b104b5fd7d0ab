"""Validating wrappers: ``quantize``, ``encode``, ``decode``, plus the helpers the lessons use (``ulp``, ...)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from odyssey_lessons._threads import threads_for
from odyssey_lessons._validate import check_bool, check_int
from odyssey_lessons.formats import _fast_kernels as FK
from odyssey_lessons.formats import _kernels as K
from odyssey_lessons.formats._spec import FloatFormat, get_format

ROUNDING_MODES: dict[str, int] = {
    "nearest": K.MODE_NEAREST,
    "toward_zero": K.MODE_TOWARD_ZERO,
    "stochastic": K.MODE_STOCHASTIC,
}
"""Rounding modes: ties-to-even nearest, truncation toward zero, and unbiased stochastic rounding."""

_MAX_CODE_BITS = 16


@lru_cache(maxsize=256)
def rounding_params(fmt: FloatFormat, saturate: bool) -> NDArray[np.float64]:
    """The kernel parameter vector of ``fmt`` (layout: ``_kernels.P_*``). Read-only, cached per format."""
    p = np.zeros(K.N_PARAMS, dtype=np.float64)
    p[K.P_MANT] = fmt.mantissa_bits
    p[K.P_EMIN] = fmt.min_exponent
    p[K.P_MAX] = fmt.max
    if saturate or fmt.saturates:
        p[K.P_OVF] = p[K.P_INF] = fmt.max
    elif fmt.has_inf:
        p[K.P_OVF] = p[K.P_INF] = np.inf
    else:
        p[K.P_OVF] = p[K.P_INF] = np.nan
    p[K.P_NAN_TO_ZERO] = 0.0 if fmt.has_nan else 1.0
    p[K.P_SIGNED] = float(fmt.signed)
    p[K.P_SUBNORMALS] = float(fmt.subnormals)
    p[K.P_NEG_ZERO] = float(fmt.has_negative_zero)
    p[K.P_TIE_FIELD] = float(fmt.mantissa_bits == 0 and fmt.subnormals)
    p[K.P_BIAS] = fmt.bias
    p.flags.writeable = False
    return p


def _f32_bits(value: float) -> int:
    return int(np.array([value], dtype=np.float32).view(np.uint32)[0])


@lru_cache(maxsize=256)
def fast_params(fmt: FloatFormat, saturate: bool, rounding: str) -> NDArray[np.uint32] | None:
    """Parameters of the float32 fast paths (layout: ``_fast_kernels.F_*``), or ``None`` when ``fmt`` and ``rounding``
    need the general kernel."""
    scale_like = not fmt.subnormals and not fmt.signed and fmt.mantissa_bits == 0
    if fmt.mantissa_bits >= 23 or not ((fmt.subnormals and fmt.signed) or scale_like):
        return None
    p = rounding_params(fmt, saturate)
    q = np.zeros(FK.N_FAST, dtype=np.uint32)
    q[FK.F_SHIFT] = 23 - fmt.mantissa_bits
    q[FK.F_TINY] = _f32_bits(fmt.smallest_normal)
    q[FK.F_MAGIC] = _f32_bits(math.ldexp(1.0, fmt.min_exponent - fmt.mantissa_bits + 23))
    q[FK.F_MAX] = _f32_bits(fmt.max)
    q[FK.F_OVF] = _f32_bits(fmt.max if rounding == "toward_zero" else p[K.P_OVF])
    q[FK.F_INF] = _f32_bits(p[K.P_INF])
    q[FK.F_NAN_TO_ZERO] = int(p[K.P_NAN_TO_ZERO])
    q[FK.F_NEG_ZERO] = int(fmt.has_negative_zero)
    q.flags.writeable = False
    return q


def nearest_params(fmt: FloatFormat, saturate: bool) -> NDArray[np.uint32] | None:
    """The parameters of the branch-free round-to-nearest kernels (``_fast_kernels._nearest_*``: the serial, scaled
    and MX ones) for ``fmt``, or ``None`` when ``fmt`` needs the general kernel (a format without subnormals, or
    float32)."""
    fast = fast_params(fmt, saturate, "nearest")
    return fast if fast is not None and fmt.subnormals else None


def _fast_nearest(x: NDArray, out: NDArray, q: NDArray, seed: np.uint64) -> None:
    FK.quantize_f32_nearest(x, out, q)  # deterministic: no seed


def _fast_toward_zero(x: NDArray, out: NDArray, q: NDArray, seed: np.uint64) -> None:
    FK.quantize_f32_toward_zero(x, out, q)  # deterministic: no seed


_FAST_KERNELS: dict[str, Callable[[NDArray, NDArray, NDArray, np.uint64], None]] = {
    "nearest": _fast_nearest,
    "toward_zero": _fast_toward_zero,
    "stochastic": FK.quantize_f32_stochastic,
}
"""The float32 fast path of a format with subnormals, by rounding mode: ``kernel(x, out_bits, fast_params, seed)``."""


@lru_cache(maxsize=256)
def _encode_params(fmt: FloatFormat) -> NDArray[np.int64]:
    c = np.zeros(K.N_ENCODE, dtype=np.int64)
    c[K.E_MANT] = fmt.mantissa_bits
    c[K.E_EMIN] = fmt.min_exponent
    c[K.E_BIAS] = fmt.bias
    c[K.E_SIGN_SHIFT] = fmt.exponent_bits + fmt.mantissa_bits if fmt.signed else -1
    c[K.E_NAN] = -1 if fmt.nan_code is None else fmt.nan_code
    c[K.E_NAN_SIGNED] = int(fmt.special in ("ieee", "fn") and fmt.signed)
    c[K.E_INF] = ((2**fmt.exponent_bits - 1) << fmt.mantissa_bits) if fmt.has_inf else -1
    c.flags.writeable = False
    return c


def _as_float_array(x: ArrayLike, name: str = "x") -> NDArray[np.floating]:
    """``x`` as a contiguous float32 or float64 array; integers and other dtypes raise TypeError."""
    arr = np.asarray(x)
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)  # exact: every float16 is a float32
    if arr.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{name} must hold float16, float32 or float64 values, got dtype {arr.dtype}; "
            f"convert integers explicitly, e.g. {name}.astype(np.float32)"
        )
    return np.asarray(arr, order="C")  # unlike ascontiguousarray, keeps 0-d arrays 0-d


def _mode(rounding: str) -> int:
    if not isinstance(rounding, str) or rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {tuple(ROUNDING_MODES)}, got rounding={rounding!r}")
    return ROUNDING_MODES[rounding]


def _seed(seed: int | None, rounding: str) -> np.uint64:
    if seed is None:
        if rounding != "stochastic":
            return np.uint64(0)
        return np.uint64(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    seed = check_int("seed", seed, minimum=0)
    return np.uint64(int(seed) % 2**64)


def quantize(
    x: ArrayLike,
    fmt: str | FloatFormat,
    *,
    rounding: str = "nearest",
    saturate: bool = False,
    seed: int | None = None,
    out: NDArray[np.float32] | None = None,
) -> NDArray[np.float32]:
    """Round ``x`` to the nearest values representable in ``fmt``; returns float32 of the same shape.

    The default (``rounding="nearest"``, ``saturate=False``) is exactly ``ml_dtypes``' ``astype`` from float32 for every
    format ml_dtypes has: ties to even; overflow to inf (IEEE formats) or NaN (``fn``/``fnuz`` FP8) -- e.g. e4m3fn
    464 -> 448 but 465 -> NaN, e5m2 1e6 -> inf -- while the FP6/FP4 types, which have neither, saturate to +-max.
    float64 input is rounded once, straight to ``fmt`` (ml_dtypes before 0.7 went through float32 and could round
    twice; 0.7 rounds once too).

    Args:
        x: float16/float32/float64 array-like, any shape.
        fmt: A format name from ``FORMATS`` or a :class:`FloatFormat`.
        rounding: ``"nearest"`` (ties to even), ``"toward_zero"`` (truncate; overflow gives +-max, as IEEE says),
            or ``"stochastic"`` (round up with probability equal to the distance from the lower neighbour divided by
            the gap, so ``E[quantize(x)] = x``).
        saturate: Clamp overflow and +-inf to +-max, as FP8 training recipes do. NaN stays NaN.
        seed: Seed for stochastic rounding; the result depends only on ``(seed, element index)``.
        out: Optional C-contiguous float32 array of ``x``'s shape to write into (saves an allocation in loops).

    Returns:
        float32 array of the same shape holding values representable in ``fmt`` (``out`` when given).

    Raises:
        TypeError: ``x`` is not a float array, or ``out`` is not float32.
        ValueError: Unknown format or rounding mode, a bad seed, or ``out`` of the wrong shape or layout.
    """
    f = get_format(fmt)
    _mode(rounding)  # validates the name; _dispatch picks the kernel
    saturate = check_bool("saturate", saturate)
    s = _seed(seed, rounding)
    arr = _as_float_array(x)
    if out is None:
        out = np.empty(arr.shape, dtype=np.float32)
    elif not isinstance(out, np.ndarray) or out.dtype != np.float32:
        raise TypeError(f"out must be a float32 numpy array, got {getattr(out, 'dtype', type(out).__name__)}")
    elif out.shape != arr.shape or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous with shape {arr.shape}, got shape {out.shape}")
    with threads_for(arr.size):
        _dispatch(f, arr.reshape(-1), out.reshape(-1), rounding, bool(saturate), s)
    return out


def rounder(fmt: str | FloatFormat, *, saturate: bool = False) -> Callable[[NDArray], NDArray[np.float32]]:
    """A function ``r(x)`` equal to ``quantize(x, fmt, saturate=saturate)`` (round to nearest, ties to even), with
    the checks done once: for loops that round many small arrays (a training step rounds a dozen per step, and
    ``quantize``'s per-call validation costs as much as rounding a few thousand values).

    A C-contiguous float32 ``x`` goes straight to the serial kernel, on the calling thread (no parallel scheduling:
    a training step rounds arrays of a few thousand values); anything else goes through :func:`quantize`. Nothing is
    rounded for fp32 itself (``r(x)`` returns ``x``).

    ``r(x, scale=s)`` is scaled rounding, as FP8 recipes cast: ``quantize(x * float32(s), fmt) * float32(1 / s)``
    with float32 products, in one pass (``s`` positive and finite: the caller's contract, not checked per call).

    Raises:
        ValueError: Unknown format.
        TypeError: ``saturate`` is not a bool.
    """
    f = get_format(fmt)
    saturate = check_bool("saturate", saturate)
    fast = nearest_params(f, bool(saturate))
    identity = f.is_float32 and not saturate
    usable = fast is not None

    def round_to_format(x: NDArray, scale: float | None = None) -> NDArray[np.float32]:
        if scale is not None:
            return _round_scaled(x, scale)
        if identity and isinstance(x, np.ndarray) and x.dtype == np.float32:
            return x
        if not usable or not isinstance(x, np.ndarray) or x.dtype != np.float32 or not x.flags.c_contiguous:
            return quantize(x, f, saturate=bool(saturate))
        out = np.empty(x.size, dtype=np.uint32)
        FK.quantize_f32_nearest_serial(x.reshape(-1), out, fast)
        return out.view(np.float32).reshape(x.shape)

    def _round_scaled(x: NDArray, scale: float) -> NDArray[np.float32]:
        s, inv = np.float32(scale), np.float32(1.0 / scale)
        if not usable or not isinstance(x, np.ndarray) or x.dtype != np.float32 or not x.flags.c_contiguous:
            with np.errstate(over="ignore"):
                q = quantize(np.asarray(x, np.float32) * s, f, saturate=bool(saturate))
            q *= inv
            return q
        out = np.empty(x.shape, dtype=np.float32)
        FK.quantize_f32_nearest_scaled(x.reshape(-1), out.reshape(-1), fast, s, inv)
        return out

    round_to_format.__doc__ = f"Round to {f.name} (nearest even{', saturating' if saturate else ''})."
    return round_to_format


def _dispatch(f: FloatFormat, flat_in: NDArray, flat_out: NDArray, rounding: str, saturate: bool, seed: np.uint64):
    """Call the one kernel that rounds the 1-D ``flat_in`` into ``flat_out`` (validated by :func:`quantize`)."""
    if flat_in.dtype == np.float32 and f.is_float32 and not saturate:
        np.copyto(flat_out, flat_in)  # float32 is fp32: nothing to round
        return
    fast = fast_params(f, saturate, rounding) if flat_in.dtype == np.float32 else None
    if fast is None:  # float64 input, or a format the fast paths do not cover: the general kernel
        K.quantize_kernel(flat_in, flat_out, rounding_params(f, saturate), ROUNDING_MODES[rounding], seed)
    elif f.subnormals:
        _FAST_KERNELS[rounding](flat_in, flat_out.view(np.uint32), fast, seed)
    else:  # a power-of-two scale format (e8m0fnu): one kernel takes every mode
        FK.quantize_f32_scale(flat_in, flat_out.view(np.uint32), fast, ROUNDING_MODES[rounding], seed)


def _code_dtype(f: FloatFormat) -> type[np.unsignedinteger]:
    """The narrowest unsigned integer dtype that holds ``f``'s codes."""
    return np.uint8 if f.bits <= 8 else np.uint16 if f.bits <= 16 else np.uint32


def _check_table_width(f: FloatFormat) -> None:
    if f.bits > _MAX_CODE_BITS:
        raise ValueError(
            f"decode supports formats of at most {_MAX_CODE_BITS} bits (a table of every code); {f.name} has {f.bits}"
        )


def encode(
    x: ArrayLike, fmt: str | FloatFormat, *, rounding: str = "nearest", saturate: bool = False, seed: int | None = None
) -> NDArray[np.unsignedinteger]:
    """Round ``x`` to ``fmt`` (as :func:`quantize`) and return the bit codes: uint8, uint16 or uint32 by width.

    The layout is ``sign | exponent field | mantissa field`` in the low ``fmt.bits`` bits; NaN gets the format's
    canonical NaN code (sign kept where the format has signed NaNs), as ml_dtypes writes it.

    Raises:
        ValueError: as :func:`quantize`.
    """
    f = get_format(fmt)
    dtype = _code_dtype(f)
    r = quantize(x, f, rounding=rounding, saturate=saturate, seed=seed)
    codes = np.empty(r.shape, dtype=np.uint32)
    K.encode_kernel(r.reshape(-1), codes.reshape(-1), _encode_params(f))
    return codes.astype(dtype)


@lru_cache(maxsize=64)
def decode_table(fmt: FloatFormat) -> NDArray[np.float32]:
    """Value of every code of ``fmt`` (index = code), derived from the spec; read-only.

    ``value = (-1)**s * 2**(field - bias) * (1 + mant / 2**M)`` for normal codes and
    ``(-1)**s * 2**emin * (mant / 2**M)`` for subnormal ones (field 0), then the special codes.
    """
    f = fmt
    _check_table_width(f)
    m, e = f.mantissa_bits, f.exponent_bits
    codes = np.arange(2**f.bits, dtype=np.int64)
    mant = codes & (2**m - 1)
    field = (codes >> m) & (2**e - 1)
    negative = ((codes >> (e + m)) & 1).astype(bool) if f.signed else np.zeros(codes.size, dtype=bool)
    frac = mant / 2.0**m
    if f.subnormals:
        mag = np.where(field == 0, np.ldexp(frac, f.min_exponent), np.ldexp(1.0 + frac, field - f.bias))
    else:
        mag = np.ldexp(1.0 + frac, field - f.bias)
    values = np.where(negative, -mag, mag)
    if f.special == "ieee":
        top = field == 2**e - 1
        values[top & (mant == 0)] = np.where(negative[top & (mant == 0)], -np.inf, np.inf)
        values[top & (mant != 0)] = np.nan
    elif f.special == "fn":
        values[(field == 2**e - 1) & (mant == 2**m - 1)] = np.nan
    elif f.special == "fnuz":
        values[codes == 1 << (e + m)] = np.nan
    table = values.astype(np.float32)
    table.flags.writeable = False
    return table


def decode(codes: ArrayLike, fmt: str | FloatFormat) -> NDArray[np.float32]:
    """Values (float32) of the bit ``codes`` of ``fmt``.

    Raises:
        TypeError: ``codes`` is not an integer array.
        ValueError: A code does not fit in ``fmt.bits`` bits, or ``fmt`` has more than 16 bits.
    """
    f = get_format(fmt)
    table = decode_table(f)
    arr = np.asarray(codes)
    if arr.dtype.kind not in "ui":
        raise TypeError(f"codes must be an integer array, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= table.size):
        bad = arr.min() if arr.min() < 0 else arr.max()
        raise ValueError(f"codes must be in 0..{table.size - 1} for {f.name} ({f.bits} bits), got {int(bad)}")
    return table[arr]


def representable_values(fmt: str | FloatFormat) -> NDArray[np.float64]:
    """All finite values of ``fmt`` (at most 16 bits), sorted, each once (+0 and -0 count as one)."""
    table = decode_table(get_format(fmt)).astype(np.float64)
    return np.unique(table[np.isfinite(table)] + 0.0)


def ulp(x: ArrayLike, fmt: str | FloatFormat) -> NDArray[np.float64]:
    """Spacing of ``fmt``'s grid at ``|x|``: ``2**(max(floor(log2|x|), emin) - M)`` (float64, same shape).

    For values below the smallest normal this is the subnormal spacing; inf and NaN give NaN.
    """
    f = get_format(fmt)
    a = np.abs(_as_float_array(x).astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        _, exp = np.frexp(a)
    e = np.maximum(exp - 1, f.min_exponent)
    if not f.subnormals:
        e = np.where(a < f.smallest_normal, f.min_exponent, e)
    out = np.ldexp(1.0, e - f.mantissa_bits)
    return np.where(np.isfinite(a), out, np.nan)


def unit_roundoff(fmt: str | FloatFormat) -> float:
    """Largest relative error of round-to-nearest in the normal range: ``u = 2**-(M+1)``."""
    return math.ldexp(1.0, -(get_format(fmt).mantissa_bits + 1))
