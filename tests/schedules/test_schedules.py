"""Learning-rate schedules: each against a slow per-step reference written here, and against torch.optim.lr_scheduler
where torch has the same schedule. Step k is the learning rate of the k-th update, k = 0 for the first."""

from __future__ import annotations

import math

import numpy as np
import pytest

from odyssey_lessons import schedules
from odyssey_lessons.schedules import (
    SCHEDULES,
    ReduceLROnPlateau,
    Schedule,
    constant,
    cosine,
    example_schedules,
    exponential,
    inverse_sqrt,
    join,
    linear,
    multistep,
    one_cycle,
    polynomial,
    sgdr,
    step_decay,
    warmup,
    warmup_cosine,
    wsd,
)
from tests.oracles import require

N = 60  # steps compared per schedule


# ----- slow references: one Python float per step, straight from the formulas ----------------------------------------
def ref_step_decay(k, lr, step_size, gamma):
    return lr * gamma ** (k // step_size)


def ref_multistep(k, lr, milestones, gamma):
    return lr * gamma ** sum(1 for m in milestones if m <= k)


def ref_linear(k, lr, start_factor, end_factor, total_steps):
    return lr * (start_factor + (end_factor - start_factor) * min(k, total_steps) / total_steps)


def ref_polynomial(k, lr, total_steps, power, end_lr):
    return (lr - end_lr) * (1 - min(k, total_steps) / total_steps) ** power + end_lr


def ref_cosine(k, lr, total_steps, min_lr):
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * min(k, total_steps) / total_steps)) / 2


def ref_sgdr(k, lr, first_cycle_steps, cycle_mult, min_lr):
    period = first_cycle_steps
    while k >= period:  # walk the cycles one by one
        k -= period
        period *= cycle_mult
    return min_lr + (lr - min_lr) * (1 + math.cos(math.pi * k / period)) / 2


def ref_one_cycle(k, max_lr, total_steps, pct_start, div_factor, final_div_factor, anneal, three_phase):
    lo, hi = max_lr / div_factor, max_lr
    end = lo / final_div_factor
    k = min(k, total_steps - 1)
    if three_phase:
        knots = [
            (0, lo),
            (pct_start * total_steps - 1, hi),
            (2 * pct_start * total_steps - 2, lo),
            (total_steps - 1, end),
        ]
    else:
        knots = [(0, lo), (pct_start * total_steps - 1, hi), (total_steps - 1, end)]
    i = next(i for i in range(1, len(knots)) if k <= knots[i][0] or i == len(knots) - 1)
    (x0, y0), (x1, y1) = knots[i - 1], knots[i]
    p = (k - x0) / (x1 - x0)
    shape = (1 - math.cos(math.pi * p)) / 2 if anneal == "cos" else p
    return y0 + (y1 - y0) * shape


def ref_inverse_sqrt(k, lr, warmup_steps):
    n = k + 1
    return lr * (n / warmup_steps if n < warmup_steps else (warmup_steps / n) ** 0.5)


def ref_wsd(k, lr, warmup_steps, stable_steps, decay_steps, min_lr, decay):
    if k < warmup_steps:
        return lr * k / warmup_steps
    if k < warmup_steps + stable_steps:
        return lr
    p = min(1.0, (k - warmup_steps - stable_steps) / decay_steps)
    f = {"linear": 1 - p, "cosine": (1 + math.cos(math.pi * p)) / 2, "sqrt": 1 - p**0.5}[decay]
    return min_lr + (lr - min_lr) * f


def ref_warmup_cosine(k, lr, warmup_steps, total_steps, min_lr, start_factor):
    if k < warmup_steps:
        return lr * (start_factor + (1 - start_factor) * k / warmup_steps)
    return ref_cosine(k - warmup_steps, lr, total_steps - warmup_steps, min_lr)


REFERENCE_CASES = [
    (constant, lambda k, lr: lr, {"lr": 0.3}),
    (step_decay, ref_step_decay, {"lr": 0.1, "step_size": 7, "gamma": 0.5}),
    (multistep, ref_multistep, {"lr": 0.1, "milestones": [5, 6, 30], "gamma": 0.3}),
    (exponential, lambda k, lr, gamma: lr * gamma**k, {"lr": 2.0, "gamma": 0.93}),
    (exponential, lambda k, lr, gamma: lr * gamma**k, {"lr": 1e-6, "gamma": 1.2}),
    (linear, ref_linear, {"lr": 0.1, "start_factor": 0.25, "end_factor": 1.0, "total_steps": 17}),
    (linear, ref_linear, {"lr": 0.1, "start_factor": 1.0, "end_factor": 0.0, "total_steps": 40}),
    (polynomial, ref_polynomial, {"lr": 0.1, "total_steps": 33, "power": 2.0, "end_lr": 0.01}),
    (polynomial, ref_polynomial, {"lr": 0.1, "total_steps": 33, "power": 0.5, "end_lr": 0.0}),
    (cosine, ref_cosine, {"lr": 0.5, "total_steps": 41, "min_lr": 0.05}),
    (sgdr, ref_sgdr, {"lr": 0.1, "first_cycle_steps": 7, "cycle_mult": 1, "min_lr": 0.0}),
    (sgdr, ref_sgdr, {"lr": 0.1, "first_cycle_steps": 3, "cycle_mult": 2, "min_lr": 0.01}),
    (sgdr, ref_sgdr, {"lr": 0.1, "first_cycle_steps": 2, "cycle_mult": 3, "min_lr": 0.0}),
    (inverse_sqrt, ref_inverse_sqrt, {"lr": 1e-3, "warmup_steps": 10}),
    (inverse_sqrt, ref_inverse_sqrt, {"lr": 1e-3, "warmup_steps": 1}),
    (
        warmup_cosine,
        ref_warmup_cosine,
        {"lr": 0.1, "warmup_steps": 8, "total_steps": 50, "min_lr": 0.0, "start_factor": 0.0},
    ),
    (
        warmup_cosine,
        ref_warmup_cosine,
        {"lr": 0.1, "warmup_steps": 3, "total_steps": 9, "min_lr": 0.02, "start_factor": 0.1},
    ),
]
for _decay in ("linear", "cosine", "sqrt"):
    _args = {"lr": 0.1, "warmup_steps": 5, "stable_steps": 20, "decay_steps": 15, "min_lr": 0.001, "decay": _decay}
    REFERENCE_CASES.append((wsd, ref_wsd, _args))
REFERENCE_CASES.append(
    (wsd, ref_wsd, {"lr": 0.1, "warmup_steps": 0, "stable_steps": 0, "decay_steps": 9, "min_lr": 0.0, "decay": "sqrt"})
)
for _three in (False, True):
    for _anneal in ("cos", "linear"):
        for _total, _pct in ((50, 0.3), (37, 0.25)):
            _args = {
                "max_lr": 0.2,
                "total_steps": _total,
                "pct_start": _pct,
                "div_factor": 25.0,
                "final_div_factor": 1e4,
                "anneal": _anneal,
                "three_phase": _three,
            }
            REFERENCE_CASES.append((one_cycle, ref_one_cycle, _args))


@pytest.mark.parametrize(("factory", "reference", "kwargs"), REFERENCE_CASES, ids=lambda x: getattr(x, "__name__", ""))
def test_matches_reference(factory, reference, kwargs):
    sched = factory(**kwargs)
    want = np.array([reference(k, **kwargs) for k in range(N)])
    got = np.array([sched(k) for k in range(N)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


# ----- torch.optim.lr_scheduler as the oracle ------------------------------------------------------------------------
def torch_lrs(make_scheduler, lr: float, n: int) -> np.ndarray:
    """The lr of each of ``n`` updates: ``param_groups[0]["lr"]`` read before each optimizer step."""
    torch = require("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr)
    scheduler = make_scheduler(torch.optim.lr_scheduler, opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(out)


TORCH_CASES = {
    "StepLR": (step_decay(0.1, step_size=7, gamma=0.5), lambda m, o: m.StepLR(o, step_size=7, gamma=0.5), N),
    "MultiStepLR": (
        multistep(0.1, milestones=[3, 10, 11], gamma=0.2),
        lambda m, o: m.MultiStepLR(o, [3, 10, 11], 0.2),
        N,
    ),
    "ExponentialLR": (exponential(0.1, gamma=0.9), lambda m, o: m.ExponentialLR(o, gamma=0.9), N),
    "LinearLR": (
        linear(0.1, start_factor=0.2, end_factor=0.9, total_steps=13),
        lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=13),
        N,
    ),
    "LinearLR-default": (linear(0.1, total_steps=5), lambda m, o: m.LinearLR(o, total_iters=5), 20),
    "PolynomialLR": (
        polynomial(0.1, total_steps=21, power=2.0),
        lambda m, o: m.PolynomialLR(o, total_iters=21, power=2.0),
        N,
    ),
    "CosineAnnealingLR": (
        cosine(0.1, total_steps=40, min_lr=0.001),
        lambda m, o: m.CosineAnnealingLR(o, T_max=40, eta_min=0.001),
        41,  # torch's cosine turns back up after T_max; this schedule holds min_lr there
    ),
    "CosineAnnealingLR-0": (cosine(0.1, total_steps=25), lambda m, o: m.CosineAnnealingLR(o, T_max=25), 26),
    "CosineAnnealingWarmRestarts": (
        sgdr(0.1, first_cycle_steps=6, min_lr=0.001),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=6, eta_min=0.001),
        N,
    ),
    "CosineAnnealingWarmRestarts-mult": (
        sgdr(0.1, first_cycle_steps=3, cycle_mult=2),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
        N,
    ),
    "warmup=LinearLR": (
        warmup(constant(0.1), warmup_steps=9, start_factor=0.1),
        lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=9),
        20,
    ),
}
for _three in (False, True):
    for _anneal in ("cos", "linear"):
        for _total, _pct in ((50, 0.3), (37, 0.25), (100, 0.1)):
            TORCH_CASES[f"OneCycleLR-{_anneal}-{'three' if _three else 'two'}-{_total}"] = (
                one_cycle(0.2, total_steps=_total, pct_start=_pct, anneal=_anneal, three_phase=_three),
                lambda m, o, t=_total, p=_pct, a=_anneal, th=_three: m.OneCycleLR(
                    o, max_lr=0.2, total_steps=t, pct_start=p, anneal_strategy=a, three_phase=th, cycle_momentum=False
                ),
                _total,
            )


@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_matches_torch(name):
    sched, make_scheduler, n = TORCH_CASES[name]
    want = torch_lrs(make_scheduler, 0.1, n)  # every case starts from lr=0.1 (OneCycleLR sets its own)
    got = sched(np.arange(n))
    # torch's recursive ("chainable") forms round differently from the closed forms: allow 1e-9 relative.
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * got.max())


def test_cosine_holds_min_lr_after_total_steps():
    # Past T_max torch's CosineAnnealingLR (2.13) climbs back; that is torch's choice, not asserted here.
    sched = cosine(0.1, total_steps=10, min_lr=0.01)
    assert sched(np.arange(10, 40)).tolist() == [0.01] * 30


def test_one_cycle_holds_final_lr_after_total_steps():
    sched = one_cycle(1.0, total_steps=20)
    assert sched(19) == pytest.approx(1.0 / 25 / 1e4, rel=1e-12)
    assert sched(np.arange(19, 30)).tolist() == [sched(19)] * 11


PLATEAU_CASES = [
    {},
    {"patience": 2},
    {"patience": 1, "cooldown": 3, "factor": 0.5},
    {"patience": 0, "min_lr": 0.003, "factor": 0.3},
    {"mode": "max", "patience": 2, "threshold": 0.01},
    {"patience": 2, "threshold_mode": "abs", "threshold": 0.05, "cooldown": 1},
    {"mode": "max", "threshold_mode": "abs", "patience": 3, "threshold": 0.02},
]


@pytest.mark.parametrize(
    "kwargs", PLATEAU_CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default"
)
def test_reduce_on_plateau_matches_torch(kwargs, rng):
    torch = require("torch")
    # A noisy loss that improves, stalls, improves a little and stalls again, so every rule gets exercised.
    trend = np.concatenate([np.linspace(1.0, 0.5, 15), np.full(25, 0.5), np.linspace(0.5, 0.45, 10), np.full(30, 0.45)])
    metrics = trend + rng.normal(0.0, 0.01, trend.size)
    if kwargs.get("mode") == "max":
        metrics = 1.0 - metrics
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    ours = ReduceLROnPlateau(0.1, **kwargs)
    got, want = [], []
    for m in metrics:
        got.append(ours.step(float(m)))
        opt.step()
        theirs.step(float(m))
        want.append(opt.param_groups[0]["lr"])
    assert len(set(want)) > 1  # the script does reduce the rate
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert ours.lr == got[-1] == ours(123)
    assert ours(np.arange(3)).tolist() == [ours.lr] * 3


# ----- vectorised calls, types and repr ------------------------------------------------------------------------------
def all_schedules() -> dict[str, Schedule]:
    extra = {
        "warmup(sgdr)": warmup(sgdr(0.1, first_cycle_steps=5, cycle_mult=2), warmup_steps=4, start_factor=0.2),
        "join": join([constant(0.1), cosine(0.1, total_steps=30), constant(0.01)], [10, 40]),
        "wsd-cosine": wsd(0.1, warmup_steps=10, stable_steps=50, decay_steps=40, decay="cosine"),
        "one_cycle-three": one_cycle(0.1, total_steps=100, three_phase=True, anneal="linear"),
    }
    return {**example_schedules(100), **extra}


@pytest.mark.parametrize("name", list(all_schedules()))
def test_vectorised_equals_scalar(name):
    sched = all_schedules()[name]
    steps = np.arange(150)
    vec = sched(steps)
    assert vec.dtype == np.float64 and vec.shape == steps.shape
    assert vec.tolist() == [sched(int(k)) for k in steps]
    assert all(type(sched(k)) is float for k in (0, np.int32(7), np.int64(149)))
    grid = sched(steps.reshape(10, 15).astype(np.int32))
    assert grid.shape == (10, 15) and np.array_equal(grid.ravel(), vec)
    assert sched(np.zeros(0, dtype=np.int64)).shape == (0,)
    assert np.all(vec >= 0) and np.all(np.isfinite(vec))


@pytest.mark.parametrize("name", list(all_schedules()))
def test_repr_rebuilds_the_schedule(name):
    sched = all_schedules()[name]
    rebuilt = eval(repr(sched), vars(schedules))  # repr is the call that made the schedule
    assert repr(rebuilt) == repr(sched)
    assert np.array_equal(rebuilt(np.arange(120)), sched(np.arange(120)))


@pytest.mark.parametrize("step", [-1, np.int64(-3), np.array([0, 5, -2])])
def test_negative_step_raises(step):
    with pytest.raises(ValueError, match="step"):
        cosine(0.1, total_steps=10)(step)
    with pytest.raises(ValueError, match="step"):
        ReduceLROnPlateau(0.1)(step)


@pytest.mark.parametrize("step", [1.0, True, np.array([0.0, 1.0]), "3"])
def test_non_integer_step_raises(step):
    with pytest.raises(TypeError, match="step"):
        constant(0.1)(step)


def test_registry_and_examples():
    examples = example_schedules(1000, lr=0.3)
    assert list(examples) == list(SCHEDULES)
    for name, sched in examples.items():
        assert sched.name == name == SCHEDULES[name].__name__
        assert max(sched(np.arange(1000))) == pytest.approx(0.3, rel=1e-3)
        if sched.total_steps is not None:
            assert sched.total_steps == 1000
    with pytest.raises(ValueError, match="total_steps"):
        example_schedules(10)


# ----- combinators ---------------------------------------------------------------------------------------------------
def test_join_restarts_each_schedule_at_its_boundary():
    a, b, c = constant(0.5), exponential(0.2, gamma=0.9), linear(0.1, start_factor=1.0, end_factor=0.0, total_steps=5)
    sched = join([a, b, c], [4, 10])
    want = [a(k) for k in range(4)] + [b(k - 4) for k in range(4, 10)] + [c(k - 10) for k in range(10, 20)]
    assert sched(np.arange(20)).tolist() == want
    assert sched.total_steps == 15
    assert join([a], []).total_steps is None and join([a], [])(3) == 0.5


def test_warmup_is_continuous_and_shifts_the_schedule():
    inner = cosine(0.4, total_steps=20, min_lr=0.04)
    sched = warmup(inner, warmup_steps=6, start_factor=0.25)
    assert sched(0) == pytest.approx(0.1)
    assert sched(6) == inner(0) == 0.4
    assert sched(5) < sched(6)
    assert sched(np.arange(6, 40)).tolist() == inner(np.arange(34)).tolist()
    assert np.all(np.diff(sched(np.arange(7))) > 0)
    assert sched.total_steps == 26
    assert warmup(constant(1.0), warmup_steps=4)(np.arange(6)).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]


def test_warmup_cosine_is_warmup_of_cosine():
    sched = warmup_cosine(0.1, warmup_steps=10, total_steps=100, min_lr=0.001)
    same = warmup(cosine(0.1, total_steps=90, min_lr=0.001), warmup_steps=10)
    assert np.array_equal(sched(np.arange(130)), same(np.arange(130)))
    assert sched(10) == 0.1 and sched(100) == pytest.approx(0.001)
    assert np.array_equal(
        warmup_cosine(0.1, warmup_steps=0, total_steps=50)(np.arange(60)), cosine(0.1, total_steps=50)(np.arange(60))
    )


def test_inverse_sqrt_peaks_at_the_end_of_warmup():
    sched = inverse_sqrt(1.0, warmup_steps=16)
    values = sched(np.arange(200))
    assert int(np.argmax(values)) == 15 and values[15] == 1.0
    assert sched(63) == pytest.approx(0.5)  # sqrt(16 / 64)


def test_wsd_phases():
    sched = wsd(1.0, warmup_steps=10, stable_steps=30, decay_steps=20, min_lr=0.1)
    values = sched(np.arange(80))
    assert values[0] == 0.0 and values[5] == 0.5
    assert np.all(values[10:41] == 1.0)
    assert np.all(np.diff(values[40:61]) < 0)
    assert np.all(values[60:] == 0.1) and sched.total_steps == 60


# ----- bad arguments -------------------------------------------------------------------------------------------------
BAD = [
    (constant, {"lr": 0.0}, ValueError, "lr=0.0"),
    (constant, {"lr": -1e-3}, ValueError, "lr"),
    (constant, {"lr": float("nan")}, ValueError, "lr"),
    (constant, {"lr": float("inf")}, ValueError, "lr"),
    (constant, {"lr": "0.1"}, TypeError, "lr"),
    (constant, {"lr": True}, TypeError, "lr"),
    (step_decay, {"lr": 0.1, "step_size": 0}, ValueError, "step_size=0"),
    (step_decay, {"lr": 0.1, "step_size": 2.5}, TypeError, "step_size"),
    (step_decay, {"lr": 0.1, "step_size": 3, "gamma": 0.0}, ValueError, "gamma"),
    (multistep, {"lr": 0.1, "milestones": [10, 5]}, ValueError, "milestones"),
    (multistep, {"lr": 0.1, "milestones": [5, 5]}, ValueError, "milestones"),
    (multistep, {"lr": 0.1, "milestones": []}, ValueError, "milestones"),
    (multistep, {"lr": 0.1, "milestones": [-1, 5]}, ValueError, "milestones"),
    (exponential, {"lr": 0.1, "gamma": -0.5}, ValueError, "gamma"),
    (linear, {"lr": 0.1, "total_steps": 0}, ValueError, "total_steps=0"),
    (linear, {"lr": 0.1, "total_steps": 5, "start_factor": -0.1}, ValueError, "start_factor"),
    (linear, {"lr": 0.1, "total_steps": 5, "start_factor": 0.0, "end_factor": 0.0}, ValueError, "end_factor"),
    (polynomial, {"lr": 0.1, "total_steps": 5, "power": 0.0}, ValueError, "power"),
    (polynomial, {"lr": 0.1, "total_steps": 5, "end_lr": 0.2}, ValueError, "end_lr"),
    (cosine, {"lr": 0.1, "total_steps": -5}, ValueError, "total_steps"),
    (cosine, {"lr": 0.1, "total_steps": 5, "min_lr": -0.01}, ValueError, "min_lr"),
    (cosine, {"lr": 0.1, "total_steps": 5, "min_lr": 0.2}, ValueError, "min_lr"),
    (warmup_cosine, {"lr": 0.1, "warmup_steps": 100, "total_steps": 100}, ValueError, "warmup longer than the run"),
    (warmup_cosine, {"lr": 0.1, "warmup_steps": 150, "total_steps": 100}, ValueError, "warmup_steps=150"),
    (warmup_cosine, {"lr": 0.1, "warmup_steps": -1, "total_steps": 100}, ValueError, "warmup_steps"),
    (warmup_cosine, {"lr": 0.0, "warmup_steps": 1, "total_steps": 100}, ValueError, "lr"),
    (sgdr, {"lr": 0.1, "first_cycle_steps": 0}, ValueError, "first_cycle_steps"),
    (sgdr, {"lr": 0.1, "first_cycle_steps": 5, "cycle_mult": 0}, ValueError, "cycle_mult"),
    (sgdr, {"lr": 0.1, "first_cycle_steps": 5, "cycle_mult": 1.5}, TypeError, "cycle_mult"),
    (one_cycle, {"max_lr": 0.0, "total_steps": 100}, ValueError, "max_lr"),
    (one_cycle, {"max_lr": 0.1, "total_steps": 100, "pct_start": 1.0}, ValueError, "pct_start"),
    (one_cycle, {"max_lr": 0.1, "total_steps": 100, "pct_start": 0.0}, ValueError, "pct_start"),
    (one_cycle, {"max_lr": 0.1, "total_steps": 3, "pct_start": 0.3}, ValueError, "pct_start"),
    (one_cycle, {"max_lr": 0.1, "total_steps": 100, "pct_start": 0.6, "three_phase": True}, ValueError, "three_phase"),
    (one_cycle, {"max_lr": 0.1, "total_steps": 100, "anneal": "cosine"}, ValueError, "anneal"),
    (one_cycle, {"max_lr": 0.1, "total_steps": 100, "div_factor": 0}, ValueError, "div_factor"),
    (one_cycle, {"max_lr": 0.1, "total_steps": 100, "final_div_factor": -1.0}, ValueError, "final_div_factor"),
    (inverse_sqrt, {"lr": 0.1, "warmup_steps": 0}, ValueError, "warmup_steps"),
    (wsd, {"lr": 0.1, "warmup_steps": 1, "stable_steps": -1, "decay_steps": 5}, ValueError, "stable_steps"),
    (wsd, {"lr": 0.1, "warmup_steps": 1, "stable_steps": 1, "decay_steps": 0}, ValueError, "decay_steps"),
    (wsd, {"lr": 0.1, "warmup_steps": 1, "stable_steps": 1, "decay_steps": 5, "decay": "exp"}, ValueError, "decay"),
    (warmup, {"schedule": 0.1, "warmup_steps": 5}, TypeError, "schedule"),
    (warmup, {"schedule": constant(0.1), "warmup_steps": 0}, ValueError, "warmup_steps"),
    (warmup, {"schedule": constant(0.1), "warmup_steps": 5, "start_factor": 1.5}, ValueError, "start_factor"),
    (join, {"schedules": [constant(0.1), constant(0.2)], "boundaries": []}, ValueError, "boundaries"),
    (
        join,
        {"schedules": [constant(0.1), constant(0.2), constant(0.3)], "boundaries": [5, 5]},
        ValueError,
        "boundaries",
    ),
    (join, {"schedules": [constant(0.1), constant(0.2)], "boundaries": [0]}, ValueError, "boundaries"),
    (join, {"schedules": [constant(0.1), lambda k: 0.1], "boundaries": [3]}, TypeError, r"schedules\[1\]"),
    (join, {"schedules": [], "boundaries": []}, ValueError, "schedules"),
    (ReduceLROnPlateau, {"lr": -0.1}, ValueError, "lr"),
    (ReduceLROnPlateau, {"lr": 0.1, "factor": 1.0}, ValueError, "factor"),
    (ReduceLROnPlateau, {"lr": 0.1, "patience": -1}, ValueError, "patience"),
    (ReduceLROnPlateau, {"lr": 0.1, "mode": "minimum"}, ValueError, "mode"),
    (ReduceLROnPlateau, {"lr": 0.1, "threshold_mode": "relative"}, ValueError, "threshold_mode"),
    (ReduceLROnPlateau, {"lr": 0.1, "threshold": -1e-4}, ValueError, "threshold"),
    (ReduceLROnPlateau, {"lr": 0.1, "cooldown": -2}, ValueError, "cooldown"),
    (ReduceLROnPlateau, {"lr": 0.1, "min_lr": 1.0}, ValueError, "min_lr"),
]


@pytest.mark.parametrize(("factory", "kwargs", "error", "match"), BAD, ids=lambda x: getattr(x, "__name__", None))
def test_bad_arguments_raise(factory, kwargs, error, match):
    with pytest.raises(error, match=match):
        factory(**kwargs)


def test_plateau_rejects_bad_metrics():
    sched = ReduceLROnPlateau(0.1)
    with pytest.raises(ValueError, match="metric"):
        sched.step(float("nan"))
    with pytest.raises(TypeError, match="metric"):
        sched.step("0.5")
    with pytest.raises(TypeError, match="metric"):
        sched.step(np.array([0.5, 0.4]))
    assert sched.step(np.float32(0.5)) == sched.step(np.array(0.4)) == 0.1


def test_multistep_error_names_the_milestone():
    with pytest.raises(ValueError, match=r"milestones\[1\]=0"):
        multistep(0.1, milestones=[3, 0])
