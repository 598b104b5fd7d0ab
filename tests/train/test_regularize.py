"""Regularizers in the training loop: L2 against finite differences and a hand-written loop, max-norm against its
definition, early stopping on scripted metrics and on a real overfitting run (best weights restored)."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons import nn, optim
from odyssey_lessons.data import batches, digits_task
from odyssey_lessons.train import EarlyStopping, evaluate, fit, l2_penalty, max_norm_, weight_mask


@pytest.fixture(scope="module")
def small():
    task = digits_task("mlp")
    (x, y), (xv, yv) = task.train, task.val
    return (x[:128], y[:128]), (xv[:64], yv[:64])


def test_l2_gradient_is_the_penalty_derivative(rng):
    params = {"0.weight": rng.standard_normal((3, 4)), "0.bias": rng.standard_normal(3)}
    decay = optim.add_decayed_weights(0.3, mask=weight_mask)  # what fit(l2=0.3) chains before the optimizer
    grads, _ = decay.update({k: np.zeros_like(v) for k, v in params.items()}, decay.init(params), params)
    h = 1e-6
    for name, p in params.items():
        for idx in np.ndindex(p.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += h
            minus[name][idx] -= h
            fd = (l2_penalty(plus, 0.3) - l2_penalty(minus, 0.3)) / (2 * h)
            assert grads[name][idx] == pytest.approx(fd, abs=1e-6)
    assert np.all(grads["0.bias"] == 0), "biases are not regularized"


def test_fit_with_l2_equals_a_hand_written_loop(small):
    train, _ = small
    lr, l2 = 0.05, 0.01
    model = nn.mlp((64, 16, 10), rng=np.random.default_rng(0))
    fit(model, train, optimizer=optim.sgd(lr), epochs=2, batch_size=32, l2=l2, seed=4)
    ref = nn.mlp((64, 16, 10), rng=np.random.default_rng(0))
    for epoch in range(2):
        for xb, yb in batches(*train, batch_size=32, seed=4 * 1000 + epoch):
            ref.zero_grad()
            _, g = nn.softmax_cross_entropy(ref.forward(xb, True), yb)
            ref.backward(g)
            params, grads = ref.params(), ref.grads()
            ref.load_params({k: p - np.float32(lr) * (grads[k] + (np.float32(l2) * p if k.endswith("weight") else 0))
                             for k, p in params.items()})  # fmt: skip
    for k, v in model.params().items():
        np.testing.assert_allclose(v, ref.params()[k], rtol=1e-5, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("clip_norm", [None, 0.5])
def test_fit_l2_is_the_masked_decay_chained_by_hand(small, clip_norm):
    """``fit(l2=...)`` is ``add_decayed_weights(l2, mask=weight_mask)`` before the clipping and the optimizer: the
    same chain written out (with the mask as a callable and as a dict) trains to the same bits."""
    train, _ = small
    lr, l2 = 0.05, 0.01
    runs = {}
    model = nn.mlp((64, 16, 10), rng=np.random.default_rng(0))
    names = list(model.params())
    as_dict = {n: n.endswith("weight") for n in names}
    assert as_dict == weight_mask(model.params()) and not all(as_dict.values()), "biases are not decayed"
    for how, mask, fit_l2 in [("fit", None, l2), ("callable", weight_mask, 0.0), ("dict", as_dict, 0.0)]:
        model = nn.mlp((64, 16, 10), rng=np.random.default_rng(0))
        links = [] if mask is None else [optim.add_decayed_weights(l2, mask=mask)]
        if mask is not None and clip_norm is not None:
            links.append(optim.clip_by_global_norm(clip_norm))
        opt = optim.chain(*links, optim.sgd(lr)) if links else optim.sgd(lr)
        fit(model, train, optimizer=opt, epochs=2, batch_size=32, l2=fit_l2, seed=4,
            clip_norm=clip_norm if mask is None else None)  # fmt: skip
        runs[how] = model.params()
    for how in ("callable", "dict"):
        for k, v in runs["fit"].items():
            np.testing.assert_array_equal(runs[how][k], v, err_msg=f"{how}: {k}")


def test_max_norm_caps_each_units_incoming_weights(rng):
    w = rng.standard_normal((6, 5)).astype(np.float32) * np.array([[0.1], [1], [3], [0.2], [5], [1]], np.float32)
    conv = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    out = max_norm_({"0.weight": w, "0.bias": np.ones(6, np.float32) * 9, "1.weight": conv}, 1.5)
    for name, original in [("0.weight", w), ("1.weight", conv)]:
        rows, before = out[name].reshape(len(original), -1), original.reshape(len(original), -1)
        norms, old = np.linalg.norm(rows, axis=1), np.linalg.norm(before, axis=1)
        np.testing.assert_allclose(norms, np.minimum(old, 1.5), rtol=1e-6)
        for r in range(len(rows)):  # direction kept
            np.testing.assert_allclose(rows[r] / norms[r], before[r] / old[r], rtol=1e-5)
    assert np.all(out["0.bias"] == 9), "biases are not constrained"


def test_fit_with_max_norm_keeps_every_row_within_the_bound(small):
    train, _ = small
    model = nn.mlp((64, 16, 10), rng=np.random.default_rng(1))
    fit(model, train, optimizer=optim.sgd(0.5), epochs=2, batch_size=32, max_norm=0.8)
    for name, w in model.params().items():
        if name.endswith("weight"):
            assert np.linalg.norm(w.reshape(len(w), -1), axis=1).max() <= 0.8 * (1 + 1e-6)


@pytest.mark.parametrize(
    ("monitor", "values", "patience", "min_delta", "stop_at", "best_at"),
    [
        ("val_loss", [1.0, 0.9, 0.95, 0.92, 0.91, 0.5], 3, 0.0, 5, 2),
        ("val_loss", [1.0, 0.99, 0.985, 0.98], 2, 0.02, 3, 1),
        ("val_acc", [0.5, 0.6, 0.6, 0.61, 0.59], 2, 0.0, None, 4),
        ("train_loss", [3.0, 2.0, 1.0], 1, 0.0, None, 3),
    ],
)
def test_early_stopping_rule(monitor, values, patience, min_delta, stop_at, best_at):
    es = EarlyStopping(patience=patience, min_delta=min_delta, monitor=monitor)
    stopped = None
    for epoch, v in enumerate(values, start=1):
        if es.step(epoch, {monitor: v}, {"w": np.array([float(epoch)])}):
            stopped = epoch
            break
    assert stopped == stop_at and es.best_epoch == best_at and es.best_params["w"][0] == best_at


def test_fit_early_stopping_restores_the_best_epoch(small):
    train, val = small
    model = nn.mlp((64, 64, 10), rng=np.random.default_rng(2))
    es = EarlyStopping(patience=2, monitor="val_loss")
    h = fit(model, train, val=val, optimizer=optim.adam(0.02), epochs=40, batch_size=16, early_stopping=es)  # fmt: skip
    assert h.stopped_epoch is not None and h.stopped_epoch < 40, "a small training set should overfit and stop"
    assert es.best_epoch is None and es.best_params is None, "fit trains with a copy: the stopper passed is unchanged"
    assert len(h.epoch["epoch"]) == h.stopped_epoch
    assert h.best_epoch == int(np.argmin(h.epoch["val_loss"])) + 1
    loss, _ = evaluate(model, *val)
    assert loss == pytest.approx(h.epoch["val_loss"][h.best_epoch - 1], rel=1e-6)


def test_augment_is_applied_to_training_batches_only(small):
    train, val = small
    seen = []

    def augment(xb, seed):
        seen.append(seed)
        return xb * np.float32(0)  # a destructive "augmentation": training sees only zeros

    model = nn.mlp((64, 16, 10), rng=np.random.default_rng(3))
    h = fit(model, train, val=val, optimizer=optim.sgd(0.1), epochs=1, batch_size=32, augment=augment, seed=5)
    assert len(seen) == 4 and len(set(seen)) == 4, "a new seed for every step"
    assert np.all(model.params()["0.weight"] == nn.mlp((64, 16, 10), rng=np.random.default_rng(3)).params()["0.weight"])
    assert np.isfinite(h.epoch["val_loss"]).all()


def test_bad_regularizer_arguments_raise(small):
    train, val = small
    model = nn.mlp((64, 8, 10), rng=np.random.default_rng(0))
    for kwargs, match in [({"l2": -1.0}, "l2"), ({"max_norm": 0.0}, "max_norm"), ({"early_stopping": 3}, "early"),
                          ({"augment": 3}, "augment"), ({"early_stopping": EarlyStopping()}, "val")]:  # fmt: skip
        with pytest.raises((ValueError, TypeError), match=match):
            fit(model, train, optimizer=optim.sgd(0.1), epochs=1, **kwargs)
    with pytest.raises(ValueError, match="shape"):
        fit(model, train, optimizer=optim.sgd(0.1), epochs=1, augment=lambda x, s: x[:1])
    for kwargs, error, match in [
        ({"patience": 0}, ValueError, "patience=0"),
        ({"min_delta": -1}, ValueError, "min_delta=-1"),
        ({"min_delta": "0.1"}, TypeError, "min_delta='0.1'"),
        ({"monitor": "acc"}, ValueError, "monitor='acc'"),
        ({"restore_best": 1}, TypeError, "restore_best=1"),
    ]:
        with pytest.raises(error, match=match):
            EarlyStopping(**kwargs)
