"""The capstone's recipe (odyssey_lessons.studies._capstone): validation, the optimizer it builds, a real run."""

from dataclasses import replace

import numpy as np
import pytest

from odyssey_lessons.optim import (
    adam,
    adamw,
    add_decayed_weights,
    apply_updates,
    chain,
    clip_by_global_norm,
    scale_by_adam,
    scale_by_learning_rate,
    sgd,
)
from odyssey_lessons.schedules import warmup_cosine
from odyssey_lessons.studies._capstone import Recipe, capstone_run, recipe_optimizer


def trajectory(opt, params, grads):
    state = opt.init(params)
    out = []
    for g in grads:
        updates, state = opt.update(g, state, params)
        params = apply_updates(params, updates)
        out.append(params)
    return out


@pytest.fixture
def problem(rng):
    params = {"w": rng.standard_normal((5, 3)).astype(np.float32), "b": rng.standard_normal(3).astype(np.float32)}
    grads = [{k: (rng.standard_normal(v.shape) * (5.0 if i % 2 else 0.1)).astype(np.float32) for k, v in params.items()}
             for i in range(20)]  # fmt: skip
    return params, grads


@pytest.mark.parametrize(
    "kwargs",
    [
        {"optimizer": "sgd"},
        {"schedule": "cosine"},
        {"optimizer": "adam", "weight_decay": 0.1},
        {"epochs": 2, "warmup_epochs": 2},
        {"epochs": 0},
    ],
)
def test_recipe_rejects_bad_fields(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Recipe(**kwargs)


def test_learning_rate_is_warmup_cosine_over_the_run():
    r = Recipe(epochs=4, batch_size=100, warmup_epochs=1)
    assert r.steps_per_epoch(1259) == 13
    s = r.learning_rate(0.1, 1259)
    want = warmup_cosine(0.1, warmup_steps=13, total_steps=52)
    np.testing.assert_array_equal(s(np.arange(52)), want(np.arange(52)))
    assert replace(r, schedule="constant").learning_rate(0.1, 1259) == 0.1


@pytest.mark.parametrize(
    ("name", "plain"),
    [("adamw", lambda lr: adamw(lr, weight_decay=0.1)), ("sgd_momentum", lambda lr: sgd(lr, momentum=0.9,
                                                                                       weight_decay=0.1))],
)  # fmt: skip
def test_recipe_optimizer_clips_then_updates(problem, name, plain):
    params, grads = problem
    got = trajectory(recipe_optimizer(0.01, optimizer=name, weight_decay=0.1, clip_norm=1.0), params, grads)
    want = trajectory(chain(clip_by_global_norm(1.0), plain(0.01)), params, grads)
    for a, b in zip(got, want, strict=True):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    unclipped = trajectory(recipe_optimizer(0.01, optimizer=name, weight_decay=0.1, clip_norm=None), params, grads)
    assert not np.array_equal(unclipped[-1]["w"], got[-1]["w"])  # the large gradients were clipped


def test_recipe_optimizer_adam_and_errors(problem):
    params, grads = problem
    got = trajectory(recipe_optimizer(0.01, optimizer="adam", weight_decay=0.0, clip_norm=None), params, grads)
    want = trajectory(adam(0.01), params, grads)
    np.testing.assert_array_equal(got[-1]["w"], want[-1]["w"])
    with pytest.raises(ValueError, match="optimizer"):
        recipe_optimizer(0.01, optimizer="lion")
    with pytest.raises(ValueError, match="weight_decay"):
        recipe_optimizer(0.01, optimizer="adam", weight_decay=0.1)


def test_composed_adamw_matches_fused_and_wrong_orders_do_not(problem):
    """The capstone exercise's check discriminates: only the right composition matches the fused kernel."""
    params, grads = problem
    sched = warmup_cosine(0.05, warmup_steps=4, total_steps=20)
    ref = trajectory(recipe_optimizer(sched, weight_decay=0.1, clip_norm=1.0), params, grads)[-1]
    right = chain(clip_by_global_norm(1.0), scale_by_adam(), add_decayed_weights(0.1), scale_by_learning_rate(sched))
    wrong = {
        "no clip": chain(scale_by_adam(), add_decayed_weights(0.1), scale_by_learning_rate(sched)),
        "L2 instead of decoupled": chain(clip_by_global_norm(1.0), add_decayed_weights(0.1), scale_by_adam(),
                                         scale_by_learning_rate(sched)),
        "no warm-up": chain(clip_by_global_norm(1.0), scale_by_adam(), add_decayed_weights(0.1),
                            scale_by_learning_rate(warmup_cosine(0.05, warmup_steps=0, total_steps=20))),
    }  # fmt: skip
    got = trajectory(right, params, grads)[-1]
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-5, atol=1e-6)
    for label, opt in wrong.items():
        p = trajectory(opt, params, grads)[-1]
        assert not all(np.allclose(p[k], ref[k], rtol=1e-5, atol=1e-6) for k in ref), label


def test_capstone_run_is_deterministic_and_learns():
    recipe = Recipe(epochs=2, policy="fp32")
    a, b = capstone_run(recipe, 0.03, seed=1), capstone_run(recipe, 0.03, seed=1)
    np.testing.assert_array_equal(a.history.step["loss"], b.history.step["loss"])
    assert a.test_acc == b.test_acc > 0.5
    assert len(a.history.step["loss"]) == 2 * recipe.steps_per_epoch(1259)
    assert a.history.step["lr"][0] == 0.0 and a.seconds_per_step > 0  # warm-up starts from 0
    assert -1 <= a.gap <= 1
    with pytest.raises(ValueError, match="lr"):
        capstone_run(recipe, 0.0)


def test_capstone_run_fp16_uses_a_loss_scaler():
    run = capstone_run(Recipe(epochs=1, warmup_epochs=0, policy="fp16"), 0.03, seed=0)
    assert run.history.step["scale"][0] == 2.0**16
