"""Timing a function the careful way: warm-up, repeated samples, robust statistics, compile time kept apart.

A first call pays for things later calls do not: numba's JIT compile (or, with ``cache=True``, loading the compiled
code from disk), numpy's lazy imports, page faults on fresh memory, cold caches. :func:`measure` times that first call
on its own (``first_call_s``), makes ``warmup`` more untimed calls, then takes ``repeats`` samples of ``number`` calls
each. The median is the headline (robust to a stray slow sample when another process takes the core); the minimum is
the best the machine did; the interquartile range says how noisy the measurement was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from odyssey_lessons._validate import check_int, check_positive, check_positive_int

_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))


def format_seconds(seconds: float) -> str:
    """``0.00123 -> "1.23 ms"``: three significant digits in the largest unit that keeps the value >= 1."""
    for scale, unit in _UNITS:
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


@dataclass(frozen=True)
class Timing:
    """What :func:`measure` found; every time is seconds **per call**.

    Attributes:
        median_s, min_s, max_s: Statistics of ``samples``.
        iqr_s: Interquartile range of ``samples`` (75th minus 25th percentile).
        samples: Per-call seconds of each sample (a sample times ``number`` calls and divides by ``number``).
        number: Calls per sample.
        first_call_s: The very first call, timed alone (includes JIT compile or cache load, see ``compile_s``).
    """

    median_s: float
    min_s: float
    max_s: float
    iqr_s: float
    samples: tuple[float, ...]
    number: int
    first_call_s: float

    @property
    def compile_s(self) -> float:
        """``max(first_call_s - median_s, 0)``: what the first call cost beyond a warm call. For a numba kernel on
        its first use that is the JIT compile, or -- once ``cache=True`` has stored it on disk -- the cache load;
        use :func:`compile_time` for the compile alone."""
        return max(self.first_call_s - self.median_s, 0.0)

    @property
    def spread(self) -> float:
        """``iqr_s / median_s``: the relative noise of the measurement (robust: one outlier does not move it)."""
        return self.iqr_s / self.median_s if self.median_s > 0 else 0.0

    def __str__(self) -> str:
        return (
            f"{format_seconds(self.median_s)} (min {format_seconds(self.min_s)}, IQR {format_seconds(self.iqr_s)}, "
            f"{len(self.samples)}×{self.number} calls)"
        )


def _time_calls(fn: Callable[..., Any], args: tuple, kwargs: dict, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn(*args, **kwargs)
    return time.perf_counter() - t0


def _autorange(fn: Callable[..., Any], args: tuple, kwargs: dict, min_time: float) -> int:
    """Like ``timeit.Timer.autorange``: the first of 1, 2, 5, 10, 20, 50, ... calls that last >= ``min_time``."""
    base = 1
    while True:
        for factor in (1, 2, 5):
            number = base * factor
            if _time_calls(fn, args, kwargs, number) >= min_time:
                return number
        base *= 10


def measure(
    fn: Callable[..., Any],
    *args: Any,
    warmup: int = 1,
    repeats: int = 7,
    number: int | None = None,
    min_time: float = 0.02,
    **kwargs: Any,
) -> Timing:
    """Time ``fn(*args, **kwargs)``.

    The first call is timed alone (``first_call_s``); then ``warmup`` untimed calls; then, when ``number`` is None,
    calls per sample are chosen like ``timeit``'s autorange (1, 2, 5, 10, 20, 50, ... until a sample lasts at least
    ``min_time``: a sample of a few microseconds would mostly measure the timer); then ``repeats`` samples.

    Args:
        fn: The function to time; its result is discarded.
        warmup: Untimed calls after the first one (>= 0).
        repeats: Number of samples (>= 1).
        number: Calls per sample (>= 1), or None to choose it from ``min_time``.
        min_time: Seconds a sample should last at least when ``number`` is None (> 0).

    Returns:
        A :class:`Timing` with per-call statistics.

    Raises:
        TypeError: ``fn`` is not callable, a count is not an int, or ``min_time`` is not a number.
        ValueError: ``repeats`` or ``number`` < 1, ``warmup`` < 0, or ``min_time`` not positive and finite.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    repeats = check_positive_int("repeats", repeats)
    warmup = check_int("warmup", warmup, minimum=0)
    if number is not None:
        number = check_positive_int("number", number)
    min_time = check_positive("min_time", min_time)

    first = _time_calls(fn, args, kwargs, 1)
    for _ in range(warmup):
        fn(*args, **kwargs)
    if number is None:
        number = _autorange(fn, args, kwargs, min_time)
    samples = tuple(_time_calls(fn, args, kwargs, number) / number for _ in range(repeats))
    q25, q50, q75 = np.percentile(samples, [25, 50, 75])
    return Timing(
        median_s=float(q50),
        min_s=min(samples),
        max_s=max(samples),
        iqr_s=float(q75 - q25),
        samples=samples,
        number=number,
        first_call_s=first,
    )


def compile_time(dispatcher: Any, *args: Any) -> float:
    """Seconds numba takes to compile ``dispatcher`` for the types of ``args`` (nothing is run).

    Why not time the first call: the package's kernels use ``cache=True``, so after the very first session their
    first call *loads* machine code from the on-disk cache instead of compiling. Here a fresh dispatcher is built from
    the kernel's Python function with the same options but ``cache=False`` (``numba.njit(**options)(py_func)``) and
    ``dispatcher.compile(signature)`` is timed, with the signature from ``numba.typeof`` of each argument. Helper
    kernels it calls that are already compiled in this process are reused, not recompiled (as on a real first call).

    Raises:
        TypeError: ``dispatcher`` is not a numba ``@njit`` function, or an argument has no numba type.
    """
    import numba
    from numba.core.registry import CPUDispatcher

    if not isinstance(dispatcher, CPUDispatcher):
        raise TypeError(f"dispatcher must be a numba @njit function, got {type(dispatcher).__name__}")
    try:
        signature = tuple(numba.typeof(a) for a in args)
    except ValueError as err:
        raise TypeError(f"cannot type the arguments for numba: {err}") from err
    options = {k: v for k, v in dispatcher.targetoptions.items() if k not in ("cache", "nopython")}  # njit implies it
    fresh = numba.njit(cache=False, **options)(dispatcher.py_func)
    t0 = time.perf_counter()
    fresh.compile(signature)
    return time.perf_counter() - t0


def paired_speedup(baseline: list[float] | tuple[float, ...], contender: list[float] | tuple[float, ...]) -> dict:
    """How many times faster ``contender`` ran than ``baseline``, from per-round times of :func:`interleaved` (round
    ``i`` of both ran back to back, so each round gives one ratio ``baseline[i] / contender[i]``).

    Returns:
        ``{"median": ..., "low": ..., "high": ..., "rounds": n}``: the median of the per-round ratios and their
        smallest and largest -- the spread a re-run on the same machine can be expected to move within.

    Raises:
        ValueError: The two lists differ in length or are empty.
    """
    if len(baseline) != len(contender) or not len(baseline):
        raise ValueError(f"need paired rounds: got {len(baseline)} baseline and {len(contender)} contender times")
    ratios = np.asarray(baseline, dtype=float) / np.asarray(contender, dtype=float)
    return {"median": float(np.median(ratios)), "low": float(ratios.min()), "high": float(ratios.max()),
            "rounds": int(ratios.size)}  # fmt: skip
