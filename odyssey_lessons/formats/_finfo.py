"""``finfo`` for the simulated formats, with numpy's field names, derived from the :class:`FloatFormat` spec."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from odyssey_lessons.formats._quantize import quantize
from odyssey_lessons.formats._spec import FloatFormat, get_format


@dataclass(frozen=True)
class FInfo:
    """Machine limits of a format, named as :class:`numpy.finfo` names them.

    ``eps`` is the gap between 1 and the next larger value, ``2**-nmant``; ``epsneg`` the gap between 1 and the next
    smaller value; ``tiny`` (= ``smallest_normal``) is ``2**minexp``; ``maxexp`` is the first exponent that overflows;
    ``precision = floor(-log10(eps))`` and ``resolution = 10**-precision`` rounded to the format, as numpy defines them.
    """

    name: str
    bits: int
    eps: float
    epsneg: float
    max: float
    min: float
    tiny: float
    smallest_normal: float
    smallest_subnormal: float
    nexp: int
    nmant: int
    iexp: int
    maxexp: int
    minexp: int
    machep: int
    negep: int
    precision: int
    resolution: float
    has_inf: bool
    has_nan: bool
    has_subnormals: bool


def finfo(fmt: str | FloatFormat) -> FInfo:
    """Machine limits of ``fmt`` (a name or a :class:`FloatFormat`), equal to ``ml_dtypes.finfo`` where it exists.

    Raises:
        ValueError: Unknown format name.
        TypeError: ``fmt`` is neither a str nor a FloatFormat.
    """
    f = get_format(fmt)
    m = f.mantissa_bits
    # The value just below 1: in the binade [1/2, 1) when that binade is normal, else on the subnormal grid.
    below_one_exp = -1 - m if f.min_exponent <= -1 else f.smallest_exponent
    eps = math.ldexp(1.0, -m)
    precision = int(math.floor(-math.log10(eps)))
    return FInfo(
        name=f.name,
        bits=f.bits,
        eps=eps,
        epsneg=math.ldexp(1.0, below_one_exp),
        max=f.max,
        min=-f.max if f.signed else f.smallest_subnormal,
        tiny=f.smallest_normal,
        smallest_normal=f.smallest_normal,
        smallest_subnormal=f.smallest_subnormal,
        nexp=f.exponent_bits,
        nmant=m,
        iexp=f.exponent_bits,
        maxexp=f.max_exponent + 1,
        minexp=f.min_exponent,
        machep=-m,
        negep=below_one_exp,
        precision=precision,
        resolution=float(quantize(np.array([10.0**-precision]), f)[0]),
        has_inf=f.has_inf,
        has_nan=f.has_nan,
        has_subnormals=f.subnormals,
    )
