"""Lesson 7's profile explorer, headless: its controls reach the profile, FLOPs agree with ``perf.layer_counts`` (the
oracle), the table has a row per layer. No assertion depends on how fast anything ran."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.nn import Sequential, profiled_cnn
from odyssey_lessons.perf import layer_counts, layer_name, loss_counts
from odyssey_lessons.widgets._profile_explorer import (
    PASSES,
    ProfileExplorer,
    machine_roofs,
    profile_setting,
)


def expected_flops(model: Sequential, batch: int, backward: bool) -> list[int]:
    """FLOPs per row from ``layer_counts``, walking the shapes through the model by hand."""
    shape, out = (batch, 1, 8, 8), []
    for layer in model.layers:
        c = layer_counts(layer, shape, training=backward)
        out.append(c.flops if backward else c.forward_flops)
        shape = c.output_shape
    if backward:
        out.append(loss_counts(shape).flops)
    return out


def test_profiled_cnn_layers():
    model = profiled_cnn(12, hidden=20)
    names = [layer_name(layer) for layer in model.layers]
    assert names == ["Conv2D(1→12, 3×3)", "BatchNorm(12)", "ReLU", "MaxPool2D(2×2)", "Flatten", "Linear(192→20)",
                     "ReLU", "Linear(20→10)"]  # fmt: skip
    y = model.forward(np.zeros((3, 1, 8, 8), np.float32), True)
    assert y.shape == (3, 10)
    with pytest.raises(ValueError, match="width"):
        profiled_cnn(0)


def test_machine_roofs_are_probed_once_and_positive():
    roofs = machine_roofs()
    assert roofs is machine_roofs()
    assert roofs.peak_flops > 0 and roofs.bandwidth > 0
    assert roofs.ridge == pytest.approx(roofs.peak_flops / roofs.bandwidth)
    assert set(roofs.stream) == {"copy", "scale", "add", "triad"}
    assert roofs.bandwidth == 1e9 * roofs.stream["triad"]  # one probe: the roof is the triad shown


@pytest.mark.parametrize("backward", [True, False])
def test_setting_flops_match_layer_counts(backward):
    s = profile_setting(16, 8, backward, repeats=1)
    assert s is profile_setting(16, 8, backward, repeats=1)  # cached
    want = expected_flops(profiled_cnn(8), 16, backward)
    assert [r.flops for r in s.profile.rows] == want
    assert s.flops == sum(want)
    assert len(s.counts) == len(profiled_cnn(8).layers)
    assert s.profile.batch_size == 16 and s.backward is backward
    assert all(r.self_s >= 0 for r in s.profile.rows)


def test_explorer_follows_its_controls():
    w = ProfileExplorer(batch_size=8, width=4)
    assert (w.state.batch_size, w.state.width, w.state.backward) == (8, 4, True)
    model = profiled_cnn(4)
    n_rows = len(model.layers) + 1  # every layer, and the loss
    assert len(w.state.profile.rows) == n_rows
    assert w.table.value.count("<tr>") == n_rows + 1  # the header row, then one per layer
    assert "batch 8, width 4, forward+backward" in w.readout.value

    w.batch_size.value = 32
    assert w.state is profile_setting(32, 4, True)
    assert [r.flops for r in w.state.profile.rows] == expected_flops(model, 32, True)
    w.width.value = 16
    assert w.state.width == 16
    assert [r.flops for r in w.state.profile.rows] == expected_flops(profiled_cnn(16), 32, True)
    w.pass_name.value = "forward"
    assert w.state.backward is False and len(w.state.profile.rows) == len(model.layers)
    assert [r.flops for r in w.state.profile.rows] == expected_flops(profiled_cnn(16), 32, False)
    assert "forward" in w.readout.value and "batch 32, width 16" in w.readout.value
    assert w.table.value.count("<tr>") == len(model.layers) + 1
    # the roofline holds a point for every layer that does arithmetic on bytes (not Flatten)
    names = {p.name for p in w.state.roofline.points}
    assert names == {r.name for r in w.state.profile.rows if r.flops > 0 and r.bytes > 0}
    (png,) = w.plot.outputs
    assert png["data"]["image/png"]


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown pass"):
        ProfileExplorer(pass_name="backward", draw=False)
    with pytest.raises(ValueError, match="batch_size"):
        profile_setting(513, 8)
    assert set(PASSES) == {"forward+backward", "forward"}
