"""The timing harness: call accounting, statistics against numpy, compile time measured on a fresh dispatcher.

No assertion here depends on how fast anything ran: only on how many calls were made and on the statistics of the
samples that were recorded.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from odyssey_lessons.perf import Timing, compile_time, format_seconds, measure


class _Counter:
    def __init__(self) -> None:
        self.calls = 0
        self.seen: list[tuple] = []

    def __call__(self, *args, **kwargs) -> None:
        self.calls += 1
        self.seen.append((args, kwargs))


def _autorange_sequence(stop: int) -> list[int]:
    """The numbers timeit's autorange tries, 1, 2, 5, 10, 20, 50, ..., up to ``stop``."""
    out, base = [], 1
    while True:
        for f in (1, 2, 5):
            out.append(base * f)
            if base * f == stop:
                return out
        base *= 10


@pytest.mark.parametrize("warmup", [0, 1, 3])
def test_fixed_number_makes_exactly_the_calls_it_reports(warmup):
    fn = _Counter()
    t = measure(fn, 1, 2, warmup=warmup, repeats=4, number=3, key="v")
    assert fn.calls == 1 + warmup + 4 * 3
    assert all(s == ((1, 2), {"key": "v"}) for s in fn.seen)
    assert t.number == 3 and len(t.samples) == 4


def test_autorange_calls_add_up():
    fn = _Counter()
    t = measure(fn, repeats=3, min_time=1e-4)
    calibration = sum(_autorange_sequence(t.number))
    assert fn.calls == 1 + 1 + calibration + 3 * t.number


def test_statistics_match_numpy():
    t = measure(np.sort, np.random.default_rng(0).random(2000), repeats=9, number=5)
    s = np.array(t.samples)
    assert t.median_s == pytest.approx(np.median(s))
    assert t.min_s == s.min() and t.max_s == s.max()
    assert t.iqr_s == pytest.approx(np.percentile(s, 75) - np.percentile(s, 25))
    assert t.spread == pytest.approx(t.iqr_s / t.median_s)
    assert t.compile_s == max(t.first_call_s - t.median_s, 0.0)
    assert t.min_s <= t.median_s <= t.max_s


def test_str_names_median_min_iqr_and_calls():
    t = Timing(median_s=1.23e-3, min_s=1.2e-3, max_s=1.3e-3, iqr_s=2e-5, samples=(1.2e-3,) * 7, number=100,
               first_call_s=0.5)  # fmt: skip
    assert str(t) == "1.23 ms (min 1.2 ms, IQR 20 µs, 7×100 calls)"
    assert t.compile_s == pytest.approx(0.5 - 1.23e-3)
    assert format_seconds(2.5) == "2.5 s" and format_seconds(4.2e-8) == "42 ns"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"repeats": 0}, ValueError),
        ({"repeats": 2.0}, TypeError),
        ({"number": 0}, ValueError),
        ({"warmup": -1}, ValueError),
        ({"warmup": 1.5}, TypeError),
        ({"min_time": 0}, ValueError),
        ({"min_time": "0.02"}, TypeError),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        measure(lambda: None, **kwargs)


def test_not_callable():
    with pytest.raises(TypeError, match="callable"):
        measure(42)


def _axpy(a, x, y):
    for i in range(x.size):
        y[i] += a * x[i]


def test_compile_time_compiles_a_fresh_copy_and_leaves_the_kernel_alone():
    kernel = numba.njit(_axpy)
    x, y = np.ones(8), np.zeros(8)
    seconds = compile_time(kernel, 2.0, x, y)
    assert seconds > 0
    assert kernel.signatures == []  # the original dispatcher compiled nothing
    kernel(2.0, x, y)
    np.testing.assert_array_equal(y, 2.0 * x)
    assert compile_time(kernel, 2.0, x, y) > 0  # compiled already: the fresh copy still compiles


def test_compile_time_rejects_plain_functions():
    with pytest.raises(TypeError, match="njit"):
        compile_time(_axpy, 1.0, np.ones(2), np.ones(2))
