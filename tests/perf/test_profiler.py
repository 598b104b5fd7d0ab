"""The per-layer profiler (rows, percentages, counts, agreement with the whole step) and the roofline built from it.

Times are never compared with numbers: only with each other. The per-layer sum and the whole step time the same
work, but the layer-by-layer run adds a timer call per layer and can meet a different cache state or a neighbour
process on this shared machine, so the test asks for a ratio within a factor of 2, not an equality in seconds, and
compares the fastest passes (``total_min_s`` / ``step_min_s``), which preemptions of a busy machine skew least.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from odyssey_lessons import nn
from odyssey_lessons.perf import layer_counts, loss_counts, model_counts, plot_roofline, profile, roofline
from odyssey_lessons.perf._profiler import LOSS_NAME
from tests.oracles import require


@pytest.fixture
def cnn_batch(rng):
    model = nn.digits_cnn(rng=rng)
    x = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    return model, x, rng.integers(0, 10, 64)


def test_rows_cover_every_layer_and_the_loss(cnn_batch):
    model, x, y = cnn_batch
    before = {k: v.copy() for k, v in model.params().items()}
    p = profile(model, x, y, repeats=5)
    assert [r.name.split(": ")[-1] for r in p.rows[:-1]] == [
        "Conv2D(1→8, 3×3)", "ReLU", "MaxPool2D(2×2)", "Flatten", "Linear(128→32)", "ReLU", "Linear(32→10)"
    ]  # fmt: skip
    assert p.rows[-1].name == LOSS_NAME
    assert sum(r.pct_total for r in p.rows) == pytest.approx(100.0)
    assert p.total_s == pytest.approx(sum(r.self_s for r in p.rows))
    counts = model_counts(model, x.shape)
    assert [r.flops for r in p.rows[:-1]] == [c.flops for c in counts]
    assert [r.bytes for r in p.rows[:-1]] == [c.bytes for c in counts]
    assert p.rows[-1].flops == loss_counts((64, 10)).flops
    for r in p.rows:
        assert r.self_s == pytest.approx(r.forward_s + r.backward_s)
        if r.self_s > 0 and r.flops:
            assert r.gflops_per_s == pytest.approx(r.flops / r.self_s / 1e9)
    assert 0.5 <= p.total_min_s / p.step_min_s <= 2.0
    for k, v in model.params().items():  # profiled a copy
        np.testing.assert_array_equal(v, before[k])
    assert all(not g.any() for g in model.grads().values())


def test_activation_memory_and_table(cnn_batch):
    model, x, y = cnn_batch
    p = profile(model, x, y, repeats=2)
    assert p.rows[0].activation_bytes == 64 * 8 * 8 * 9 * 4  # the im2col matrix
    table = p.as_table()
    assert set(table[0]) >= {"name", "calls", "self_ms", "pct_total", "flops", "gflops_per_s", "bytes_moved",
                             "memory_bytes"}  # fmt: skip
    assert table[0]["calls"] == 2 * 2 and table[-1]["calls"] == 2


def test_forward_only_mlp(rng):
    model = nn.mlp([64, 128, 64, 10], rng=rng, dropout=0.5)
    x = rng.standard_normal((32, 64)).astype(np.float32)
    p = profile(model, x, repeats=3, backward=False, threads="default")
    assert len(p.rows) == len(model)
    assert all(r.backward_s == 0 for r in p.rows)
    eval_counts = model_counts(model, x.shape, training=False)  # evaluation: Dropout is the identity
    assert [r.flops for r in p.rows] == [c.forward_flops for c in eval_counts]
    assert 0.5 <= p.total_min_s / p.step_min_s <= 2.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"repeats": 0}, ValueError, "repeats"),
        ({"warmup": -1}, ValueError, "warmup"),
        ({"threads": "many"}, ValueError, "threads"),
        ({"y": np.zeros(3, np.int64)}, ValueError, "y"),
    ],
)
def test_bad_arguments(kwargs, error, match, cnn_batch):
    model, x, _ = cnn_batch
    with pytest.raises(error, match=match):
        profile(model, x, **kwargs)


def test_bad_model_and_input(rng):
    with pytest.raises(TypeError, match="Sequential"):
        profile(nn.ReLU(), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="input_shape"):
        profile(nn.digits_cnn(rng=rng), np.zeros((2, 2, 8, 8), np.float32))


# ----- roofline ------------------------------------------------------------------------------------------------------
def test_roofline_points_follow_the_formula(cnn_batch):
    model, x, y = cnn_batch
    p = profile(model, x, y, repeats=2)
    peak, bw = 50e9, 10e9
    roof = roofline(p, peak_flops=peak, bandwidth=bw)
    assert roof.ridge == peak / bw
    with_work = [r for r in p.rows if r.flops > 0 and r.bytes > 0 and r.self_s > 0]
    assert [pt.name for pt in roof.points] == [r.name for r in with_work]  # Flatten has no point
    for pt, r in zip(roof.points, with_work, strict=True):
        assert pt.intensity == r.flops / r.bytes
        assert pt.achieved == r.flops / r.self_s
        assert pt.attainable == min(peak, bw * pt.intensity)
        assert pt.bound == ("memory" if pt.intensity < peak / bw else "compute")


def test_roofline_from_dicts_and_bad_roofs(rng):
    c = layer_counts(nn.Linear(64, 64, rng=rng), (256, 64))
    row = {"name": "lin", "flops": c.flops, "bytes": c.bytes, "seconds": 1e-3}
    roof = roofline([row], peak_flops=1e12, bandwidth=1e9)
    assert roof.points[0].bound == "memory" and roof.points[0].attainable == 1e9 * c.intensity  # ridge 1000
    roof = roofline([row], peak_flops=1e9, bandwidth=1e12)
    assert roof.points[0].bound == "compute" and roof.points[0].attainable == 1e9  # ridge 0.001
    with pytest.raises(ValueError, match="peak_flops"):
        roofline([row], peak_flops=0, bandwidth=1e9)
    with pytest.raises(ValueError, match="bandwidth"):
        roofline([row], peak_flops=1e9, bandwidth=math.inf)
    with pytest.raises(ValueError, match="seconds"):
        roofline([{"name": "x", "flops": 1, "bytes": 1}], peak_flops=1e9, bandwidth=1e9)


def test_plot_roofline_draws_on_the_axes(cnn_batch):
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, x, y = cnn_batch
    roof = roofline(profile(model, x, y, repeats=2), peak_flops=50e9, bandwidth=10e9)
    fig, ax = plt.subplots()
    try:
        assert plot_roofline(ax, roof, title="digits CNN") is ax
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log" and ax.get_title() == "digits CNN"
        assert len(ax.texts) == len(roof.points) + 1  # one label per point and the ridge
        with pytest.raises(TypeError, match="Roofline"):
            plot_roofline(ax, "roof")
    finally:
        plt.close(fig)
