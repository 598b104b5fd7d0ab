"""2-D landscapes, trajectories and the optimizer explorer, against finite differences and hand-written loops."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons import optim
from odyssey_lessons.optim import LANDSCAPES, trajectory
from odyssey_lessons.widgets import CHOICES, OptimizerExplorer, make_optimizer


@pytest.mark.parametrize("name", list(LANDSCAPES))
def test_landscape_gradients_match_finite_differences(rng, name):
    land = LANDSCAPES[name]
    x0, x1, y0, y1 = land.bounds
    for x, y in zip(rng.uniform(x0, x1, 20), rng.uniform(y0, y1, 20), strict=True):
        h = 1e-6
        fx = (land.loss(np.array(x + h), np.array(y)) - land.loss(np.array(x - h), np.array(y))) / (2 * h)
        fy = (land.loss(np.array(x), np.array(y + h)) - land.loss(np.array(x), np.array(y - h))) / (2 * h)
        np.testing.assert_allclose(land.grad(x, y), (fx, fy), rtol=1e-5, atol=1e-5)
    gx, gy = land.grad(*land.minimum)
    assert abs(gx) < 1e-12 and abs(gy) < 1e-12, "the minimum must be a stationary point"


def test_trajectory_equals_a_hand_written_sgd_loop():
    land = LANDSCAPES["ill_conditioned"]
    tr = trajectory(optim.sgd(0.03, momentum=0.9), "ill_conditioned", steps=50)
    p = np.array(land.start, dtype=np.float32)
    b = None
    for k in range(50):
        g = np.array(land.grad(float(p[0]), float(p[1])), dtype=np.float32)
        b = g.copy() if b is None else np.float32(0.9) * b + g
        p = (p - np.float32(0.03) * b).astype(np.float32)
        np.testing.assert_allclose(tr.points[k + 1], p, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(tr.losses, land.loss(tr.points[:, 0], tr.points[:, 1]))


def test_trajectory_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown landscape"):
        trajectory(optim.sgd(0.1), "himmelblau")
    with pytest.raises(ValueError, match="steps"):
        trajectory(optim.sgd(0.1), "saddle", steps=0)
    with pytest.raises(TypeError, match="optimizer"):
        trajectory(lambda g: g, "saddle")


def test_explorer_follows_its_controls():
    explorer = OptimizerExplorer(landscape="ill_conditioned", optimizer="sgd + momentum", steps=60)
    assert explorer.knob.description == "momentum" and explorer.knob.value == 0.9
    explorer.optimizer.value = "adam"
    assert explorer.knob.description == "beta1"
    want = trajectory(make_optimizer("adam", explorer.lr.value, explorer.knob.value), "ill_conditioned", steps=60)
    np.testing.assert_array_equal(explorer.state.points, want.points)
    explorer.knob.value = 0.0
    want = trajectory(optim.adam(explorer.lr.value, betas=(0.0, 0.999)), "ill_conditioned", steps=60)
    np.testing.assert_array_equal(explorer.state.points, want.points)
    explorer.optimizer.value = "sgd"
    assert explorer.knob.disabled
    explorer.lr.value = 0.09  # above 2 / 25, the stability limit of the steep direction
    assert explorer.state.final_gap > 1e6
    explorer.lr.value = 0.07
    assert explorer.state.final_gap < 1e-2
    explorer.landscape.value = "saddle"
    assert explorer.state.landscape == "saddle"
    (png,) = explorer.plot.outputs
    assert png["data"]["image/png"]


def test_every_choice_builds_its_optimizer():
    for name, (_, _, (lo, hi), knob, lr) in CHOICES.items():
        assert lo <= knob <= hi
        assert isinstance(make_optimizer(name, lr, knob), optim.GradientTransformation)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("adadelta", 0.1, 0.0)
    with pytest.raises(ValueError, match="unknown landscape"):
        OptimizerExplorer(landscape="nope", draw=False)
