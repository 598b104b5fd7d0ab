"""Float formats written down once, as data.

A :class:`FloatFormat` holds only the layout (exponent bits, mantissa bits, bias) and the policy for specials; every
constant a learner or a kernel needs (max, smallest normal, eps, the code of NaN, ...) is derived from it here.

Special-value policies (the suffixes in ml_dtypes' names):

- ``"ieee"``: IEEE 754 style. The all-ones exponent field holds +-inf (mantissa 0) and NaN. (fp32, fp16, bf16, e5m2)
- ``"fn"``: finite, no inf; only the all-ones code (exponent and mantissa all ones) is NaN, so the top binade holds
  ordinary values. (e4m3fn, and e8m0fnu whose single all-ones code is NaN)
- ``"fnuz"``: finite, no inf, NaN is the code of negative zero, so there is no -0. (e4m3fnuz, e5m2fnuz)
- ``"finite"``: no inf and no NaN at all; out-of-range values saturate to +-max. (the MX FP6/FP4 types)

Round to nearest sends a tie to the neighbour with the even code (its last mantissa bit is 0). With no mantissa bits
that is the neighbour with the even exponent field -- except in formats without subnormals (e8m0fnu), where ties
round up in magnitude, as ml_dtypes does.

``subnormals=False`` means exponent field 0 is an ordinary binade: there is neither zero nor any subnormal
(e8m0fnu, the MX block-scale type). ``signed=False`` drops the sign bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Special = Literal["ieee", "fn", "fnuz", "finite"]
SPECIALS: tuple[str, ...] = ("ieee", "fn", "fnuz", "finite")

# The smallest float32 subnormal is 2**-149 and the largest finite float32 is just below 2**128: a simulated format
# must fit inside float32, because quantize() returns float32 arrays.
_F32_MIN_EXP = -149
_F32_MAX = float.fromhex("0x1.fffffep+127")


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: ``(-1)**s * 2**(e - bias) * 1.m`` (normal) or ``* 0.m`` (subnormal).

    Args:
        name: Short name, e.g. ``"e4m3fn"``.
        exponent_bits: Width of the exponent field, 1..8.
        mantissa_bits: Width of the stored mantissa (fraction) field, 0..23.
        bias: Exponent bias; ``None`` means the IEEE default ``2**(exponent_bits - 1) - 1``.
        special: How inf and NaN are encoded: ``"ieee"``, ``"fn"``, ``"fnuz"`` or ``"finite"`` (module docstring).
        subnormals: Whether exponent field 0 holds zero and subnormals (``False``: it is an ordinary binade).
        signed: Whether there is a sign bit.

    Raises:
        ValueError: A field is out of range, or the format would not fit inside float32.
        TypeError: A field has the wrong type.
    """

    name: str
    exponent_bits: int
    mantissa_bits: int
    bias: int | None = None
    special: Special = "ieee"
    subnormals: bool = True
    signed: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, got {self.name!r}")
        for field, low, high in (("exponent_bits", 1, 8), ("mantissa_bits", 0, 23)):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{field} must be an int, got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{field} must be in {low}..{high}, got {field}={value}")
        if self.bias is None:
            object.__setattr__(self, "bias", 2 ** (self.exponent_bits - 1) - 1)
        elif isinstance(self.bias, bool) or not isinstance(self.bias, int):
            raise TypeError(f"bias must be an int or None, got {self.bias!r}")
        if self.special not in SPECIALS:
            raise ValueError(f"special must be one of {SPECIALS}, got special={self.special!r}")
        if self.special == "ieee" and self.exponent_bits < 2:
            raise ValueError("special='ieee' needs exponent_bits >= 2 (the all-ones exponent is reserved)")
        if not self.subnormals and not self.has_nan:
            raise ValueError("a format without subnormals has no zero, so it needs a NaN code for zero and negatives")
        if self.max_finite_mantissa < 0 or self.max_exponent < self.min_exponent:
            raise ValueError(f"{self.name}: no finite values remain after reserving the special codes")
        if self.smallest_exponent < _F32_MIN_EXP:
            raise ValueError(f"{self.name}: smallest value 2**{self.smallest_exponent} is below float32's 2**-149")
        if self.max > _F32_MAX:
            raise ValueError(f"{self.name}: max {self.max!r} exceeds float32's max; lower exponent_bits or raise bias")

    # ----- layout -------------------------------------------------------------------------------------------------
    @property
    def bits(self) -> int:
        """Total width in bits: sign + exponent + mantissa."""
        return int(self.signed) + self.exponent_bits + self.mantissa_bits

    @property
    def precision_bits(self) -> int:
        """Significand precision p, counting the implicit leading bit."""
        return self.mantissa_bits + 1

    @property
    def _top_field(self) -> int:
        """The largest exponent field that holds finite values."""
        all_ones = 2**self.exponent_bits - 1
        if self.special == "ieee" or (self.special == "fn" and self.mantissa_bits == 0):
            return all_ones - 1
        return all_ones

    @property
    def max_finite_mantissa(self) -> int:
        """The mantissa field of the largest finite value."""
        all_ones = 2**self.mantissa_bits - 1
        if self.special == "fn" and self.mantissa_bits > 0:
            return all_ones - 1  # the all-ones code is NaN
        return all_ones

    @property
    def min_exponent(self) -> int:
        """Exponent of the smallest normal value (numpy's ``minexp``)."""
        return (1 if self.subnormals else 0) - self.bias

    @property
    def max_exponent(self) -> int:
        """Exponent of the largest binade that holds finite values (numpy's ``maxexp`` is this + 1)."""
        return self._top_field - self.bias

    @property
    def smallest_exponent(self) -> int:
        """Exponent of the smallest positive value (a subnormal when the format has them)."""
        return self.min_exponent - (self.mantissa_bits if self.subnormals else 0)

    @property
    def is_float32(self) -> bool:
        """Whether this is IEEE binary32 itself, so that every float32 value is already representable and rounding
        float32 input to it changes nothing. Every field counts: the layout (8 exponent bits, 23 mantissa bits, bias
        127), IEEE specials, subnormals and the sign bit."""
        return (
            self.exponent_bits == 8
            and self.mantissa_bits == 23
            and self.bias == 127
            and self.special == "ieee"
            and self.subnormals
            and self.signed
        )

    # ----- values -------------------------------------------------------------------------------------------------
    @property
    def max(self) -> float:
        """Largest finite value."""
        return math.ldexp(1.0 + self.max_finite_mantissa / 2**self.mantissa_bits, self.max_exponent)

    @property
    def smallest_normal(self) -> float:
        """Smallest positive normal value, ``2**min_exponent``."""
        return math.ldexp(1.0, self.min_exponent)

    @property
    def smallest_subnormal(self) -> float:
        """Smallest positive value (equal to ``smallest_normal`` when the format has no subnormals)."""
        return math.ldexp(1.0, self.smallest_exponent)

    # ----- specials -----------------------------------------------------------------------------------------------
    @property
    def has_inf(self) -> bool:
        return self.special == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.special != "finite"

    @property
    def has_zero(self) -> bool:
        return self.subnormals

    @property
    def has_negative_zero(self) -> bool:
        return self.signed and self.has_zero and self.special != "fnuz"

    @property
    def saturates(self) -> bool:
        """Whether overflow saturates to +-max by default (formats with neither inf nor NaN)."""
        return self.special == "finite"

    @property
    def nan_code(self) -> int | None:
        """The (positive) NaN code written by :func:`encode`, or ``None`` when the format has no NaN."""
        m, e = self.mantissa_bits, self.exponent_bits
        if self.special == "ieee":
            quiet = 1 << (m - 1) if m > 0 else 0
            return ((2**e - 1) << m) | quiet
        if self.special == "fn":
            return 2 ** (e + m) - 1
        if self.special == "fnuz":
            return 1 << (e + m)
        return None

    def __str__(self) -> str:
        return self.name


def _registry() -> dict[str, FloatFormat]:
    formats = [
        FloatFormat("fp32", 8, 23),
        FloatFormat("tf32", 8, 10),
        FloatFormat("fp16", 5, 10),
        FloatFormat("bf16", 8, 7),
        FloatFormat("e4m3fn", 4, 3, special="fn"),
        FloatFormat("e4m3fnuz", 4, 3, bias=8, special="fnuz"),
        FloatFormat("e5m2", 5, 2),
        FloatFormat("e5m2fnuz", 5, 2, bias=16, special="fnuz"),
        FloatFormat("e3m4", 3, 4),
        FloatFormat("e2m3fn", 2, 3, special="finite"),
        FloatFormat("e3m2fn", 3, 2, special="finite"),
        FloatFormat("e2m1fn", 2, 1, special="finite"),
        FloatFormat("e8m0fnu", 8, 0, special="fn", subnormals=False, signed=False),
    ]
    return {f.name: f for f in formats}


FORMATS: dict[str, FloatFormat] = _registry()
"""Registry of the built-in formats, name -> :class:`FloatFormat`."""

ALIASES: dict[str, str] = {
    "float32": "fp32",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "fp8_e4m3": "e4m3fn",
    "fp8_e5m2": "e5m2",
    "fp6_e2m3": "e2m3fn",
    "fp6_e3m2": "e3m2fn",
    "fp4": "e2m1fn",
    "fp4_e2m1": "e2m1fn",
}


def get_format(fmt: str | FloatFormat) -> FloatFormat:
    """Resolve a format name (or alias such as ``"bfloat16"``) or pass a :class:`FloatFormat` through.

    Raises:
        ValueError: Unknown name; the message lists the known ones.
        TypeError: ``fmt`` is neither a str nor a FloatFormat.
    """
    if isinstance(fmt, FloatFormat):
        return fmt
    if not isinstance(fmt, str):
        raise TypeError(f"fmt must be a format name or a FloatFormat, got {type(fmt).__name__} {fmt!r}")
    key = fmt.strip().lower()
    key = ALIASES.get(key, key)
    if key not in FORMATS:
        raise ValueError(
            f"unknown format fmt={fmt!r}; known formats: {', '.join(FORMATS)} (aliases: {', '.join(ALIASES)})"
        )
    return FORMATS[key]


def custom_format(exponent_bits: int, mantissa_bits: int, **kwargs: object) -> FloatFormat:
    """A user-defined format named ``e{E}m{M}`` (IEEE-style specials unless ``special=`` says otherwise)."""
    name = kwargs.pop("name", None) or f"e{exponent_bits}m{mantissa_bits}"
    return FloatFormat(name, exponent_bits, mantissa_bits, **kwargs)  # type: ignore[arg-type]
