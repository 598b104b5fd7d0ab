"""Running numba kernels on the calling thread only.

On a 2-core machine numba's OpenMP pool and OpenBLAS's threads compete: after a parallel numba kernel its idle
threads spin for a few milliseconds, and a BLAS call made in that window waits for them (measured here: a 128x64 by
64x128 matmul took 8.5 ms right after a parallel 16k-element rounding, 0.04 ms on its own). A training step
alternates small roundings with small matmuls, so it runs its kernels serially and lets BLAS have the cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba


@contextmanager
def serial_kernels() -> Iterator[None]:
    """Within the block, numba parallel kernels run on the calling thread (``numba.set_num_threads(1)``, which is
    local to the calling thread); the previous thread count is restored afterwards."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(threads)
