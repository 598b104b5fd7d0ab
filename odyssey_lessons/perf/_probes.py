"""Probes of the learner's own machine: memory bandwidth (STREAM), matrix-multiply peak (BLAS), and provenance.

These give the two roofs of a roofline plot on *this* machine, measured rather than read from a datasheet.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np

from odyssey_lessons._threads import single_threaded
from odyssey_lessons._validate import check_positive_int
from odyssey_lessons.perf import _kernels

STREAM_BYTES_PER_ELEMENT = {"copy": 16, "scale": 16, "add": 24, "triad": 24}
"""STREAM's convention: float64 values, each array read or written once (copy/scale 2 arrays, add/triad 3)."""


def _best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: JIT compile or cache load, first touch of the pages
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def stream_bandwidth(n: int = 2_000_000, repeats: int = 5) -> dict[str, float]:
    """Sustained memory bandwidth in GB/s (1e9 bytes/s) from the four STREAM kernels on float64 arrays of ``n``.

    The kernels are single-threaded numba loops (one pass each, unlike numpy, whose triad needs two passes and a
    temporary), so this is what one core can pull from memory -- the roof for the course's single-threaded
    training step. As in STREAM, the best of ``repeats`` runs is reported and bytes are counted per
    :data:`STREAM_BYTES_PER_ELEMENT`. Pick ``n`` so the three arrays (``24 n`` bytes) exceed the last-level cache;
    the default (48 MB) does on most laptops; a small ``n`` measures cache bandwidth instead.

    Returns:
        ``{"copy": GB/s, "scale": ..., "add": ..., "triad": ...}``.

    Raises:
        TypeError, ValueError: ``n`` or ``repeats`` not an int >= 1.
    """
    n = check_positive_int("n", n)
    repeats = check_positive_int("repeats", repeats)
    a = np.full(n, 1.0)
    b = np.full(n, 2.0)
    c = np.zeros(n)
    s = 3.0
    runs = {
        "copy": lambda: _kernels.stream_copy(a, c),
        "scale": lambda: _kernels.stream_scale(b, c, s),
        "add": lambda: _kernels.stream_add(a, b, c),
        "triad": lambda: _kernels.stream_triad(a, b, c, s),
    }
    return {name: STREAM_BYTES_PER_ELEMENT[name] * n / _best_seconds(fn, repeats) / 1e9 for name, fn in runs.items()}


def peak_gflops(
    n: int = 1024, dtype: type | np.dtype = np.float32, repeats: int = 3, *, threads: str = "default"
) -> float:
    """Matrix-multiply throughput in GFLOP/s: the best of ``repeats`` ``numpy.matmul`` calls on (n, n) matrices,
    counting ``2 n^3`` FLOPs (a multiply-add is 2). This is BLAS, the practical compute roof, usually somewhat under
    the CPU's theoretical peak.

    Args:
        threads: ``"default"``: BLAS's own thread setting (all cores unless limited). ``"single"``: one thread, under
            :func:`odyssey_lessons.perf.single_threaded` -- the roof for a ``perf.profile(threads="single")``
            profile, which is how ``train.fit`` runs.

    Raises:
        TypeError, ValueError: ``n`` or ``repeats`` not an int >= 1, ``dtype`` not float32/float64, or a bad
            ``threads``.
    """
    n = check_positive_int("n", n)
    repeats = check_positive_int("repeats", repeats)
    if threads not in ("default", "single"):
        raise ValueError(f"threads must be 'default' or 'single', got threads={threads!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got dtype={dtype}")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    with single_threaded() if threads == "single" else contextlib.nullcontext():
        seconds = _best_seconds(lambda: np.matmul(a, b, out=out), repeats)
    return 2.0 * n**3 / seconds / 1e9


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """Provenance for measurements: CPU model, logical cores, Python/numpy/numba versions, the BLAS numpy uses
    (from threadpoolctl: library, version, threads, architecture), the native paths this CPU takes (``native``: the
    CPU numba compiles for, its VNNI/BF16 features, and the int8 GEMM and bf16 matmul paths ``"auto"`` picks) and
    the UTC date."""
    import numba
    from threadpoolctl import threadpool_info

    from odyssey_lessons.native import bf16_matmul_path, cpu_features, target_cpu
    from odyssey_lessons.quant import available_int8_paths

    blas = [
        {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "blas": blas,
        "native": {
            "target_cpu": target_cpu(),
            "features": cpu_features(),
            "int8_gemm": available_int8_paths()[0],
            "bf16_matmul": bf16_matmul_path(),
        },
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
