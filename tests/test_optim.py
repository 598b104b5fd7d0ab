"""Optimizers against their documented update rules (re-implemented here in float64), and PyTorch when installed."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.optim import adam, adamw, apply_updates, sgd, state_bytes


def _problem(rng):
    params = {"w": rng.standard_normal((3, 4)).astype(np.float32), "b": rng.standard_normal(4).astype(np.float32)}
    grads_seq = [{k: rng.standard_normal(v.shape).astype(np.float32) for k, v in params.items()} for _ in range(6)]
    return params, grads_seq


def _run(opt, params, grads_seq):
    state = opt.init(params)
    for grads in grads_seq:
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
    return params, state


def _ref_sgd(params, grads_seq, lr, momentum=0.0, nesterov=False, wd=0.0):
    p = {k: v.astype(np.float64) for k, v in params.items()}
    buf = {}
    for t, grads in enumerate(grads_seq):
        for k in p:
            g = grads[k].astype(np.float64) + wd * p[k]
            if momentum:
                buf[k] = g if t == 0 else momentum * buf[k] + g
                g = g + momentum * buf[k] if nesterov else buf[k]
            p[k] = p[k] - lr * g
    return p


def _ref_adam(params, grads_seq, lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False):
    p = {k: v.astype(np.float64) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    for t, grads in enumerate(grads_seq, start=1):
        for k in p:
            g = grads[k].astype(np.float64)
            if decoupled:
                p[k] = p[k] * (1 - lr * wd)
            else:
                g = g + wd * p[k]
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            p[k] = p[k] - lr * (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + eps)
    return p


@pytest.mark.parametrize(
    "kwargs", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}, {"momentum": 0.5, "weight_decay": 0.1}]
)
def test_sgd_matches_the_pytorch_rule(kwargs, rng):
    params, grads_seq = _problem(rng)
    ours, _ = _run(sgd(0.05, **kwargs), params, grads_seq)
    ref = _ref_sgd(
        params,
        grads_seq,
        0.05,
        kwargs.get("momentum", 0.0),
        kwargs.get("nesterov", False),
        kwargs.get("weight_decay", 0.0),
    )
    for k in params:
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("wd", "decoupled"), [(0.0, False), (0.1, False), (0.1, True)])
def test_adam_matches_the_pytorch_rule(wd, decoupled, rng):
    params, grads_seq = _problem(rng)
    opt = adamw(1e-2, weight_decay=wd) if decoupled else adam(1e-2, weight_decay=wd)
    ours, _ = _run(opt, params, grads_seq)
    ref = _ref_adam(params, grads_seq, 1e-2, wd=wd, decoupled=decoupled)
    for k in params:
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-5, atol=1e-6)


def test_adam_l2_and_adamw_differ(rng):
    params, grads_seq = _problem(rng)
    a, _ = _run(adam(1e-2, weight_decay=0.1), params, grads_seq)
    w, _ = _run(adamw(1e-2, weight_decay=0.1), params, grads_seq)
    assert not np.allclose(a["w"], w["w"])


def test_state_bytes_counts_the_state_arrays(rng):
    params, _ = _problem(rng)
    n = sum(v.size for v in params.values())
    assert state_bytes(sgd(0.1).init(params)) == 0
    assert state_bytes(sgd(0.1, momentum=0.9).init(params)) == 4 * n
    assert state_bytes(adam().init(params)) == 8 * n


def test_schedules_are_called_with_the_step(rng):
    params, grads_seq = _problem(rng)
    seen = []
    _run(sgd(lambda step: seen.append(step) or 0.1), params, grads_seq)
    assert seen == list(range(len(grads_seq)))


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: sgd(0.0), "lr"),
        (lambda: sgd(-1.0), "lr"),
        (lambda: sgd(0.1, momentum=1.0), "momentum"),
        (lambda: sgd(0.1, nesterov=True), "nesterov"),
        (lambda: adam(1e-3, betas=(1.0, 0.9)), "betas"),
        (lambda: adam(1e-3, eps=0.0), "eps"),
        (lambda: adamw(1e-3, weight_decay=-1.0), "weight_decay"),
    ],
)
def test_bad_hyperparameters_raise(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


@pytest.mark.parametrize("name", ["sgd", "sgd_nesterov", "adam", "adamw"])
def test_matches_torch_optim_when_installed(name, rng):
    torch = pytest.importorskip("torch")
    params, grads_seq = _problem(rng)
    tp = [torch.tensor(params[k], requires_grad=True) for k in params]
    ours_opt, torch_opt = {
        "sgd": (sgd(0.05, momentum=0.9, weight_decay=0.01), lambda: torch.optim.SGD(tp, 0.05, 0.9, weight_decay=0.01)),
        "sgd_nesterov": (sgd(0.05, momentum=0.9, nesterov=True), lambda: torch.optim.SGD(tp, 0.05, 0.9, nesterov=True)),
        "adam": (adam(1e-2, weight_decay=0.01), lambda: torch.optim.Adam(tp, 1e-2, weight_decay=0.01)),
        "adamw": (adamw(1e-2), lambda: torch.optim.AdamW(tp, 1e-2)),
    }[name]
    topt = torch_opt()
    for grads in grads_seq:
        for t, k in zip(tp, params, strict=True):
            t.grad = torch.tensor(grads[k])
        topt.step()
    ours, _ = _run(ours_opt, params, grads_seq)
    for t, k in zip(tp, params, strict=True):
        np.testing.assert_allclose(ours[k], t.detach().numpy(), rtol=1e-5, atol=1e-6)
