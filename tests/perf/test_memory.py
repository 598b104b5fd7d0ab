"""Memory accounting against the arrays themselves: caches named from reading ``odyssey_lessons/nn`` and sized
from the shapes, parameter and state bytes summed here; the tracemalloc peak bounded below by what must be alive."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons import nn, optim
from odyssey_lessons.perf import cached_arrays, memory_report, peak_step_memory


def _batch(rng, shape, classes=10):
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, classes, shape[0])


def test_digits_cnn_activations_from_shapes(rng):
    b = 32
    model = nn.digits_cnn(rng=rng)
    x, _ = _batch(rng, (b, 1, 8, 8))
    report = memory_report(model, x)
    # what each layer keeps (see nn/_conv.py, nn/_layers.py): conv's im2col matrix, ReLU masks (float32),
    # maxpool's winner indices (int64), each Linear's input; Flatten keeps only a shape
    expected = [
        b * 8 * 8 * (1 * 3 * 3) * 4,  # Conv2D cols (B*H*W, C*k*k)
        b * 8 * 8 * 8 * 4,  # ReLU mask
        b * 8 * 4 * 4 * 8,  # MaxPool2D argmax, int64
        0,  # Flatten
        b * 128 * 4,  # Linear(128, 32) input (a view of the pool output, counted once)
        b * 32 * 4,  # ReLU mask
        b * 32 * 4,  # Linear(32, 10) input
    ]
    assert [r.activations for r in report.layers] == expected
    assert report.activations == sum(expected)
    assert report.params == sum(p.nbytes for p in model.params().values())
    assert report.grads == sum(g.nbytes for g in model.grads().values())
    assert report.total == report.params + report.grads + report.buffers + report.optimizer_state + sum(expected)


def test_mlp_with_adam_state_and_batchnorm_buffers(rng):
    b = 16
    model = nn.Sequential(nn.Linear(64, 32, rng=rng), nn.BatchNorm(32), nn.ReLU(), nn.Dropout(0.5, rng=rng),
                          nn.Linear(32, 10, rng=rng))  # fmt: skip
    x, _ = _batch(rng, (b, 64))
    opt = optim.adam(lr=1e-3)
    state = opt.init(model.params())
    before = {k: v.copy() for k, v in model.buffers().items()}
    report = memory_report(model, x, opt_state=state)
    n_params = sum(p.size for p in model.params().values())
    assert report.optimizer_state == 8 * n_params  # Adam: m and v, float32
    assert report.buffers == 2 * 32 * 4  # running mean and variance
    act = [b * 64 * 4, b * 32 * 4 + 32 * 4, b * 32 * 4, b * 32 * 4, b * 32 * 4]  # x; xhat+inv_std; mask; scale; input
    assert [r.activations for r in report.layers] == act
    for k, v in model.buffers().items():  # the forward ran on a copy
        np.testing.assert_array_equal(v, before[k])
    table = report.as_table()
    assert [r["name"] for r in table][-1] == "total" and table[-1]["total"] == report.total


def test_without_a_batch_measures_what_the_model_holds(rng):
    model = nn.mlp([64, 128, 64, 10], rng=rng)
    assert memory_report(model).activations == 0
    x, _ = _batch(rng, (8, 64))
    model.forward(x, True)
    held = {id(a): a.nbytes for layer in model.layers for a in vars(layer).values() if isinstance(a, np.ndarray)}
    own = {id(a) for a in [*model.params().values(), *model.grads().values()]}
    assert memory_report(model).activations == sum(n for i, n in held.items() if i not in own)
    assert set(cached_arrays(model[0])) == {"_x"} and set(cached_arrays(model[1])) == {"_mask"}


@pytest.mark.parametrize("use_optimizer", [False, True])
def test_peak_covers_activations_grads_and_state(use_optimizer, rng):
    model = nn.digits_cnn(rng=rng)
    x, y = _batch(rng, (64, 1, 8, 8))
    opt = optim.adam(lr=1e-3) if use_optimizer else None
    params = {k: v.copy() for k, v in model.params().items()}
    peak = peak_step_memory(model, x, y, optimizer=opt)
    report = memory_report(model, x, opt_state=None if opt is None else opt.init(model.params()))
    assert peak >= report.activations + report.grads + report.params + report.optimizer_state
    for k, v in model.params().items():  # the step ran on a copy
        np.testing.assert_array_equal(v, params[k])


def test_peak_grows_with_the_batch(rng):
    model = nn.digits_cnn(rng=rng)
    small = peak_step_memory(model, *_batch(rng, (16, 1, 8, 8)))
    large = peak_step_memory(model, *_batch(rng, (256, 1, 8, 8)))
    assert large > small


def test_bad_arguments(rng):
    with pytest.raises(TypeError, match="model"):
        memory_report("not a model")
    with pytest.raises(TypeError, match="optimizer"):
        peak_step_memory(nn.mlp([4, 2], rng=rng), *_batch(rng, (3, 4), 2), optimizer="adam")
    with pytest.raises(ValueError, match="x"):
        memory_report(nn.mlp([4, 2], rng=rng), np.zeros((3, 5), np.float32))
