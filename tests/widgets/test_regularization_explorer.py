"""The regularization study and its widget: every value is a real fit run of the overfitting setting."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons import optim
from odyssey_lessons.data import digits_task
from odyssey_lessons.studies import REGULARIZERS, RegSetup, regularization_run
from odyssey_lessons.train import evaluate, fit
from odyssey_lessons.widgets import RegularizationExplorer

TINY = RegSetup(n_train=64, width=32, epochs=3, batch_size=32)


def test_run_is_a_real_fit_with_the_named_regularizer():
    run = regularization_run("l2", 0.02, seed=1, setup=TINY)
    task = digits_task("mlp")
    model = TINY.model(1)
    fresh = fit(model, (task.train[0][:64], task.train[1][:64]), val=task.val, optimizer=optim.adam(TINY.lr),
                epochs=3, batch_size=32, l2=0.02, seed=1)  # fmt: skip
    np.testing.assert_array_equal(run.history.epoch["val_loss"], fresh.epoch["val_loss"])
    assert run.test_acc == evaluate(model, *task.test)[1]
    assert run.gap == pytest.approx(fresh.epoch["train_acc"][-1] - fresh.epoch["val_acc"][-1])


@pytest.mark.parametrize("name", list(REGULARIZERS))
def test_every_regularizer_runs_and_changes_training_unless_none(name):
    _, (lo, hi), typical = REGULARIZERS[name]
    assert lo <= typical <= hi
    run = regularization_run(name, typical, setup=TINY)
    base = regularization_run("none", 0.0, setup=TINY)
    assert np.isfinite(run.history.epoch["val_loss"]).all()
    if name not in ("none", "early_stopping"):  # early stopping may not trigger in 3 epochs
        assert not np.array_equal(run.history.epoch["train_loss"], base.history.epoch["train_loss"])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown regularizer"):
        regularization_run("mixup", 0.1, setup=TINY)
    with pytest.raises(ValueError, match="strength"):
        regularization_run("dropout", 0.95, setup=TINY)
    with pytest.raises(ValueError, match="unknown regularizer"):
        RegularizationExplorer(regularizer="mixup", setup=TINY, draw=False)


def test_explorer_follows_its_controls():
    w = RegularizationExplorer(regularizer="dropout", setup=TINY)
    assert w.state is regularization_run("dropout", REGULARIZERS["dropout"][2], setup=TINY)
    w.regularizer.value = "l2"
    assert w.strength.value == REGULARIZERS["l2"][2] and w.state.regularizer == "l2"
    w.strength.value = 0.03
    assert w.state is regularization_run("l2", 0.03, setup=TINY)
    assert "l2 = 0.03" in w.readout.value
    w.regularizer.value = "none"
    assert w.strength.disabled and w.state.regularizer == "none"
    w.regularizer.value = "weight_decay"  # from a (0, 0) range to (0, 2): the slider bounds must follow
    assert (w.strength.min, w.strength.max) == REGULARIZERS["weight_decay"][1]
    (png,) = w.plot.outputs
    assert png["data"]["image/png"]
