"""Student's t distribution for the evidence engine: the two-sided critical value and the one-sided power quantile,
computed exactly for integer degrees of freedom (no SciPy at run time; ``tests/evidence/test_judge.py`` checks them
against ``scipy.stats.t``).

For integer ``df`` the probability ``A(t) = P(|T| < t)`` has a closed form (Abramowitz & Stegun 26.7.3-4): with
``theta = atan(t / sqrt(df))``,

- ``df = 1``: ``A = 2 theta / pi``;
- odd ``df``: ``A = 2/pi (theta + sin(theta) (cos(theta) + 2/3 cos^3 + ... + (2*4*...*(df-3))/(1*3*...*(df-2))
  cos^(df-2)))``;
- even ``df``: ``A = sin(theta) (1 + 1/2 cos^2 + (1*3)/(2*4) cos^4 + ... + (1*3*...*(df-3))/(2*4*...*(df-2))
  cos^(df-2))``.

Quantiles invert ``A`` by bisection (60 halvings: far below float64's resolution of the answer).
"""

from __future__ import annotations

import math


def t_abs_cdf(t: float, df: int) -> float:
    """``P(|T| < t)`` for Student's t with ``df`` (>= 1, integer) degrees of freedom and ``t >= 0``."""
    theta = math.atan(t / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2 == 1:
        if df == 1:
            return 2 * theta / math.pi
        term, total = c, c
        for k in range(3, df - 1, 2):  # cos^k terms, k = 3, 5, ..., df - 2
            term *= (k - 1) / k * c * c
            total += term
        return 2 / math.pi * (theta + s * total)
    term, total = 1.0, 1.0
    for k in range(2, df - 1, 2):  # cos^k terms, k = 2, 4, ..., df - 2
        term *= (k - 1) / k * c * c
        total += term
    return s * total


def _inverse(target: float, df: int) -> float:
    lo, hi = 0.0, 1.0
    while t_abs_cdf(hi, df) < target:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if t_abs_cdf(mid, df) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def t_critical(confidence: float, df: int) -> float:
    """The two-sided critical value: ``P(|T| < t) = confidence`` (``t_{(1 + confidence)/2, df}``)."""
    return _inverse(confidence, df)


def t_quantile(p: float, df: int) -> float:
    """The one-sided quantile ``P(T < t) = p`` for ``p >= 0.5`` (``P(|T| < t) = 2p - 1``)."""
    return _inverse(2 * p - 1, df)
