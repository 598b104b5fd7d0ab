"""The loss-scale sweep: its numbers against independent recomputations, and the widget driven through its controls."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.optim import adam
from odyssey_lessons.studies import SweepSetup, initial_gradients, loss_scale_point
from odyssey_lessons.train import PrecisionPolicy, StaticScaler, fit, gradient_stats
from odyssey_lessons.widgets import GRAD_FORMATS, LossScaleSweep

SMALL = SweepSetup(n_train=128, epochs=2, batch_size=64)


@pytest.mark.parametrize("fmt", GRAD_FORMATS)
def test_point_shares_match_gradient_stats(fmt):
    g = initial_gradients(SMALL).astype(np.float64)
    for k in (0, 8, 16, 24):
        point = loss_scale_point(k, fmt, SMALL)
        stats = gradient_stats((g * 2.0**k).astype(np.float32), fmt)
        assert (point.underflow, point.overflow) == (stats.underflow_fraction, stats.overflow_fraction)
        live = g[g != 0] * 2.0**k
        assert point.hist_counts.sum() == np.count_nonzero(
            (np.log2(np.abs(live)) >= point.hist_edges[0]) & (np.log2(np.abs(live)) <= point.hist_edges[-1])
        )


def test_point_history_is_a_real_fit_run():
    point = loss_scale_point(10, "e5m2", SMALL)
    train, val = SMALL.data()
    fresh = fit(
        SMALL.model(),
        train,
        val=val,
        optimizer=adam(SMALL.lr),
        epochs=SMALL.epochs,
        batch_size=SMALL.batch_size,
        policy=PrecisionPolicy("p", "bf16", "bf16", "e5m2"),
        scaler=StaticScaler(2.0**10),
        seed=SMALL.seed,
    )
    for key in fresh.step:
        np.testing.assert_array_equal(point.history.step[key], fresh.step[key], err_msg=key)
    np.testing.assert_array_equal(point.history.epoch["val_acc"], fresh.epoch["val_acc"])


def test_underflow_falls_as_the_scale_grows_and_the_top_scale_skips_steps():
    shares = [loss_scale_point(k, "e5m2", SMALL).underflow for k in range(0, 25, 4)]
    assert all(a >= b for a, b in zip(shares, shares[1:], strict=False)) and shares[0] > shares[-1]
    top = loss_scale_point(24, "fp16", SMALL)
    assert top.history.skipped_steps > 0
    assert top.log2_range == pytest.approx((-24.0, -14.0, np.log2(65504.0)))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="log2_scale"):
        loss_scale_point(25, "fp16", SMALL)
    with pytest.raises(TypeError, match="log2_scale=1.5"):  # a wrong type, as everywhere in the package
        loss_scale_point(1.5, "fp16", SMALL)
    with pytest.raises(ValueError, match="unknown format"):
        loss_scale_point(3, "fp12", SMALL)
    with pytest.raises(ValueError, match="grad_format"):
        LossScaleSweep(grad_format="e2m1fn", setup=SMALL, draw=False)


def test_widget_follows_its_controls():
    sweep = LossScaleSweep(log2_scale=0, grad_format="e5m2", setup=SMALL, draw=True)
    assert sweep.state.log2_scale == 0 and sweep.state.grad_format == "e5m2"
    sweep.log2_scale.value = 12
    assert sweep.state is loss_scale_point(12, "e5m2", SMALL)
    assert "2<sup>12</sup>" in sweep.readout.value
    sweep.grad_format.value = "fp16"
    assert sweep.state.grad_format == "fp16" and sweep.state.log2_scale == 12
    assert f"{100 * sweep.state.underflow:.2f}%" in sweep.readout.value
    (png,) = sweep.plot.outputs
    assert png["data"]["image/png"] and "2^12, fp16" in png["data"]["text/plain"]
    assert sweep.seconds >= 0
