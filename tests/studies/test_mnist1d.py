"""The MNIST-1D study (odyssey_lessons.studies._mnist1d): each arm at its own best learning rate, on shared seeds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from odyssey_lessons.studies import at_best_lr, mnist1d_split, optimizer_study, schedule_study
from odyssey_lessons.studies._mnist1d import TEST, TRAIN, VAL, _run, optimizer_run_1d, schedule_run_1d

# a made-up validation accuracy per (arm, lr): "a" is best at 0.2, "b" at 0.1 (its grid's low edge)
VAL_ACC = {("a", 0.1): 0.5, ("a", 0.2): 0.7, ("a", 0.4): 0.6, ("b", 0.1): 0.9, ("b", 0.2): 0.8}


@dataclass
class FakeRun:
    arm: str
    lr: float
    seed: int
    val_acc: float
    test_acc: float


def fake_run(arm: str, lr: float, seed: int) -> FakeRun:
    return FakeRun(arm, lr, seed, VAL_ACC[(arm, lr)] + 0.01 * seed, VAL_ACC[(arm, lr)] - 0.01 * seed)


def test_at_best_lr_selects_on_validation_and_shares_the_seeds():
    calls = []
    result = at_best_lr(fake_run, {"a": (0.1, 0.2, 0.4), "b": (0.1, 0.2)}, seeds=4, select_seeds=2,
                        on_run=lambda: calls.append(1))  # fmt: skip
    assert result.best_lr == {"a": 0.2, "b": 0.1}
    assert result.val_grid["a"] == pytest.approx({0.1: 0.505, 0.2: 0.705, 0.4: 0.605})
    for arm, lr in result.best_lr.items():
        assert [(r.lr, r.seed) for r in result.runs[arm]] == [(lr, s) for s in range(4)]
    assert len(calls) == (3 + 2) * 2 + 2 * (4 - 2)  # the grid on two seeds, then two more seeds per arm
    assert np.allclose(result.test_points("a"), [70, 69, 68, 67])
    assert result.val_points("b") == pytest.approx(100 * np.mean([0.9, 0.91, 0.92, 0.93]))
    assert not result.at_grid_edge("a") and result.at_grid_edge("b")


@pytest.mark.parametrize(("kwargs", "match"), [(dict(seeds=2, select_seeds=3), "select_seeds"),
                                               (dict(seeds=0), "select_seeds")])  # fmt: skip
def test_at_best_lr_refuses_bad_seeds(kwargs, match):
    with pytest.raises(ValueError, match=match):
        at_best_lr(fake_run, {"a": (0.1,)}, **kwargs)
    with pytest.raises(ValueError, match="non-empty grid"):
        at_best_lr(fake_run, {"a": ()}, seeds=1)


def test_the_split_has_the_announced_sizes():
    for layout, shape in (("mlp", (40,)), ("cnn", (1, 40))):
        task = mnist1d_split(layout)
        assert [len(part[1]) for part in task] == [TRAIN, VAL, TEST]
        assert task.train[0].shape[1:] == shape and task.train[0].dtype == np.float32


def test_a_run_is_cached_deterministic_and_learns():
    a = schedule_run_1d("warmup_cosine", 0.2, seed=3, epochs=1)
    assert schedule_run_1d("warmup_cosine", 0.2, seed=3, epochs=1) is a  # cached: the lesson asks twice
    assert a.steps == TRAIN // 100 and a.seed == 3 and a.arm == "warmup_cosine"
    assert a.val_acc > 0.2 and 0.2 < a.test_acc < 1  # ten classes: chance is 0.1
    b = optimizer_run_1d("adam", 0.01, seed=3, epochs=1, channels=4)
    assert b.layout == "cnn" and b.val_acc > 0.15


def test_a_seed_fixes_the_run():
    """Runs with one seed start from the same weights and see the same batches, so they pair: recomputing a run
    (bypassing the cache) gives the same model, and another seed another one."""
    a = schedule_run_1d("constant", 0.05, seed=1, epochs=1)
    again = _run.__wrapped__("mlp", 100, "sgd+momentum", "constant", 0.05, 1, 1, "constant")
    for k, w in a.model.params().items():
        assert np.array_equal(w, again.model.params()[k])
    other = schedule_run_1d("constant", 0.05, seed=2, epochs=1)
    assert not np.array_equal(other.model.params()["0.weight"], a.model.params()["0.weight"])


def test_the_studies_wire_their_runs():
    s = schedule_study({"constant": (0.05,), "cosine": (0.05,)}, seeds=2, epochs=1)
    assert s.runs["cosine"][1] is schedule_run_1d("cosine", 0.05, seed=1, epochs=1)
    o = optimizer_study({"adam": (0.01,)}, seeds=1, epochs=1, channels=4, schedule="warmup_cosine")
    assert o.runs["adam"][0] is optimizer_run_1d("adam", 0.01, seed=0, epochs=1, channels=4, schedule="warmup_cosine")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: schedule_run_1d("nope", 0.1), "unknown schedule"),
        (lambda: schedule_run_1d("cosine", 0.0), "lr must be a finite number > 0"),
        (lambda: schedule_run_1d("cosine", 0.1, seed=-1), "seed"),
        (lambda: schedule_run_1d("cosine", 0.1, epochs=0), "epochs"),
        (lambda: schedule_run_1d("cosine", 0.1, hidden=0), "width"),
        (lambda: optimizer_run_1d("lion", 0.1), "unknown optimizer"),
        (lambda: optimizer_run_1d("adam", 0.1, schedule="nope"), "unknown schedule"),
    ],
)
def test_bad_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
