"""Slow, obviously correct reference implementations that the kernels are checked against.

Rounding is done with exact rational arithmetic (``fractions.Fraction``) straight from the format's definition: list
the two representable neighbours of ``x`` and pick one. No bit tricks, no shared code with the package.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type name only: nothing of the package runs in the reference
    from odyssey_lessons.formats import FloatFormat


def neighbours(x: Fraction, fmt: FloatFormat) -> tuple[Fraction, Fraction]:
    """The representable magnitudes ``lo <= |x| <= hi`` around ``|x|`` (``hi`` may exceed max: the overflow step)."""
    a = abs(x)
    m = fmt.mantissa_bits
    if a < Fraction(2) ** fmt.min_exponent:
        if not fmt.subnormals:
            raise ValueError("below the smallest value of a format without subnormals")
        step = Fraction(2) ** (fmt.min_exponent - m)
    else:
        e = math.floor(math.log2(a))
        # math.log2 of a Fraction can be off by one at binade edges: fix it exactly.
        while Fraction(2) ** e > a:
            e -= 1
        while Fraction(2) ** (e + 1) <= a:
            e += 1
        step = Fraction(2) ** (e - m)
    lo = (a // step) * step
    return lo, lo if lo == a else lo + step


def round_reference(x: float, fmt: FloatFormat, rounding: str = "nearest", saturate: bool = False) -> float:
    """Round the float ``x`` to ``fmt`` exactly as the format's definition says (float result, NaN for NaN)."""
    if math.isnan(x):
        return math.nan if fmt.has_nan else -math.copysign(0.0, x)
    sign = -1.0 if math.copysign(1.0, x) < 0 else 1.0
    if not fmt.signed and (sign < 0 or x == 0):
        return math.nan
    if math.isinf(x):
        mag = fmt.max if (saturate or fmt.saturates) else (math.inf if fmt.has_inf else math.nan)
        return sign * mag
    if x == 0:
        return math.nan if not fmt.has_zero else (sign * 0.0 if fmt.has_negative_zero else 0.0)
    a = abs(Fraction(x))
    if not fmt.subnormals and a < Fraction(fmt.smallest_normal):
        return fmt.smallest_normal
    lo, hi = neighbours(a, fmt)
    if lo == hi:
        r = lo
    elif rounding == "toward_zero":
        r = lo
    elif rounding == "nearest":
        if a - lo < hi - a:
            r = lo
        elif a - lo > hi - a:
            r = hi
        else:  # tie: the neighbour whose code is even
            step = hi - lo
            if fmt.mantissa_bits == 0 and fmt.subnormals and lo >= Fraction(fmt.smallest_normal):
                lo_code_even = (round(math.log2(lo)) + fmt.bias) % 2 == 0  # the code is the exponent field
            else:
                lo_code_even = (lo / step) % 2 == 0  # e8m0fnu: the significand 1 is odd, ties round up
            r = lo if lo_code_even else hi
    else:
        raise ValueError(rounding)
    if r > Fraction(fmt.max):
        if rounding == "toward_zero" or saturate or fmt.saturates:
            r = Fraction(fmt.max)
        else:
            return sign * (math.inf if fmt.has_inf else math.nan)
    value = float(r)
    if value == 0.0 and not fmt.has_negative_zero:
        return 0.0
    return sign * value
