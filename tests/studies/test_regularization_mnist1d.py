"""Lesson 5's MNIST-1D study: runs that pair up by seed, cached, validated, and arms over shared seeds."""

import numpy as np
import pytest

from odyssey_lessons.studies import (
    MNIST1D_ARMS,
    Mnist1dRegSetup,
    mnist1d_regularization_arms,
    mnist1d_regularization_run,
)

TINY = Mnist1dRegSetup(n_train=100, n_val=100, n_test=300, width=16, epochs=2, batch_size=50)


def test_run_measures_on_the_generated_splits():
    run = mnist1d_regularization_run(dropout=0.2, l2=0.01, seed=1, setup=TINY)
    assert (run.dropout, run.l2, run.seed) == (0.2, 0.01, 1)
    assert all(0 <= a <= 1 for a in (run.train_acc, run.val_acc, run.test_acc))
    assert run.test_right == round(run.test_acc * TINY.n_test) and run.seconds > 0
    task = TINY.task()
    assert [len(y) for _, y in (task.train, task.val, task.test)] == [100, 100, 300]
    assert task.train[0].shape == (100, 40) and task.test[0].dtype == np.float32
    assert TINY.steps == 4 and Mnist1dRegSetup().steps == 400


def test_runs_are_cached_and_deterministic():
    a = mnist1d_regularization_run(l2=0.01, seed=2, setup=TINY)
    assert mnist1d_regularization_run(l2=0.01, seed=2, setup=TINY) is a
    fresh = mnist1d_regularization_run(l2=0.010000001, seed=2, setup=TINY)  # rounds to the same cached run
    assert fresh is a


def test_arms_share_initial_weights():
    """Paired seeds: dropout adds layers without parameters, so every arm starts from the same weights."""
    plain = list(TINY.model(3).params().values())
    dropped = list(TINY.model(3, dropout=0.3).params().values())
    assert len(plain) == len(dropped) and all(np.array_equal(a, b) for a, b in zip(plain, dropped, strict=True))


def test_arms_run_every_seed_in_order():
    arms = mnist1d_regularization_arms([0, 1], dropout=0.3, l2=0.02, setup=TINY)
    assert tuple(arms) == MNIST1D_ARMS
    assert [r.seed for r in arms["both"]] == [0, 1]
    assert {(r.dropout, r.l2) for arm in MNIST1D_ARMS for r in arms[arm]} == {
        (0.0, 0.0), (0.3, 0.0), (0.0, 0.02), (0.3, 0.02)
    }  # fmt: skip
    assert arms["none"][0] is mnist1d_regularization_run(seed=0, setup=TINY)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dropout": 0.9}, ValueError, "dropout must be .*, got dropout=0.9"),
        ({"l2": -0.1}, ValueError, "l2 must be .*, got l2=-0.1"),
        ({"l2": float("nan")}, ValueError, "l2 must be .*, got l2=nan"),
        ({"dropout": True}, TypeError, "dropout must be a real number, got dropout=True"),
    ],
)
def test_rejects_strengths_out_of_range(kwargs, error, match):
    with pytest.raises(error, match=match):
        mnist1d_regularization_run(setup=TINY, **kwargs)


def test_arms_need_a_seed():
    with pytest.raises(ValueError, match="at least one seed"):
        mnist1d_regularization_arms([], setup=TINY)


def test_arms_report_progress_through_the_callable_they_are_given():
    seen = []

    def progress(jobs):
        seen.extend(jobs)
        return iter(jobs)

    arms = mnist1d_regularization_arms([0], setup=TINY, progress=progress)
    assert seen == [(arm, 0) for arm in arms]
    with pytest.raises(TypeError, match="progress must be a callable"):
        mnist1d_regularization_arms([0], setup=TINY, progress=True)
