"""Running numba kernels (and BLAS) on the calling thread only.

On a 2-core machine numba's OpenMP pool and OpenBLAS's threads compete: after a parallel numba kernel its idle
threads spin for a few milliseconds, and a BLAS call made in that window waits for them (measured here: a 128x64 by
64x128 matmul took 8.5 ms right after a parallel 16k-element rounding, 0.04 ms on its own). A training step
alternates small roundings with small matmuls, so it runs its kernels serially.

BLAS itself is no better off with two threads on small matrices: on a 2-vCPU machine OpenBLAS's second thread made a
0.6 ms MLP step take 32 ms in about half of the processes measured (whole multiples of the 4 ms scheduler tick;
``benchmarks/bench_train.py``), and never made it faster. :func:`single_threaded` therefore also limits BLAS to one
thread, through threadpoolctl.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import numba
from threadpoolctl import ThreadpoolController


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


@cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()  # created on first use, not at import: it inspects the loaded libraries


@contextmanager
def single_threaded() -> Iterator[None]:
    """:func:`serial_kernels` plus BLAS limited to one thread (restored afterwards): for loops of small operations,
    such as a training step on the course's models."""
    with serial_kernels(), _blas_controller().limit(limits=1, user_api="blas"):
        yield
