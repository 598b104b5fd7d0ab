"""Machine probes: the STREAM kernels compute what STREAM defines (checked against numpy), the reported rates are
finite and positive (their size depends on the machine, so no number is asserted), and provenance names the
libraries actually loaded."""

from __future__ import annotations

import datetime
import math
import os

import numba
import numpy as np
import pytest

from odyssey_lessons.perf import STREAM_BYTES_PER_ELEMENT, _kernels, machine_info, peak_gflops, stream_bandwidth


def test_stream_kernels_against_numpy(rng):
    n, s = 1000, 3.0
    a, b, c = rng.random(n), rng.random(n), rng.random(n)
    out = np.empty(n)
    _kernels.stream_copy(a, out)
    np.testing.assert_array_equal(out, a)
    _kernels.stream_scale(out, c, s)
    np.testing.assert_array_equal(out, s * c)
    _kernels.stream_add(a, b, out)
    np.testing.assert_array_equal(out, a + b)
    _kernels.stream_triad(out, b, c, s)
    np.testing.assert_array_equal(out, b + s * c)


def test_stream_bandwidth_reports_the_four_kernels():
    result = stream_bandwidth(n=50_000, repeats=2)
    assert set(result) == set(STREAM_BYTES_PER_ELEMENT) == {"copy", "scale", "add", "triad"}
    assert all(math.isfinite(v) and v > 0 for v in result.values())
    # STREAM counts each array once: two arrays for copy/scale, three for add/triad, 8 bytes each
    assert STREAM_BYTES_PER_ELEMENT == {"copy": 2 * 8, "scale": 2 * 8, "add": 3 * 8, "triad": 3 * 8}


@pytest.mark.parametrize(("dtype", "threads"), [(np.float32, "default"), (np.float64, "single")])
def test_peak_gflops_is_positive(dtype, threads):
    g = peak_gflops(n=64, dtype=dtype, repeats=2, threads=threads)
    assert math.isfinite(g) and g > 0


@pytest.mark.parametrize(
    ("fn", "kwargs", "error"),
    [
        (stream_bandwidth, {"n": 0}, ValueError),
        (stream_bandwidth, {"repeats": 0}, ValueError),
        (stream_bandwidth, {"n": 1.5}, TypeError),
        (peak_gflops, {"n": -1}, ValueError),
        (peak_gflops, {"dtype": np.int32}, ValueError),
        (peak_gflops, {"threads": 4}, ValueError),
    ],
)
def test_bad_arguments(fn, kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        fn(**kwargs)


def test_machine_info_is_provenance():
    info = machine_info()
    assert info["logical_cores"] == os.cpu_count()
    assert info["numpy"] == np.__version__ and info["numba"] == numba.__version__
    assert isinstance(info["cpu"], str) and info["cpu"]
    assert isinstance(info["blas"], list)
    date = datetime.datetime.fromisoformat(info["date_utc"])
    assert date.utcoffset() == datetime.timedelta(0)
