"""The four STREAM kernels (McCalpin), single-threaded numba loops over float64 arrays, one pass each.

Bytes per element counted as STREAM counts them (each array read or written once): copy 16, scale 16, add 24,
triad 24.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def stream_copy(a, c):
    """``c = a``."""
    for i in range(a.size):
        c[i] = a[i]


@njit(cache=True)
def stream_scale(b, c, s):
    """``b = s * c``."""
    for i in range(c.size):
        b[i] = s * c[i]


@njit(cache=True)
def stream_add(a, b, c):
    """``c = a + b``."""
    for i in range(a.size):
        c[i] = a[i] + b[i]


@njit(cache=True)
def stream_triad(a, b, c, s):
    """``a = b + s * c``."""
    for i in range(b.size):
        a[i] = b[i] + s * c[i]
