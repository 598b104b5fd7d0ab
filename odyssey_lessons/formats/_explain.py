"""What a single value becomes in a format, bit by bit: the data behind the format explorer widget and lesson 1.

Everything here is computed from the :class:`FloatFormat` spec and the rounding functions; nothing is plotted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from odyssey_lessons.formats._finfo import finfo
from odyssey_lessons.formats._quantize import encode, quantize, ulp
from odyssey_lessons.formats._spec import FORMATS, FloatFormat, get_format


@dataclass(frozen=True)
class BitFields:
    """The bit pattern of one value, split into its fields (strings of ``"0"``/``"1"``, most significant bit first).

    ``sign`` is ``""`` for unsigned formats and ``mantissa`` is ``""`` for formats without mantissa bits.
    """

    sign: str
    exponent: str
    mantissa: str

    @property
    def bits(self) -> str:
        """All bits concatenated: ``sign + exponent + mantissa``."""
        return self.sign + self.exponent + self.mantissa

    @property
    def code(self) -> int:
        """The bit pattern as an unsigned integer."""
        return int(self.bits, 2)

    def __str__(self) -> str:
        return " ".join(part for part in (self.sign, self.exponent, self.mantissa) if part)


@dataclass(frozen=True)
class FormatReadout:
    """Everything the explorer shows about rounding ``value`` to one format.

    Attributes:
        format: Format name.
        value: The input value (float64).
        rounded: The value after rounding to the format (float; inf or NaN where the format produces them).
        abs_error: ``|rounded - value|`` (inf/NaN when ``rounded`` is).
        rel_error: ``abs_error / |value|`` (0 when the result is exact, NaN for an inexact zero or inf input).
        ulp: Spacing of the format's grid at ``|value|`` (NaN for inf/NaN input).
        bits: Bit fields of ``rounded``.
        code: The bit pattern as an unsigned integer.
        kind: ``"normal"``, ``"subnormal"``, ``"zero"``, ``"inf"``, ``"nan"``, ``"underflow->zero"`` or
            ``"overflow->inf"`` / ``"overflow->nan"`` / ``"overflow->max"``.
        smallest_subnormal: Smallest positive value of the format.
        smallest_normal: Smallest positive normal value.
        max: Largest finite value.
    """

    format: str
    value: float
    rounded: float
    abs_error: float
    rel_error: float
    ulp: float
    bits: BitFields
    code: int
    kind: str
    smallest_subnormal: float
    smallest_normal: float
    max: float


def _split(code: int, f: FloatFormat) -> BitFields:
    """Split an integer code of ``f.bits`` bits into its fields."""
    text = format(code, f"0{f.bits}b")
    s = int(f.signed)
    return BitFields(text[:s], text[s : s + f.exponent_bits], text[s + f.exponent_bits :])


def bit_fields(
    x: float, fmt: str | FloatFormat, *, rounding: str = "nearest", saturate: bool = False, seed: int | None = None
) -> BitFields:
    """Round ``x`` to ``fmt`` and split the resulting bit pattern into sign, exponent and mantissa fields.

    The code comes from :func:`encode` for every width (for tf32 it equals the top 19 bits of the rounded float32).

    Raises:
        ValueError: Unknown format or rounding mode.
    """
    f = get_format(fmt)
    r = float(quantize(np.array([x], dtype=np.float64), f, rounding=rounding, saturate=saturate, seed=seed)[0])
    return _fields_of_rounded(r, f)


def _fields_of_rounded(r: float, f: FloatFormat) -> BitFields:
    # r is representable, so encode() only writes its code (NaN gets the canonical code, sign kept).
    return _split(int(encode(np.array([r], dtype=np.float32), f)[0]), f)


def _kind(value: float, r: float, f: FloatFormat, rounding: str) -> str:
    """Classify the result; overflow follows IEEE 754: the result rounded with an unbounded exponent exceeds max."""
    if math.isnan(value) or (not f.signed and (value < 0 or value == 0)):
        return "nan" if math.isnan(r) else ("zero" if r == 0 else "normal")
    if math.isinf(value):
        return "inf" if math.isinf(r) else ("nan" if math.isnan(r) else "overflow->max")
    a = abs(value)
    if a > f.max:
        if rounding == "stochastic":
            overflowed = True  # beyond the last grid point: whichever way it rounded, it left the range
        else:
            step = math.ldexp(1.0, math.frexp(a)[1] - 1 - f.mantissa_bits)
            q = a / step  # exact: step is a power of two
            unbounded = (round(q) if rounding == "nearest" else math.floor(q)) * step
            overflowed = unbounded > f.max
        if overflowed:
            return "overflow->inf" if math.isinf(r) else ("overflow->nan" if math.isnan(r) else "overflow->max")
    if math.isnan(r):
        return "nan"
    if math.isinf(r):
        return "inf"
    if r == 0:
        return "zero" if value == 0 else "underflow->zero"
    return "subnormal" if f.subnormals and abs(r) < f.smallest_normal else "normal"


def explain(
    value: float, fmt: str | FloatFormat, *, rounding: str = "nearest", saturate: bool = False, seed: int | None = None
) -> FormatReadout:
    """Round ``value`` to ``fmt`` and report the result, its errors, the grid spacing there and the bit pattern.

    ``value`` is rounded once, straight from float64 (as :func:`quantize` does for float64 input).

    Args:
        value: Any real number (Python float, int or numpy scalar); inf and NaN are allowed.
        fmt: Format name or :class:`FloatFormat`.
        rounding: ``"nearest"``, ``"toward_zero"`` or ``"stochastic"``.
        saturate: Clamp overflow to +-max instead of inf/NaN.
        seed: Seed for stochastic rounding.

    Returns:
        A :class:`FormatReadout`.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: Unknown format or rounding mode.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"value must be a real number, got {type(value).__name__} {value!r}")
    f = get_format(fmt)
    v = float(value)
    r = float(quantize(np.array([v], dtype=np.float64), f, rounding=rounding, saturate=saturate, seed=seed)[0])
    fields = _fields_of_rounded(r, f)
    abs_err = 0.0 if r == v else abs(r - v)  # inf == inf: no error; NaN propagates
    if v == 0 or not math.isfinite(v):
        rel_err = 0.0 if abs_err == 0 else math.nan
    else:
        rel_err = abs_err / abs(v)
    return FormatReadout(
        format=f.name,
        value=v,
        rounded=r,
        abs_error=abs_err,
        rel_error=rel_err,
        ulp=float(ulp(np.array([v]), f)[0]),
        bits=fields,
        code=fields.code,
        kind=_kind(v, r, f, rounding),
        smallest_subnormal=f.smallest_subnormal,
        smallest_normal=f.smallest_normal,
        max=f.max,
    )


def storage_bytes(fmt: str | FloatFormat) -> float:
    """Bytes one value occupies in memory.

    Sub-byte formats (FP6, FP4) are packed, as MX blocks store them (``bits / 8``); wider formats occupy the smallest
    8-, 16- or 32-bit container that holds them -- so tf32, a 19-bit compute format, is stored as a 4-byte float32.
    """
    bits = get_format(fmt).bits
    if bits <= 8:
        return bits / 8
    return 2.0 if bits <= 16 else 4.0


def format_table(formats: tuple[str, ...] | None = None) -> list[dict[str, object]]:
    """One row per format with its range, precision and memory cost, computed from :func:`finfo`.

    Columns: ``name``, ``bits``, ``exponent_bits``, ``mantissa_bits``, ``max``, ``smallest_normal``,
    ``smallest_subnormal`` (``None`` without subnormals), ``eps``, ``decimal_digits`` = ``(M + 1) * log10(2)``
    (significant decimal digits the significand carries), ``binades`` = ``log2(max / smallest positive)`` (dynamic
    range), ``bytes_per_value`` (:func:`storage_bytes`), ``has_inf``, ``has_nan``.

    Args:
        formats: Names to include, in order; ``None`` means every format in ``FORMATS``.
    """
    names = tuple(FORMATS) if formats is None else formats
    rows: list[dict[str, object]] = []
    for name in names:
        f = get_format(name)
        fi = finfo(f)
        rows.append(
            {
                "name": f.name,
                "bits": fi.bits,
                "exponent_bits": fi.nexp,
                "mantissa_bits": fi.nmant,
                "max": fi.max,
                "smallest_normal": fi.smallest_normal,
                "smallest_subnormal": fi.smallest_subnormal if fi.has_subnormals else None,
                "eps": fi.eps,
                "decimal_digits": (fi.nmant + 1) * math.log10(2.0),
                "binades": math.log2(fi.max / fi.smallest_subnormal),
                "bytes_per_value": storage_bytes(f),
                "has_inf": fi.has_inf,
                "has_nan": fi.has_nan,
            }
        )
    return rows
