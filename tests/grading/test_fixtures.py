"""The check fixtures: a fake clock that moves only when a workload runs, and an optimizer stepped with its state kept
inside -- directly, and as a check uses them (made on both sides through ``answers.call``)."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.grading import exact
from odyssey_lessons.grading._answers import Answers, LocalSide
from odyssey_lessons.grading.fixtures import FakeClock, OptimizerRun, Workload
from odyssey_lessons.optim import adamw, apply_updates, chain, clip_by_global_norm

FIXTURES = "odyssey_lessons.grading.fixtures"


def test_the_clock_moves_only_when_the_workload_runs():
    clock = FakeClock()
    fn = Workload(clock, [2.0, 0.5])
    start = clock()
    assert clock() == start
    fn()
    assert clock() - start == 2.0
    fn()
    assert (clock() - start, fn.calls) == (2.5, 2)
    with pytest.raises(AssertionError, match="more than 2 times"):
        fn()


def test_optimizer_run_steps_like_init_update_apply(rng):
    opt = chain(clip_by_global_norm(1.0), adamw(0.01, weight_decay=0.1))
    params = {"w": rng.standard_normal((3, 2)).astype(np.float32)}
    run = OptimizerRun(opt, params)
    p, state = dict(params), opt.init(params)
    for _ in range(3):
        grads = {"w": rng.standard_normal((3, 2)).astype(np.float32)}
        updates, state = opt.update(grads, state, p)
        p = apply_updates(p, updates)
        np.testing.assert_array_equal(run.step(grads)["w"], p["w"])
    with pytest.raises(TypeError, match="GradientTransformation"):
        OptimizerRun(lambda g: g, params)


def time_it(fn, warmup, repeats, clock):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = clock()
        fn()
        samples.append(clock() - start)
    return sorted(samples)[len(samples) // 2]


def test_a_check_reads_what_the_learners_code_did_with_a_fixture():
    def too_eager(fn, warmup, repeats, clock):  # one warm-up call too many
        fn()
        return time_it(fn, warmup, repeats, clock)

    for learner, fails in ((time_it, False), (too_eager, True)):
        answers = Answers(LocalSide({"time_it": learner}), LocalSide({"time_it": time_it}), exact())
        clock = answers.call(f"{FIXTURES}:FakeClock")
        fn = answers.call(f"{FIXTURES}:Workload", clock, [9.0, 1.0, 3.0, 2.0])
        if fails:
            with pytest.raises(AssertionError, match="raised AssertionError: fn was called more than 4 times"):
                answers.time_it(fn, 1, 3, clock=clock)
        else:
            assert answers.time_it(fn, 1, 3, clock=clock) == 2.0
            assert fn.get("calls") == 4
