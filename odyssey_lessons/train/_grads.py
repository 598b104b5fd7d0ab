"""Gradients as the training step sees them: a dict ``name -> float array``; checks and statistics over all of them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from odyssey_lessons.formats import FloatFormat, get_format, quantize

Grads = Mapping[str, np.ndarray]


def check_grads(grads: object, *, writable: bool = False) -> dict[str, np.ndarray]:
    """Validate a gradient dict: str keys, floating numpy arrays (writable ones when they are changed in place).

    Raises:
        TypeError: ``grads`` is not a mapping, a key is not a str, or a value is not a floating numpy array.
        ValueError: ``writable`` is requested and an array is read-only.
    """
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict name -> numpy array, got {type(grads).__name__}")
    for name, g in grads.items():
        if not isinstance(name, str):
            raise TypeError(f"grads keys must be str, got {name!r}")
        if not isinstance(g, np.ndarray) or not np.issubdtype(g.dtype, np.floating):
            got = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
            raise TypeError(f"grads[{name!r}] must be a floating numpy array, got {got}")
        if writable and not g.flags.writeable:
            raise ValueError(f"grads[{name!r}] is read-only; it is changed in place, so pass a writable array")
    return dict(grads)


def found_nonfinite(grads: Mapping[str, np.ndarray]) -> bool:
    """True when any gradient value is inf or NaN."""
    return any(not np.isfinite(g).all() for g in grads.values())


@dataclass(frozen=True)
class GradStats:
    """What rounding a set of gradients to a format would lose.

    Attributes:
        fmt: Name of the format.
        count: Number of gradient values.
        nonzero: Finite values that are not zero (the denominator of the two fractions).
        nonfinite: Values that already are inf or NaN (counted in neither fraction).
        underflow: Nonzero finite values that round to zero in ``fmt``.
        overflow: Finite values that round to inf/NaN, or, in a saturating format, whose magnitude exceeds its max.
        norm: Global L2 norm ``sqrt(sum_i g_i**2)`` over all values, in float64 (inf/NaN when any value is).
    """

    fmt: str
    count: int
    nonzero: int
    nonfinite: int
    underflow: int
    overflow: int
    norm: float

    @property
    def underflow_fraction(self) -> float:
        """``underflow / nonzero`` (0 when there are no nonzero values)."""
        return self.underflow / self.nonzero if self.nonzero else 0.0

    @property
    def overflow_fraction(self) -> float:
        """``overflow / nonzero`` (0 when there are no nonzero values)."""
        return self.overflow / self.nonzero if self.nonzero else 0.0


def gradient_stats(grads: Grads | np.ndarray, fmt: str | FloatFormat) -> GradStats:
    """Count the gradient values that underflow to zero or overflow when rounded to ``fmt`` (round to nearest even).

    Micikevicius et al. (2018) found about 5% of one model's weight-gradient values below fp16's ``2**-24`` -- this is
    the number to look at before choosing a loss scale. Rounding uses :func:`odyssey_lessons.formats.quantize`
    (non-saturating, so overflow shows as inf/NaN; formats without inf and NaN count ``|g| > max`` as overflow).

    Args:
        grads: A dict ``name -> floating array`` or a single floating array.
        fmt: A format name or :class:`FloatFormat`.

    Returns:
        A :class:`GradStats`.

    Raises:
        TypeError: ``grads`` is not a dict of floating arrays (or one array).
        ValueError: Unknown format.
    """
    f = get_format(fmt)
    arrays = check_grads({"grads": grads} if isinstance(grads, np.ndarray) else grads).values()
    count = nonzero = nonfinite = underflow = overflow = 0
    sumsq = 0.0
    for g in arrays:
        flat = g.reshape(-1)
        finite = np.isfinite(flat)
        live = finite & (flat != 0)
        q = quantize(flat, f)
        count += flat.size
        nonfinite += int(flat.size - np.count_nonzero(finite))
        nonzero += int(np.count_nonzero(live))
        underflow += int(np.count_nonzero(live & (q == 0)))
        lost = ~np.isfinite(q)
        if f.saturates:
            lost |= np.abs(flat) > f.max
        overflow += int(np.count_nonzero(finite & lost))
        sumsq += float(np.sum(np.square(flat, dtype=np.float64)))
    return GradStats(f.name, count, nonzero, nonfinite, underflow, overflow, math.sqrt(sumsq))
