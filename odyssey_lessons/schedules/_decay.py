"""Decay schedules with a closed form: constant, step, multistep, exponential, linear, polynomial, cosine.

Each matches the PyTorch scheduler of the same idea (``torch.optim.lr_scheduler``) at every step ``k >= 0``, with
``schedule(k)`` the learning rate of the k-th update (see :mod:`odyssey_lessons.schedules._base`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from odyssey_lessons._validate import check_int, check_positive, check_real
from odyssey_lessons.schedules._base import Schedule
from odyssey_lessons.schedules._checks import check_lr, check_min_lr


def constant(lr: float) -> Schedule:
    """``lr_k = lr`` for every step.

    Raises:
        ValueError: ``lr`` is not a finite number > 0.
    """
    lr = check_lr(lr)
    return Schedule("constant", {"lr": lr}, lambda k: np.full(k.shape, lr))


def step_decay(lr: float, *, step_size: int, gamma: float = 0.1) -> Schedule:
    """``lr_k = lr * gamma ** floor(k / step_size)``: times ``gamma`` every ``step_size`` steps (torch ``StepLR``).

    Raises:
        ValueError: ``lr`` or ``gamma`` not > 0, or ``step_size < 1``.
    """
    lr = check_lr(lr)
    step_size = check_int("step_size", step_size, minimum=1)
    gamma = check_positive("gamma", gamma)
    args = {"lr": lr, "step_size": step_size, "gamma": gamma}
    return Schedule("step_decay", args, lambda k: lr * gamma ** (k // step_size).astype(np.float64))


def multistep(lr: float, *, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    """``lr_k = lr * gamma ** (number of milestones m with m <= k)`` (torch ``MultiStepLR``).

    At step ``k == milestones[i]`` the ``(i+1)``-th decay has already happened.

    Raises:
        ValueError: ``lr`` or ``gamma`` not > 0, or ``milestones`` empty, negative or not strictly increasing
            (torch 2.13 accepts repeats and counts them twice; here a repeat is taken for a typo).
    """
    lr = check_lr(lr)
    gamma = check_positive("gamma", gamma)
    ms = tuple(check_int(f"milestones[{i}]", m, minimum=1) for i, m in enumerate(milestones))
    if not ms or any(b <= a for a, b in zip(ms, ms[1:], strict=False)):
        raise ValueError(f"milestones must be a non-empty, strictly increasing sequence of ints, got {milestones=}")
    edges = np.asarray(ms, dtype=np.int64)
    args = {"lr": lr, "milestones": list(ms), "gamma": gamma}

    def kernel(k: np.ndarray) -> np.ndarray:
        return lr * gamma ** np.searchsorted(edges, k, side="right").astype(np.float64)

    return Schedule("multistep", args, kernel, total_steps=None)


def exponential(lr: float, *, gamma: float) -> Schedule:
    """``lr_k = lr * gamma ** k`` (torch ``ExponentialLR``; ``gamma > 1`` grows, as in an LR range test).

    Raises:
        ValueError: ``lr`` or ``gamma`` not > 0.
    """
    lr = check_lr(lr)
    gamma = check_positive("gamma", gamma)
    return Schedule("exponential", {"lr": lr, "gamma": gamma}, lambda k: lr * gamma ** k.astype(np.float64))


def linear(lr: float, *, start_factor: float = 1.0 / 3.0, end_factor: float = 1.0, total_steps: int) -> Schedule:
    """``lr_k = lr * (s + (e - s) * min(k, T) / T)`` with ``s = start_factor``, ``e = end_factor``,
    ``T = total_steps`` (torch ``LinearLR`` with ``total_iters=T``); constant ``lr * e`` from step ``T`` on.

    Torch requires ``0 < s <= 1`` and ``0 <= e <= 1``; here any factors ``>= 0`` work, not both 0.

    Raises:
        ValueError: ``lr`` not > 0, ``total_steps < 1``, a negative factor, or both factors 0.
    """
    lr = check_lr(lr)
    total_steps = check_int("total_steps", total_steps, minimum=1)
    s, e = check_real("start_factor", start_factor), check_real("end_factor", end_factor)
    if s < 0 or e < 0 or s == e == 0:
        raise ValueError(f"start_factor and end_factor must be >= 0 and not both 0, got {start_factor=}, {end_factor=}")
    args = {"lr": lr, "start_factor": s, "end_factor": e, "total_steps": total_steps}

    def kernel(k: np.ndarray) -> np.ndarray:
        return lr * (s + (e - s) * np.minimum(k, total_steps) / total_steps)

    return Schedule("linear", args, kernel, total_steps=total_steps)


def polynomial(lr: float, *, total_steps: int, power: float = 1.0, end_lr: float = 0.0) -> Schedule:
    """``lr_k = (lr - end_lr) * (1 - min(k, T) / T) ** power + end_lr`` with ``T = total_steps``.

    Torch ``PolynomialLR(total_iters=T, power=power)`` when ``end_lr == 0``; optax ``polynomial_schedule``.

    Raises:
        ValueError: ``lr`` or ``power`` not > 0, ``total_steps < 1``, ``end_lr`` outside ``[0, lr]``.
    """
    lr = check_lr(lr)
    total_steps = check_int("total_steps", total_steps, minimum=1)
    power = check_positive("power", power)
    end_lr = check_min_lr(end_lr, lr, "end_lr")
    args = {"lr": lr, "total_steps": total_steps, "power": power, "end_lr": end_lr}

    def kernel(k: np.ndarray) -> np.ndarray:
        return (lr - end_lr) * (1.0 - np.minimum(k, total_steps) / total_steps) ** power + end_lr

    return Schedule("polynomial", args, kernel, total_steps=total_steps)


def cosine(lr: float, *, total_steps: int, min_lr: float = 0.0) -> Schedule:
    """``lr_k = min_lr + (lr - min_lr) * (1 + cos(pi * min(k, T) / T)) / 2`` with ``T = total_steps``.

    Equals torch ``CosineAnnealingLR(T_max=T, eta_min=min_lr)`` for ``k <= T``. Past ``T`` this schedule stays at
    ``min_lr`` (as optax ``cosine_decay_schedule`` does); torch's (2.13) keeps going and climbs back to ``lr`` at
    ``k = 2T`` (period ``2T``), which is rarely what a run that outlasts ``T_max`` wants.

    Raises:
        ValueError: ``lr`` not > 0, ``total_steps < 1``, ``min_lr`` outside ``[0, lr]``.
    """
    lr = check_lr(lr)
    total_steps = check_int("total_steps", total_steps, minimum=1)
    min_lr = check_min_lr(min_lr, lr)
    args = {"lr": lr, "total_steps": total_steps, "min_lr": min_lr}

    def kernel(k: np.ndarray) -> np.ndarray:
        return min_lr + (lr - min_lr) * (1.0 + np.cos(math.pi * np.minimum(k, total_steps) / total_steps)) / 2.0

    return Schedule("cosine", args, kernel, total_steps=total_steps)
