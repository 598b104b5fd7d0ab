"""Schedules with a warm-up: linear warm-up in front of any schedule, warmup-cosine, inverse square root, WSD."""

from __future__ import annotations

import math

import numpy as np

from odyssey_lessons._validate import check_choice, check_int, check_real
from odyssey_lessons.schedules._base import Schedule
from odyssey_lessons.schedules._checks import check_lr, check_min_lr
from odyssey_lessons.schedules._decay import cosine


def _check_schedule(name: str, value: object) -> Schedule:
    if not isinstance(value, Schedule):
        raise TypeError(f"{name} must be a Schedule (made by odyssey_lessons.schedules), got {name}={value!r}")
    return value


def warmup(schedule: Schedule, *, warmup_steps: int, start_factor: float = 0.0) -> Schedule:
    """Linear warm-up in front of ``schedule``, which then runs from its own step 0.

    With ``W = warmup_steps``, ``s = start_factor`` and ``peak = schedule(0)``::

        lr_k = peak * (s + (1 - s) * k / W)    for k < W
        lr_k = schedule(k - W)                 for k >= W

    so the value at ``k = W`` is ``schedule(0)`` and the curve is continuous. With the default ``s = 0`` the first
    update (``k = 0``) has ``lr = 0``, as optax's warm-ups from ``init_value=0``; torch's ``LinearLR`` (2.13) needs
    ``s > 0`` and then gives the same values (``LinearLR(start_factor=s, total_iters=W)`` chained before the schedule).

    Raises:
        TypeError: ``schedule`` is not a :class:`Schedule`.
        ValueError: ``warmup_steps < 1`` or ``start_factor`` outside ``[0, 1]``.
    """
    schedule = _check_schedule("schedule", schedule)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=1)
    s = check_real("start_factor", start_factor)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"start_factor must be in [0, 1], got {start_factor=}")
    peak = float(schedule(0))

    def kernel(k: np.ndarray) -> np.ndarray:
        out = peak * (s + (1.0 - s) * k / warmup_steps)
        after = k >= warmup_steps
        out[after] = schedule.values(k[after] - warmup_steps)
        return out

    total = None if schedule.total_steps is None else warmup_steps + schedule.total_steps
    args = {"schedule": schedule, "warmup_steps": warmup_steps, "start_factor": s}
    return Schedule("warmup", args, kernel, total_steps=total)


def warmup_cosine(
    lr: float, *, warmup_steps: int, total_steps: int, min_lr: float = 0.0, start_factor: float = 0.0
) -> Schedule:
    """Linear warm-up to ``lr`` over ``warmup_steps``, then cosine decay to ``min_lr`` at ``total_steps``.

    ``total_steps`` counts the whole run, warm-up included (as optax ``warmup_cosine_decay_schedule``'s
    ``decay_steps``): this is ``warmup(cosine(lr, total_steps=T - W, min_lr=min_lr), warmup_steps=W)``, and
    ``warmup_steps=0`` gives the plain cosine.

    Raises:
        ValueError: ``lr`` not > 0, ``warmup_steps >= total_steps`` (warm-up longer than the run), ``min_lr``
            outside ``[0, lr]``, ``start_factor`` outside ``[0, 1]``.
    """
    lr = check_lr(lr)
    total_steps = check_int("total_steps", total_steps, minimum=1)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
    start_factor = check_real("start_factor", start_factor)
    if warmup_steps >= total_steps:
        raise ValueError(
            f"warmup longer than the run: warmup_steps must be < total_steps, got {warmup_steps=}, {total_steps=}"
        )
    decay = cosine(lr, total_steps=total_steps - warmup_steps, min_lr=min_lr)
    inner = decay if warmup_steps == 0 else warmup(decay, warmup_steps=warmup_steps, start_factor=start_factor)
    args = {
        "lr": lr,
        "warmup_steps": warmup_steps,
        "total_steps": total_steps,
        "min_lr": decay.args["min_lr"],
        "start_factor": start_factor,
    }
    return Schedule("warmup_cosine", args, inner.values, total_steps=total_steps)


def inverse_sqrt(lr: float, *, warmup_steps: int) -> Schedule:
    """Linear warm-up, then decay as ``1/sqrt(step)`` (the Transformer's "Noam" schedule, Vaswani et al. 2017)::

        lr_k = lr * min((k + 1) / W, sqrt(W / (k + 1)))

    This is Noam's ``d**-0.5 * min(n**-0.5, n * W**-1.5)`` with ``n = k + 1`` (so the first update is not at 0),
    rescaled so the peak, at ``k = W - 1``, is ``lr``. ``warmup_steps=1`` gives a pure ``lr / sqrt(k + 1)``.

    Raises:
        ValueError: ``lr`` not > 0 or ``warmup_steps < 1``.
    """
    lr = check_lr(lr)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=1)

    def kernel(k: np.ndarray) -> np.ndarray:
        n = k + 1.0
        return lr * np.minimum(n / warmup_steps, np.sqrt(warmup_steps / n))

    return Schedule("inverse_sqrt", {"lr": lr, "warmup_steps": warmup_steps}, kernel, total_steps=None)


# f(p) for the WSD decay phase, p = fraction of the decay done: 1 at its start, 0 at its end.
_WSD_DECAYS = {
    "linear": lambda p: 1.0 - p,
    "cosine": lambda p: (1.0 + np.cos(math.pi * p)) / 2.0,
    "sqrt": lambda p: 1.0 - np.sqrt(p),
}


def wsd(
    lr: float,
    *,
    warmup_steps: int,
    stable_steps: int,
    decay_steps: int,
    min_lr: float = 0.0,
    decay: str = "linear",
) -> Schedule:
    """Warmup-stable-decay (Hu et al. 2024, MiniCPM): warm up, hold ``lr``, then decay ("cool down") to ``min_lr``.

    With ``W``, ``S``, ``D`` the three phase lengths::

        lr_k = lr * k / W                                      for k < W
        lr_k = lr                                              for W <= k < W + S
        lr_k = min_lr + (lr - min_lr) * f((k - W - S) / D)     for k >= W + S  (p clipped to 1: min_lr after)

    with ``f(p) = 1 - p`` (``"linear"``), ``(1 + cos(pi p)) / 2`` (``"cosine"``) or ``1 - sqrt(p)`` (``"sqrt"``, the
    cool-down of Hägele et al. 2024). ``total_steps = W + S + D``. The stable phase can be extended after the fact,
    which is the point of WSD: one run serves every budget by branching off a decay.

    Raises:
        ValueError: ``lr`` not > 0, negative ``warmup_steps`` / ``stable_steps``, ``decay_steps < 1``, ``min_lr``
            outside ``[0, lr]``, unknown ``decay``.
    """
    lr = check_lr(lr)
    w = check_int("warmup_steps", warmup_steps, minimum=0)
    s = check_int("stable_steps", stable_steps, minimum=0)
    d = check_int("decay_steps", decay_steps, minimum=1)
    min_lr = check_min_lr(min_lr, lr)
    decay = check_choice("decay", decay, tuple(_WSD_DECAYS))
    f = _WSD_DECAYS[decay]
    args = {"lr": lr, "warmup_steps": w, "stable_steps": s, "decay_steps": d, "min_lr": min_lr, "decay": decay}

    def kernel(k: np.ndarray) -> np.ndarray:
        p = np.clip((k - w - s) / d, 0.0, 1.0)
        out = min_lr + (lr - min_lr) * f(p)
        if w:
            rising = k < w
            out[rising] = lr * k[rising] / w
        return out

    return Schedule("wsd", args, kernel, total_steps=w + s + d)
