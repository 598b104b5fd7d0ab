"""Timing contenders in turn: the one harness behind every comparison of speeds in the course (the lessons through
:func:`odyssey_lessons.perf.interleaved`, the benchmarks, :func:`odyssey_lessons.native.bf16_matmul_speed`)."""

from __future__ import annotations

import time
from collections.abc import Callable


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, *, warmup: int = 1, min_time: float = 0.0
) -> dict[str, list[float]]:
    """Per-call wall times of each function, calling them in turn ``repeats`` times after ``warmup`` calls each.

    Taking turns makes a contender and its baseline see the same machine load, which on a shared 2-core machine
    drifts more between seconds than the differences being measured; the warm-up calls take compilation, cache loads
    and first page faults out of the timed rounds. With ``min_time`` > 0, each sample repeats a call until it lasts
    at least that long (calls of microseconds are otherwise below the timer's resolution) and records the time per
    call. Round ``i`` of every function ran back to back, so ratios can be taken round by round (paired).
    """
    loops = {}
    for k, fn in fns.items():
        for _ in range(warmup):
            fn()
        n, t0 = 0, time.perf_counter()
        while n == 0 or time.perf_counter() - t0 < min_time:
            fn()
            n += 1
        loops[k] = n if min_time > 0 else 1
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(loops[k]):
                fn()
            times[k].append((time.perf_counter() - t0) / loops[k])
    return times
