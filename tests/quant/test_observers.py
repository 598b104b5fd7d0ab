"""Calibration observers against numpy (min/max, percentile), a hand-written EMA loop, and the min-max error."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.quant import (
    OBSERVERS,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MSEObserver,
    PercentileObserver,
    calc_qparams,
    choose_qparams,
    quantization_error,
)
from tests.reference_quant import ref_qparams, ref_ranges


def _batches(rng, n=3, shape=(5, 7)):
    return [(rng.standard_normal(shape) * (i + 1)).astype(np.float32) for i in range(n)]


@pytest.mark.parametrize("axis", [0, 1])
def test_minmax_per_channel_equals_numpy(rng, axis):
    xs = _batches(rng)
    obs = MinMaxObserver(bits=8, symmetric=False, granularity="channel", axis=axis)
    for x in xs:
        assert obs.observe(x) is obs
    stacked = np.stack(xs)
    lo, hi = obs.ranges()
    np.testing.assert_array_equal(lo, np.min(stacked, axis=(0, 2 - axis))[..., None].reshape(lo.shape))
    np.testing.assert_array_equal(hi, np.max(stacked, axis=(0, 2 - axis)).reshape(hi.shape))
    qp = obs.qparams()
    scale, zero = ref_qparams(lo, hi, 8, False)
    np.testing.assert_array_equal(qp.scale, scale)
    np.testing.assert_array_equal(qp.zero_point, zero)


def test_minmax_channels_accept_other_batch_sizes(rng):
    obs = MinMaxObserver(granularity="channel", axis=1)
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((9, 4)).astype(np.float32)
    lo, hi = obs.observe(a).observe(b).ranges()
    both = np.concatenate([a, b])
    np.testing.assert_array_equal(lo, both.min(axis=0, keepdims=True))
    np.testing.assert_array_equal(hi, both.max(axis=0, keepdims=True))


def test_minmax_group(rng):
    x = rng.standard_normal((4, 8)).astype(np.float32)
    lo, hi = MinMaxObserver(granularity="group", axis=1, group_size=4).observe(x).ranges()
    rlo, rhi = ref_ranges(x, "group", 1, 4)
    np.testing.assert_array_equal(lo, rlo)
    np.testing.assert_array_equal(hi, rhi)


@pytest.mark.parametrize("c", [0.01, 0.3, 1.0])
def test_moving_average_equals_ema_loop(rng, c):
    xs = _batches(rng, n=5)
    obs = MovingAverageMinMaxObserver(averaging_constant=c, granularity="channel", axis=0)
    lo_ref = hi_ref = None
    for x in xs:
        obs.observe(x)
        new_lo, new_hi = [float(v) for v in x.min(axis=1)], [float(v) for v in x.max(axis=1)]
        if lo_ref is None:
            lo_ref, hi_ref = new_lo, new_hi
        else:
            lo_ref = [m + c * (n - m) for m, n in zip(lo_ref, new_lo, strict=True)]
            hi_ref = [m + c * (n - m) for m, n in zip(hi_ref, new_hi, strict=True)]
    lo, hi = obs.ranges()
    np.testing.assert_allclose(lo.ravel(), lo_ref, rtol=1e-12)
    np.testing.assert_allclose(hi.ravel(), hi_ref, rtol=1e-12)


@pytest.mark.parametrize("symmetric", [True, False])
def test_percentile_equals_numpy(rng, symmetric):
    xs = _batches(rng, shape=(200, 3))
    obs = PercentileObserver(percentile=99.0, symmetric=symmetric, granularity="channel", axis=1)
    for x in xs:
        obs.observe(x)
    data = np.concatenate(xs).astype(np.float64)
    lo, hi = obs.ranges()
    if symmetric:
        np.testing.assert_allclose(hi.ravel(), np.percentile(np.abs(data), 99.0, axis=0))
        np.testing.assert_array_equal(lo, -hi)
    else:
        np.testing.assert_allclose(lo.ravel(), np.percentile(data, 1.0, axis=0))
        np.testing.assert_allclose(hi.ravel(), np.percentile(data, 99.0, axis=0))


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("bits", [3, 4, 8])
def test_mse_observer_beats_minmax_on_heavy_tails(rng, symmetric, bits):
    x = rng.standard_t(df=2, size=(8, 256)).astype(np.float32)
    kw = dict(bits=bits, symmetric=symmetric, granularity="channel", axis=0)
    mse_err = quantization_error(x, choose_qparams(x, observer="mse", **kw))["mse"]
    minmax_err = quantization_error(x, choose_qparams(x, observer="minmax", **kw))["mse"]
    assert mse_err <= minmax_err
    if bits <= 4:  # with heavy tails, clipping wins clearly at low bit widths
        assert mse_err < minmax_err
    # the chosen range is the best on the grid: check it per channel against a brute-force search
    obs = MSEObserver(n_grid=20, **kw).observe(x)
    lo, hi = obs.ranges()
    for ch in range(x.shape[0]):
        row = x[ch : ch + 1]
        errs = []
        for i in range(20):
            a = 1 - i / 20
            qp = calc_qparams(a * row.min(), a * row.max(), bits=bits, symmetric=symmetric)
            errs.append((quantization_error(row, qp)["mse"], a))
        best = min(errs, key=lambda e: e[0])[1]
        assert lo.ravel()[ch] == pytest.approx(best * row.min()) and hi.ravel()[ch] == pytest.approx(best * row.max())


@pytest.mark.parametrize("name", sorted(OBSERVERS))
def test_observer_errors(rng, name):
    cls = OBSERVERS[name]
    with pytest.raises(ValueError, match="empty calibration data"):
        cls().qparams()
    with pytest.raises(ValueError, match="empty calibration data"):
        cls().observe(np.zeros((0, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="bits"):
        cls(bits=9)
    with pytest.raises(ValueError, match="granularity"):
        cls(granularity="rows")
    with pytest.raises(ValueError, match="axis"):
        cls(granularity="channel", axis=3).observe(np.ones((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="group_size=3"):
        cls(granularity="group", axis=0, group_size=3).observe(np.ones((4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="finite"):
        cls().observe(np.array([1.0, np.nan], dtype=np.float32))
    with pytest.raises(TypeError, match="x"):
        cls().observe([1.0, 2.0])
    obs = cls(granularity="channel", axis=1).observe(rng.standard_normal((3, 4)).astype(np.float32))
    with pytest.raises(ValueError, match="earlier calls"):
        obs.observe(rng.standard_normal((3, 5)).astype(np.float32))


def test_observer_hyperparameter_errors():
    with pytest.raises(ValueError, match="averaging_constant"):
        MovingAverageMinMaxObserver(averaging_constant=0.0)
    with pytest.raises(ValueError, match="percentile"):
        PercentileObserver(percentile=40)
    with pytest.raises(ValueError, match="n_grid"):
        MSEObserver(n_grid=0)
