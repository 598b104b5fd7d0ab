"""Running numba kernels (and BLAS) on the calling thread only.

On a 2-core machine numba's OpenMP pool and OpenBLAS's threads compete: after a parallel numba kernel its idle
threads spin for a few milliseconds, and a BLAS call made in that window waits for them (measured here: a 128x64 by
64x128 matmul took 8.5 ms right after a parallel 16k-element rounding, 0.04 ms on its own). A training step
alternates small roundings with small matmuls, so it runs its kernels serially.

BLAS itself is no better off with two threads on small matrices: on a 2-vCPU machine OpenBLAS's second thread made a
0.6 ms MLP step take 32 ms in about half of the processes measured (whole multiples of the 4 ms scheduler tick;
``benchmarks/bench_train.py``), and never made it faster. :func:`single_threaded` therefore also limits BLAS to one
thread, through threadpoolctl.

Outside such loops, one array decides by its size (:func:`threads_for`): below :data:`PARALLEL_MIN_SIZE` elements a
parallel kernel runs on the calling thread, because waking numba's pool costs more than the work.
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


PARALLEL_MIN_SIZE = 1 << 14
"""Below this many elements a parallel numba kernel runs on the calling thread (:func:`threads_for`): waking the
thread pool costs more than the work (3x on a 2-element rounding). Measured on 2 busy cores, the pool broke even at
about 16k elements for both a bf16 rounding and an Adam step and won from 24k on (8.4 vs 9.0 us and 13.2 vs 15.3 us);
formats used 16k and optim 32k before they shared this value."""


@contextmanager
def threads_for(size: int) -> Iterator[None]:
    """Within the block, parallel kernels over a ``size``-element array run on the calling thread when ``size`` is
    below :data:`PARALLEL_MIN_SIZE`, and on numba's pool otherwise. Inside :func:`serial_kernels` (one thread
    already, e.g. a training step) it changes nothing."""
    if size >= PARALLEL_MIN_SIZE or numba.get_num_threads() == 1:
        yield
        return
    with serial_kernels():
        yield


@cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()  # created on first use, not at import: it inspects the loaded libraries


@contextmanager
def single_threaded() -> Iterator[None]:
    """:func:`serial_kernels` plus BLAS limited to one thread (restored afterwards): for loops of small operations,
    such as a training step on the course's models."""
    with serial_kernels(), _blas_controller().limit(limits=1, user_api="blas"):
        yield
