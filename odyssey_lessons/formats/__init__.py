"""Simulated low-precision floating-point formats, bit-exact with ml_dtypes.

Every format is written down once as a :class:`FloatFormat`; limits (:func:`finfo`), rounding (:func:`quantize`),
bit codes (:func:`encode`, :func:`decode`) and the lesson helpers are derived from that spec.
"""

from odyssey_lessons.formats._arith import accumulate, matmul, relative_error, stall_point
from odyssey_lessons.formats._explain import BitFields, FormatReadout, bit_fields, explain, format_table, storage_bytes
from odyssey_lessons.formats._finfo import FInfo, finfo
from odyssey_lessons.formats._quantize import (
    ROUNDING_MODES,
    decode,
    decode_table,
    encode,
    quantize,
    representable_values,
    rounder,
    ulp,
    unit_roundoff,
)
from odyssey_lessons.formats._spec import ALIASES, FORMATS, SPECIALS, FloatFormat, custom_format, get_format

__all__ = [
    "ALIASES",
    "BitFields",
    "FormatReadout",
    "bit_fields",
    "explain",
    "format_table",
    "storage_bytes",
    "FORMATS",
    "ROUNDING_MODES",
    "SPECIALS",
    "FInfo",
    "FloatFormat",
    "accumulate",
    "custom_format",
    "decode",
    "decode_table",
    "encode",
    "finfo",
    "get_format",
    "matmul",
    "quantize",
    "rounder",
    "relative_error",
    "representable_values",
    "stall_point",
    "ulp",
    "unit_roundoff",
]
