"""Optimizers against their documented update rules (re-implemented here in float64, and per coordinate in
``tests/reference_optim.py``), against ``torch.optim`` when installed, and against chains of small transforms."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from odyssey_lessons._threads import PARALLEL_MIN_SIZE
from odyssey_lessons.optim import (
    OPTIMIZERS,
    adagrad,
    adam,
    adamw,
    add_decayed_weights,
    apply_updates,
    chain,
    clip_by_global_norm,
    clip_by_value,
    global_norm,
    lion,
    rmsprop,
    scale,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_lion,
    scale_by_rms,
    scale_by_rss,
    scale_by_schedule,
    scale_by_sign,
    sgd,
    state_bytes,
    state_bytes_per_param,
    trace,
)
from tests.oracles import require
from tests.reference_optim import run_reference


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
    torch = require("torch")
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


# ----- every optimizer against the per-coordinate references (always) and torch.optim (when installed) ------------
def _schedule(step):
    return 0.02 * 0.9**step


CASES = [
    ("sgd", 0.05, {}),
    ("sgd", 0.05, {"momentum": 0.9}),
    ("sgd", 0.05, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("sgd", _schedule, {"momentum": 0.5}),
    ("adam", 1e-2, {}),
    ("adam", 1e-2, {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("adam", _schedule, {}),
    ("adamw", 1e-2, {}),
    ("adamw", _schedule, {"weight_decay": 0.1}),
    ("adagrad", 0.05, {}),
    ("adagrad", 0.05, {"lr_decay": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.5}),
    ("adagrad", _schedule, {"eps": 1e-6}),
    ("rmsprop", 1e-2, {}),
    ("rmsprop", 1e-2, {"momentum": 0.9}),
    ("rmsprop", 1e-2, {"centered": True, "alpha": 0.9}),
    ("rmsprop", _schedule, {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("lion", 1e-2, {}),
    ("lion", 1e-2, {"betas": (0.8, 0.95), "weight_decay": 0.1}),
    ("lion", _schedule, {"weight_decay": 0.01}),
]


def _case_id(case):
    name, lr, hyper = case
    parts = [name, "schedule" if callable(lr) else f"lr={lr}"] + [f"{k}={v}" for k, v in hyper.items()]
    return "-".join(parts)


def _long_problem(rng, steps=20):
    params = {
        "w": rng.standard_normal((5, 3)).astype(np.float32),
        "b": rng.standard_normal(3).astype(np.float32),
        "s": np.array(rng.standard_normal(), np.float32),
    }
    grads_seq = [
        {k: rng.standard_normal(np.shape(v)).astype(np.float32) for k, v in params.items()} for _ in range(steps)
    ]
    return params, grads_seq


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_optimizers_match_the_reference(case, rng):
    name, lr, hyper = case
    params, grads_seq = _long_problem(rng)
    ours, _ = _run(OPTIMIZERS[name](lr, **hyper), params, grads_seq)
    ref = run_reference(name, params, grads_seq, lr, **hyper)
    for k in params:
        assert ours[k].dtype == np.float32 and ours[k].shape == params[k].shape
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-5, atol=1e-5, err_msg=k)


TORCH_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "adagrad": "Adagrad", "rmsprop": "RMSprop"}


def _compare_with_torch(case, rng, *, foreach: bool, fused: bool) -> None:
    """Run ``case`` in torch.optim and ours side by side, comparing the parameters after every step."""
    torch = require("torch")
    name, lr, hyper = case
    params, grads_seq = _long_problem(rng)
    tp = [torch.tensor(params[k], requires_grad=True) for k in params]
    lr0 = lr(0) if callable(lr) else lr
    topt = getattr(torch.optim, TORCH_OPTIMIZERS[name])(tp, lr=lr0, foreach=foreach, **hyper)
    opt = OPTIMIZERS[name](lr, **hyper)
    ours = {k: np.array(v, copy=True) for k, v in params.items()}
    state = opt.init(ours)
    for step, grads in enumerate(grads_seq):
        for group in topt.param_groups:
            group["lr"] = lr(step) if callable(lr) else lr
        for t, k in zip(tp, params, strict=True):
            t.grad = torch.tensor(grads[k])
        topt.step()
        if fused:
            state = opt.step(ours, grads, state)
        else:
            updates, state = opt.update(grads, state, ours)
            ours = apply_updates(ours, updates)
        for t, k in zip(tp, params, strict=True):
            np.testing.assert_allclose(ours[k], t.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=f"{k} step {step}")


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in TORCH_OPTIMIZERS], ids=_case_id)
def test_optimizers_match_torch_optim_step_for_step(case, rng):
    _compare_with_torch(case, rng, foreach=False, fused=False)


def test_default_learning_rates_are_torchs():
    torch = require("torch")
    import inspect

    for name, torch_name in TORCH_OPTIMIZERS.items():
        torch_lr = inspect.signature(getattr(torch.optim, torch_name)).parameters["lr"].default
        assert OPTIMIZERS[name]().learning_rate == torch_lr, name


# ----- the chains of small transforms equal the fused optimizers --------------------------------------------------
CHAINS = [
    ("adamw", lambda: adamw(1e-2, weight_decay=0.1), lambda: chain(
        scale_by_adam(), add_decayed_weights(0.1), scale_by_learning_rate(1e-2))),
    ("adam_l2", lambda: adam(1e-2, weight_decay=0.1), lambda: chain(
        add_decayed_weights(0.1), scale_by_adam(), scale_by_learning_rate(1e-2))),
    ("sgd_nesterov", lambda: sgd(0.05, momentum=0.9, nesterov=True, weight_decay=0.01), lambda: chain(
        add_decayed_weights(0.01), trace(0.9, nesterov=True), scale_by_learning_rate(0.05))),
    ("lion", lambda: lion(1e-2, weight_decay=0.1), lambda: chain(
        scale_by_lion(), add_decayed_weights(0.1), scale_by_learning_rate(1e-2))),
    ("rmsprop", lambda: rmsprop(1e-2, momentum=0.9, centered=True), lambda: chain(
        scale_by_rms(centered=True), trace(0.9), scale_by_learning_rate(1e-2))),
    ("adagrad", lambda: adagrad(0.05, lr_decay=0.1), lambda: chain(
        scale_by_rss(), scale_by_learning_rate(lambda t: 0.05 / (1 + t * 0.1)))),
    ("sgd_schedule", lambda: sgd(_schedule), lambda: chain(scale_by_schedule(_schedule), scale(-1.0))),
]  # fmt: skip


@pytest.mark.parametrize(("fused", "chained"), [c[1:] for c in CHAINS], ids=[c[0] for c in CHAINS])
def test_chains_of_transforms_equal_the_fused_optimizers(fused, chained, rng):
    params, grads_seq = _long_problem(rng)
    a, _ = _run(fused(), params, grads_seq)
    b, _ = _run(chained(), params, grads_seq)
    for k in params:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_chain_reports_its_learning_rate():
    assert chain(scale_by_adam(), scale_by_learning_rate(0.5)).learning_rate == 0.5
    assert chain(scale_by_adam()).learning_rate is None


def test_clip_by_global_norm_scales_all_arrays_together(rng):
    grads = {"a": rng.standard_normal(10).astype(np.float32), "b": rng.standard_normal((3, 3)).astype(np.float32)}
    norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads.values()))
    clip = clip_by_global_norm(norm / 2)
    out, _ = clip.update(grads, clip.init(grads))
    for k in grads:
        np.testing.assert_allclose(out[k], grads[k] / 2, rtol=1e-6)
    loose = clip_by_global_norm(norm * 2)
    out, _ = loose.update(grads, loose.init(grads))
    assert all(out[k] is grads[k] for k in grads)


@pytest.mark.parametrize("max_norm", [0.5, 2.0, 1e3])
def test_clip_by_global_norm_is_torchs_clip_grad_norm(rng, max_norm):
    """The one definition of clipping: ``torch.nn.utils.clip_grad_norm_``, its ``1e-6`` included."""
    torch = require("torch")
    grads = {"a": rng.standard_normal(10).astype(np.float32), "b": rng.standard_normal((3, 3)).astype(np.float32)}
    clip = clip_by_global_norm(max_norm)
    out, _ = clip.update(grads, clip.init(grads))
    tensors = [torch.zeros(g.shape, requires_grad=True) for g in grads.values()]
    for t, g in zip(tensors, grads.values(), strict=True):
        t.grad = torch.from_numpy(g.copy())
    total = float(torch.nn.utils.clip_grad_norm_(tensors, max_norm))
    assert global_norm(grads) == pytest.approx(total, rel=1e-6)
    for t, k in zip(tensors, grads, strict=True):
        np.testing.assert_allclose(out[k], t.grad.numpy(), rtol=1e-6, atol=0)


def test_clip_by_global_norm_keeps_torchs_epsilon():
    """At ``norm == max_norm`` the factor is ``5 / (5 + 1e-6)``, below 1: PyTorch scales (optax would not)."""
    torch = require("torch")
    grads = {"a": np.array([3.0, 4.0], np.float32)}
    clip = clip_by_global_norm(5.0)
    out, _ = clip.update(grads, clip.init(grads))
    np.testing.assert_array_equal(out["a"], np.float32(5.0 / (5.0 + 1e-6)) * grads["a"])
    assert np.all(out["a"] < grads["a"])
    t = torch.tensor([3.0, 4.0], requires_grad=True)
    t.grad = torch.tensor([3.0, 4.0])
    torch.nn.utils.clip_grad_norm_([t], 5.0)
    np.testing.assert_allclose(out["a"], t.grad.numpy(), rtol=1e-7, atol=0)


def test_clip_by_global_norm_leaves_nonfinite_updates_alone():
    grads = {"a": np.array([np.inf, 1.0], np.float32), "b": np.array([np.nan], np.float32)}
    clip = clip_by_global_norm(1.0)
    out, _ = clip.update(grads, clip.init(grads))
    assert all(out[k] is grads[k] for k in grads)  # the loss scaler skips this step; PyTorch would write 0 and NaN


def test_clip_by_value_is_torchs_clip_grad_value(rng):
    torch = require("torch")
    grads = {"a": (2 * rng.standard_normal((4, 5))).astype(np.float32), "b": np.array([np.nan, -3.0], np.float32)}
    clip = clip_by_value(0.5)
    out, _ = clip.update(grads, clip.init(grads))
    for k, g in grads.items():
        t = torch.zeros(g.shape, requires_grad=True)
        t.grad = torch.from_numpy(g.copy())
        torch.nn.utils.clip_grad_value_([t], 0.5)
        np.testing.assert_array_equal(out[k], t.grad.numpy())


def _decayed(mask, params, updates):
    decay = add_decayed_weights(0.1, mask=mask)
    return decay.update(updates, decay.init(params), params)[0]


def test_add_decayed_weights_mask_as_dict_and_as_callable(rng):
    params = {n: rng.standard_normal(s).astype(np.float32) for n, s in [("0.weight", (3, 4)), ("0.bias", (3,))]}
    updates = {n: rng.standard_normal(p.shape).astype(np.float32) for n, p in params.items()}
    everything = _decayed(None, params, updates)
    for mask in ({"0.weight": True, "0.bias": False}, lambda p: {n: n.endswith("weight") for n in p}):
        out = _decayed(mask, params, updates)
        np.testing.assert_array_equal(out["0.weight"], everything["0.weight"])
        np.testing.assert_array_equal(out["0.weight"], updates["0.weight"] + np.float32(0.1) * params["0.weight"])
        assert out["0.bias"] is updates["0.bias"], "a masked-out parameter is passed through"
    # a mask that is all True is the unmasked transform
    for k, v in _decayed(dict.fromkeys(params, True), params, updates).items():
        np.testing.assert_array_equal(v, everything[k])


@pytest.mark.parametrize(
    "mask, error, match",
    [
        ({"0.weight": True}, ValueError, "exactly the parameters"),
        ({"0.weight": True, "0.bias": False, "x": True}, ValueError, "exactly the parameters"),
        ({"0.weight": 1, "0.bias": False}, TypeError, "mask\\['0.weight'\\]"),
        (lambda p: [True, False], TypeError, "mask must be a dict"),
    ],
)
def test_add_decayed_weights_rejects_a_mask_that_does_not_fit(rng, mask, error, match):
    params = {"0.weight": np.ones((2, 2), np.float32), "0.bias": np.ones(2, np.float32)}
    with pytest.raises(error, match=match):
        _decayed(mask, params, params)


def test_scale_by_sign_is_sign_sgd(rng):
    params, grads_seq = _long_problem(rng, steps=3)
    ours, _ = _run(chain(scale_by_sign(), scale_by_learning_rate(0.1)), params, grads_seq)
    expected = {k: params[k] - 0.1 * sum(np.sign(g[k]) for g in grads_seq) for k in params}
    for k in params:
        np.testing.assert_allclose(ours[k], expected[k], rtol=1e-6, atol=1e-6)


# ----- purity, state, registry --------------------------------------------------------------------------------------
FULL_STATE = {
    "sgd": {"momentum": 0.9},
    "adam": {},
    "adamw": {},
    "adagrad": {},
    "rmsprop": {"momentum": 0.9, "centered": True},
    "lion": {},
}
BYTES_PER_PARAM = {"sgd": 4, "adam": 8, "adamw": 8, "adagrad": 4, "rmsprop": 12, "lion": 4}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_update_does_not_modify_its_inputs(name, rng):
    params, grads_seq = _long_problem(rng, steps=3)
    opt = OPTIMIZERS[name](**FULL_STATE[name])
    _, state = _run(opt, params, grads_seq[:2])  # a state with non-zero arrays
    frozen = copy.deepcopy((params, grads_seq[2], state))
    u1, s1 = opt.update(grads_seq[2], state, params)
    u2, s2 = opt.update(grads_seq[2], state, params)  # the same state again gives the same step
    for a, b in zip(_leaves((params, grads_seq[2], state)), _leaves(frozen), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_leaves((u1, s1)), _leaves((u2, s2)), strict=True):
        np.testing.assert_array_equal(a, b)
    assert s1.step == state.step + 1


def _leaves(tree):
    """The arrays and numbers of a nested tuple/dict, in order."""
    if isinstance(tree, dict):
        return [x for k in sorted(tree) for x in _leaves(tree[k])]
    if isinstance(tree, tuple | list):
        return [x for v in tree for x in _leaves(v)]
    return [np.asarray(tree)]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_memory_is_measured_from_the_arrays(name, rng):
    params, grads_seq = _long_problem(rng, steps=1)
    opt = OPTIMIZERS[name](**FULL_STATE[name])
    state = opt.init(params)
    n = sum(v.size for v in params.values())
    assert state_bytes(state) == BYTES_PER_PARAM[name] * n
    _, state = _run(opt, params, grads_seq)
    assert state_bytes_per_param(state, params) == BYTES_PER_PARAM[name]


def test_lighter_configurations_keep_less_state(rng):
    params, _ = _long_problem(rng, steps=0)
    assert state_bytes_per_param(rmsprop().init(params), params) == 4
    assert state_bytes_per_param(rmsprop(centered=True).init(params), params) == 8
    assert state_bytes_per_param(sgd().init(params), params) == 0


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_learning_rate_is_recorded(name):
    assert OPTIMIZERS[name](0.125).learning_rate == 0.125
    assert OPTIMIZERS[name](_schedule).learning_rate is _schedule


def _parallel_problem(rng):
    """One array large enough for the kernels' parallel path and one small one, with three steps of gradients."""
    n = 3 * PARALLEL_MIN_SIZE // 2
    params = {"w": rng.standard_normal(n).astype(np.float32), "b": rng.standard_normal(5).astype(np.float32)}
    grads_seq = [{k: rng.standard_normal(v.shape).astype(np.float32) for k, v in params.items()} for _ in range(3)]
    return params, grads_seq


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_large_arrays_take_the_parallel_path(name, rng):
    params, grads_seq = _parallel_problem(rng)
    hyper = {"weight_decay": 0.01, **FULL_STATE[name]}
    big, _ = _run(OPTIMIZERS[name](1e-2, **hyper), params, grads_seq)
    small = {"w": params["w"][:5], "b": params["b"]}
    small_seq = [{"w": g["w"][:5], "b": g["b"]} for g in grads_seq]
    ref, _ = _run(OPTIMIZERS[name](1e-2, **hyper), small, small_seq)
    for k in small:
        np.testing.assert_array_equal(big[k][:5], ref[k])
    # the small array runs before the large one; the results keep the gradients' order
    opt = OPTIMIZERS[name](1e-2, **hyper)
    updates, state = opt.update(grads_seq[0], opt.init(params), params)
    assert list(updates) == ["w", "b"]
    assert all(list(tree) in ([], ["w", "b"]) for tree in state[1:])


def test_float64_gradients_give_float32_updates(rng):
    params, grads_seq = _long_problem(rng, steps=1)
    opt = adam(1e-2)
    updates, _ = opt.update({k: v.astype(np.float64) for k, v in grads_seq[0].items()}, opt.init(params), params)
    assert all(u.dtype == np.float32 for u in updates.values())


# ----- bad arguments ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("factory", "error", "match"),
    [
        (lambda: adagrad(0.0), ValueError, "lr"),
        (lambda: adagrad(float("nan")), ValueError, "lr"),
        (lambda: adagrad(lr_decay=-0.1), ValueError, "lr_decay"),
        (lambda: adagrad(initial_accumulator_value=-1.0), ValueError, "initial_accumulator_value"),
        (lambda: adagrad(eps=0.0), ValueError, "eps"),
        (lambda: adagrad(weight_decay=-0.1), ValueError, "weight_decay=-0.1"),
        (lambda: rmsprop(alpha=1.0), ValueError, "alpha=1.0"),
        (lambda: rmsprop(eps=-1e-8), ValueError, "eps"),
        (lambda: rmsprop(momentum=-0.5), ValueError, "momentum"),
        (lambda: rmsprop(centered=1), TypeError, "centered"),
        (lambda: lion(betas=(0.9, 1.5)), ValueError, "betas"),
        (lambda: lion(betas=(0.9,)), ValueError, "betas"),
        (lambda: lion(weight_decay=-1.0), ValueError, "weight_decay"),
        (lambda: lion(-1e-4), ValueError, "lr=-0.0001"),
        (lambda: sgd(0.1, nesterov="yes"), TypeError, "nesterov"),
        (lambda: sgd(0.1, momentum=float("inf")), ValueError, "momentum"),
        (lambda: adam(decoupled=1), TypeError, "decoupled"),
        (lambda: adam(betas=(0.9, -0.1)), ValueError, "betas"),
        (lambda: chain(scale_by_adam(), "sgd"), TypeError, "position 1"),
        (lambda: clip_by_global_norm(0.0), ValueError, "max_norm"),
        (lambda: clip_by_value(-1.0), ValueError, "max_value"),
        (lambda: add_decayed_weights(0.1, mask=[True]), TypeError, "mask"),
        (lambda: scale_by_schedule(0.1), TypeError, "schedule"),
        (lambda: scale_by_adam(eps=0.0), ValueError, "eps"),
        (lambda: trace(1.0), ValueError, "momentum"),
        (lambda: scale_by_learning_rate(0), ValueError, "lr"),
        (lambda: add_decayed_weights(-0.1), ValueError, "weight_decay"),
        # a wrong type is a TypeError, as everywhere in the package (odyssey_lessons._validate)
        (lambda: adam("1e-3"), TypeError, "lr='1e-3'"),
        (lambda: sgd(0.1, momentum="0.9"), TypeError, "momentum='0.9'"),
        (lambda: adam(eps=True), TypeError, "eps=True"),
        (lambda: lion(betas=0.9), TypeError, "betas=0.9"),
        (lambda: adam(betas=(0.9, None)), TypeError, "betas"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(factory, error, match):
    with pytest.raises(error, match=match):
        factory()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_mismatched_trees_raise(name, rng):
    params, grads_seq = _long_problem(rng, steps=1)
    opt = OPTIMIZERS[name](**FULL_STATE[name])
    state = opt.init(params)
    grads = grads_seq[0]
    with pytest.raises(ValueError, match="keys"):
        opt.update({**grads, "extra": np.zeros(2, np.float32)}, state, params)
    with pytest.raises(ValueError, match="shape"):
        opt.update({**grads, "b": np.zeros(4, np.float32)}, state, params)
    with pytest.raises(ValueError, match="params"):
        opt.update(grads, state, {**params, "w": np.zeros((3, 5), np.float32)})
    with pytest.raises(TypeError, match="grads"):
        opt.update([grads["w"]], state, params)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_weight_decay_needs_params(name, rng):
    params, grads_seq = _long_problem(rng, steps=1)
    opt = OPTIMIZERS[name](weight_decay=0.1)
    with pytest.raises(ValueError, match="params"):
        opt.update(grads_seq[0], opt.init(params))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_states_the_caller_keeps_are_never_overwritten(name, rng):
    """Update outputs reuse the memory of earlier outputs only once the caller has dropped them."""
    params, grads_seq = _long_problem(rng, steps=8)
    opt = OPTIMIZERS[name](**FULL_STATE[name])
    state, kept, snapshots = opt.init(params), [], []
    for i, grads in enumerate(grads_seq):
        updates, state = opt.update(grads, state, params)
        if i % 2 == 0:  # keep every other step, drop the rest
            kept.append((updates, state))
            snapshots.append(copy.deepcopy((updates, state)))
    for a, b in zip(_leaves(kept), _leaves(snapshots), strict=True):
        np.testing.assert_array_equal(a, b)


def test_dropped_states_are_recycled(rng):
    params = {"w": rng.standard_normal(1000).astype(np.float32)}
    opt = adam()
    state = opt.init(params)
    seen = set()
    for _ in range(6):
        updates, state = opt.update(params, state, params)
        seen.add(state.mu["w"].__array_interface__["data"][0])
    assert len(seen) <= 3  # memory of dropped states is reused, not freshly allocated every step


def test_apply_updates_never_overwrites_kept_results(rng):
    params = {"w": rng.standard_normal((40, 50)).astype(np.float32), "b": np.array(0.25, np.float32)}
    updates = {k: np.full(np.shape(v), 0.5, np.float32) for k, v in params.items()}
    history = [params]
    for _ in range(5):
        history.append(apply_updates(history[-1], updates))
        apply_updates(history[-1], updates)  # a dropped result, whose memory may be reused
    for i, p in enumerate(history):
        np.testing.assert_allclose(p["w"], params["w"] + 0.5 * i, rtol=1e-6)
        assert p["b"].shape == ()


def test_apply_updates_casts_other_dtypes_to_float32(rng):
    params = {"w": rng.standard_normal(5)}  # float64
    out = apply_updates(params, {"w": np.ones(5, np.float32)})
    assert out["w"].dtype == np.float32
    np.testing.assert_allclose(out["w"], params["w"] + 1, rtol=1e-6)


# ----- the fused in-place step ----------------------------------------------------------------------------------------
def _copy(tree):
    return {k: np.array(v, copy=True) for k, v in tree.items()}


def _state_arrays(state):
    """The state's arrays (not the step counter), in order."""
    return [a for part in state[1:] for _, a in sorted(part.items())]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_fused_step_equals_update_then_apply_bit_for_bit(case, rng):
    """``opt.step`` (one pass, in place) gives exactly the float32 values of ``update`` + ``apply_updates``."""
    name, lr, hyper = case
    params, grads_seq = _long_problem(rng)
    pure, _ = _run(OPTIMIZERS[name](lr, **hyper), params, grads_seq)
    opt = OPTIMIZERS[name](lr, **hyper)
    fused = _copy(params)
    state = opt.init(fused)
    for grads in grads_seq:
        state = opt.step(fused, grads, state)
    assert state.step == len(grads_seq)
    for k in params:
        np.testing.assert_array_equal(fused[k], pure[k], err_msg=k)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in TORCH_OPTIMIZERS], ids=_case_id)
def test_fused_step_matches_torch_optim_foreach(case, rng):
    _compare_with_torch(case, rng, foreach=True, fused=True)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fused_step_writes_in_place_on_the_parallel_path(name, rng):
    params, grads_seq = _parallel_problem(rng)
    hyper = {"weight_decay": 0.01, **FULL_STATE[name]}
    pure, _ = _run(OPTIMIZERS[name](1e-2, **hyper), params, grads_seq)
    opt = OPTIMIZERS[name](1e-2, **hyper)
    fused = _copy(params)
    arrays = {k: id(v) for k, v in fused.items()}
    state = opt.init(fused)
    state_arrays = _state_arrays(state)
    for grads in grads_seq:
        state = opt.step(fused, grads, state)
    assert {k: id(v) for k, v in fused.items()} == arrays
    after = _state_arrays(state)  # the state's own memory, overwritten
    assert state_arrays and len(after) == len(state_arrays)
    assert all(np.shares_memory(a, b) for a, b in zip(after, state_arrays, strict=True))
    for k in params:
        np.testing.assert_array_equal(fused[k], pure[k], err_msg=k)


def test_fused_step_refuses_arrays_it_cannot_write_through(rng):
    params, grads_seq = _long_problem(rng, steps=1)
    opt = adam(1e-2)
    state = opt.init(params)
    with pytest.raises(TypeError, match=r"params\['w'\] must be a float32 numpy array.*float64"):
        opt.step({**params, "w": params["w"].astype(np.float64)}, grads_seq[0], state)
    with pytest.raises(ValueError, match=r"params\['w'\] must be C-contiguous and writeable"):
        opt.step({**params, "w": np.asfortranarray(params["w"])}, grads_seq[0], state)
    frozen = _copy(params)
    frozen["b"].flags.writeable = False
    with pytest.raises(ValueError, match=r"params\['b'\]"):
        opt.step(frozen, grads_seq[0], state)
    with pytest.raises(TypeError, match="params must be a dict"):
        opt.step([params["w"]], grads_seq[0], state)
    assert chain(scale(1.0)).step is None  # composed transforms have only the pure form
