"""The training step's fused kernels against the numpy passes they replace."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.formats import quantize
from odyssey_lessons.train._kernels import store_cast_counting


@pytest.mark.parametrize("fmt", ["fp16", "bf16", "e5m2", "e4m3fn", "e2m1fn"])
def test_store_cast_counting_equals_the_numpy_passes(fmt, rng):
    g = (rng.standard_normal(5000) * np.exp2(rng.uniform(-30, 20, 5000))).astype(np.float32)
    g[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45]
    with np.errstate(over="ignore", invalid="ignore"):
        q = quantize(g, fmt)
    finite = np.isfinite(g)
    live = finite & (g != 0)
    expected = (np.count_nonzero(live), np.count_nonzero(live & (q == 0)), np.count_nonzero(finite & ~np.isfinite(q)))
    stored = g.copy()
    assert store_cast_counting(stored, q) == expected
    np.testing.assert_array_equal(stored, q)
    assert expected[1] > 0  # the sample reaches below each format's smallest value


def test_amax_bits_and_the_fused_delayed_cast(rng):
    from odyssey_lessons.formats import FORMATS
    from odyssey_lessons.train import fake_quantize_scaled
    from odyssey_lessons.train._fp8 import _amax, fake_quantize_scaled_amax

    x = (rng.standard_normal(3000) * np.exp2(rng.uniform(-40, 40, 3000))).astype(np.float32)
    assert _amax(x) == float(np.max(np.abs(x)))
    assert _amax(np.zeros(0, np.float32)) == 0.0 and _amax(-np.ones(3, np.float32)) == 1.0
    for special in (np.nan, -np.nan, np.inf, -np.inf):
        y = x.copy()
        y[17] = special
        assert np.isnan(_amax(y)) if np.isnan(special) else _amax(y) == np.inf
    for fmt in ("e4m3fn", "e5m2"):
        out, amax = fake_quantize_scaled_amax(x, FORMATS[fmt], 3.0)
        np.testing.assert_array_equal(out, fake_quantize_scaled(x, fmt, 3.0))
        assert amax == float(np.max(np.abs(x)))
