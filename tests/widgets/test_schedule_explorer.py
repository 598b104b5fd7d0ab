"""The LR range test, schedule runs and the schedule explorer widget, against independent recomputations."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons import nn, optim
from odyssey_lessons.data import digits_task
from odyssey_lessons.schedules import SCHEDULES, example_schedules, exponential
from odyssey_lessons.studies import schedule_run, steps_per_epoch
from odyssey_lessons.train import fit, lr_range_test, smooth_losses
from odyssey_lessons.widgets import ScheduleExplorer


def small_task():
    x, y = digits_task("mlp").train
    return x[:256], y[:256]


def test_range_test_lrs_are_geometric_and_losses_come_from_a_fit_run():
    train = small_task()
    result = lr_range_test(nn.mlp((64, 16, 10), rng=np.random.default_rng(0)), train,
                           optimizer=lambda lr: optim.sgd(lr, momentum=0.9), lr_min=1e-3, lr_max=1.0, steps=24,
                           batch_size=32, seed=3)  # fmt: skip
    np.testing.assert_allclose(result.lrs, np.geomspace(1e-3, 1.0, 24), rtol=1e-9)
    gamma = (1.0 / 1e-3) ** (1 / 23)
    again = fit(
        nn.mlp((64, 16, 10), rng=np.random.default_rng(0)),
        train,
        optimizer=optim.sgd(exponential(1e-3, gamma=gamma), momentum=0.9),
        epochs=3,
        batch_size=32,
        seed=3,
    )
    finite = np.isfinite(result.losses)
    np.testing.assert_array_equal(result.losses[finite], again.step["loss"][:24][finite])
    assert result.lrs[0] <= result.steepest_lr <= result.lrs[-1]
    assert result.min_loss_lr == result.lrs[int(np.argmin(result.smoothed[: result.diverged_at]))]


def test_smooth_losses_is_the_bias_corrected_ema():
    losses = np.array([4.0, 2.0, 1.0, 3.0])
    beta, avg, want = 0.9, 0.0, []
    for t, v in enumerate(losses):
        avg = beta * avg + (1 - beta) * v
        want.append(avg / (1 - beta ** (t + 1)))
    np.testing.assert_allclose(smooth_losses(losses), want, rtol=1e-15)


def test_range_test_rejects_bad_arguments():
    train = small_task()
    model = nn.mlp((64, 8, 10), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="lr_min"):
        lr_range_test(model, train, optimizer=optim.sgd, lr_min=1.0, lr_max=0.1)
    with pytest.raises(ValueError, match="steps"):
        lr_range_test(model, train, optimizer=optim.sgd, steps=3)
    with pytest.raises(TypeError, match="optimizer"):
        lr_range_test(model, train, optimizer=lambda lr: lr, steps=10)


def test_schedule_run_is_a_real_fit_with_the_example_schedule():
    run = schedule_run("one_cycle", peak_lr=0.05, epochs=1, seed=2)
    total = steps_per_epoch()
    sched = example_schedules(max(total, 40), lr=0.05)["one_cycle"]
    np.testing.assert_array_equal(run.lrs, sched(np.arange(total)))
    np.testing.assert_allclose(run.history.step["lr"], run.lrs, rtol=1e-6)
    task = digits_task("mlp")
    fresh = fit(nn.mlp((64, 128, 10), rng=np.random.default_rng(2)), task.train, val=task.val,
                optimizer=optim.sgd(sched, momentum=0.9), epochs=1, batch_size=64, seed=2)  # fmt: skip
    np.testing.assert_array_equal(run.history.step["loss"], fresh.step["loss"])
    with pytest.raises(ValueError, match="unknown schedule"):
        schedule_run("cosinus")
    with pytest.raises(ValueError, match="peak_lr"):
        schedule_run("cosine", peak_lr=0.0)
    with pytest.raises(ValueError, match="epochs"):
        schedule_run("cosine", epochs=0)


def test_explorer_follows_its_controls():
    explorer = ScheduleExplorer(schedule="constant", peak_lr=0.1, epochs=1)
    assert explorer.state.name == "constant" and np.all(explorer.state.lrs == 0.1)
    explorer.schedule.value = "cosine"
    assert explorer.state is schedule_run("cosine", peak_lr=0.1, epochs=1)
    explorer.peak_lr.value = 0.01
    assert explorer.state.lrs.max() == pytest.approx(0.01)
    assert "cosine(lr=0.01" in explorer.readout.value
    (png,) = explorer.plot.outputs
    assert png["data"]["image/png"]
    assert set(explorer.schedule.options) == set(SCHEDULES)
    with pytest.raises(ValueError, match="unknown schedule"):
        ScheduleExplorer(schedule="nope", draw=False)
