"""Schedules that go up as well as down: SGDR (cosine with warm restarts) and one-cycle."""

from __future__ import annotations

import math

import numpy as np

from odyssey_lessons._validate import check_bool, check_choice, check_int, check_open_unit, check_positive
from odyssey_lessons.schedules._base import Schedule
from odyssey_lessons.schedules._checks import check_lr, check_min_lr


def _cycle_starts(first_cycle_steps: int, cycle_mult: int, last_step: int) -> np.ndarray:
    """Start steps of the SGDR cycles up to ``last_step``: ``T0 * (m**n - 1) / (m - 1)`` for ``m > 1``."""
    starts, period = [0], first_cycle_steps
    while starts[-1] <= last_step:
        starts.append(starts[-1] + period)
        period *= cycle_mult
    return np.asarray(starts, dtype=np.int64)


def sgdr(lr: float, *, first_cycle_steps: int, cycle_mult: int = 1, min_lr: float = 0.0) -> Schedule:
    """Cosine annealing with warm restarts (Loshchilov & Hutter 2017; torch ``CosineAnnealingWarmRestarts``).

    ``lr_k = min_lr + (lr - min_lr) * (1 + cos(pi * t / T_i)) / 2``, where cycle ``i`` lasts
    ``T_i = first_cycle_steps * cycle_mult**i`` steps and ``t`` counts steps since it began; at the first step of each
    cycle the rate jumps back to ``lr``. The argument names map to torch's ``T_0``, ``T_mult`` and ``eta_min``.

    Raises:
        ValueError: ``lr`` not > 0, ``first_cycle_steps < 1``, ``cycle_mult < 1``, ``min_lr`` outside ``[0, lr]``.
    """
    lr = check_lr(lr)
    first_cycle_steps = check_int("first_cycle_steps", first_cycle_steps, minimum=1)
    cycle_mult = check_int("cycle_mult", cycle_mult, minimum=1)
    min_lr = check_min_lr(min_lr, lr)
    args = {"lr": lr, "first_cycle_steps": first_cycle_steps, "cycle_mult": cycle_mult, "min_lr": min_lr}

    def kernel(k: np.ndarray) -> np.ndarray:
        if cycle_mult == 1:
            t, period = k % first_cycle_steps, np.full(k.shape, first_cycle_steps)
        else:
            starts = _cycle_starts(first_cycle_steps, cycle_mult, int(k.max(initial=0)))
            i = np.searchsorted(starts, k, side="right") - 1
            t, period = k - starts[i], np.diff(starts)[i]
        return min_lr + (lr - min_lr) * (1.0 + np.cos(math.pi * t / period)) / 2.0

    return Schedule("sgdr", args, kernel, total_steps=None)


def _anneal(start: float, end: float, pct: np.ndarray, how: str) -> np.ndarray:
    """Torch's OneCycleLR interpolation from ``start`` (pct 0) to ``end`` (pct 1), in torch's order of operations."""
    if how == "cos":
        return end + (start - end) / 2.0 * (np.cos(math.pi * pct) + 1.0)
    return (end - start) * pct + start


def one_cycle(
    max_lr: float,
    *,
    total_steps: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    anneal: str = "cos",
    three_phase: bool = False,
) -> Schedule:
    """The 1cycle policy (Smith & Topin 2018), step for step as torch ``OneCycleLR`` (``anneal`` is torch's
    ``anneal_strategy``).

    With ``T = total_steps``, ``lr0 = max_lr / div_factor`` and ``lr_min = lr0 / final_div_factor``, the rate goes
    ``lr0 -> max_lr`` over steps ``0 .. pct_start*T - 1``, then ``max_lr -> lr_min`` until step ``T - 1``
    (``three_phase``: ``max_lr -> lr0`` until ``2*pct_start*T - 2``, then ``lr0 -> lr_min`` until ``T - 1``). Phase
    ends are torch's, fractional ones included; ``anneal`` is ``"cos"`` (half cosine) or ``"linear"``.

    Step ``k = 0`` is the first update, at ``lr0``; step ``T - 1`` is the last, at ``lr_min``. Past it the value stays
    at ``lr_min``, where torch (2.13) extrapolates the last phase at ``k = T`` and raises after.

    Raises:
        ValueError: ``max_lr``, ``div_factor`` or ``final_div_factor`` not > 0; ``pct_start`` outside (0, 1);
            ``pct_start * total_steps <= 1`` (an empty warm-up phase, a division by zero in torch); with
            ``three_phase``, phases that do not fit in ``total_steps``; ``anneal`` not ``"cos"`` / ``"linear"``.
    """
    max_lr = check_lr(max_lr, "max_lr")
    total_steps = check_int("total_steps", total_steps, minimum=2)
    pct_start = check_open_unit("pct_start", pct_start)
    div_factor = check_positive("div_factor", div_factor)
    final_div_factor = check_positive("final_div_factor", final_div_factor)
    anneal = check_choice("anneal", anneal, ("cos", "linear"))
    three_phase = check_bool("three_phase", three_phase)
    up_end = float(pct_start * total_steps) - 1.0
    if up_end <= 0:
        raise ValueError(f"pct_start * total_steps must be > 1 (a non-empty warm-up), got {pct_start=}, {total_steps=}")
    lr0 = max_lr / div_factor
    lr_min = lr0 / final_div_factor
    last = float(total_steps - 1)
    if three_phase:
        down_end = float(2 * pct_start * total_steps) - 2.0
        if down_end >= last:
            raise ValueError(
                f"three_phase needs 2 * pct_start * total_steps - 2 < total_steps - 1, got {pct_start=}, {total_steps=}"
            )
        phases = [(up_end, lr0, max_lr), (down_end, max_lr, lr0), (last, lr0, lr_min)]
    else:
        phases = [(up_end, lr0, max_lr), (last, max_lr, lr_min)]
    args = {
        "max_lr": max_lr,
        "total_steps": total_steps,
        "pct_start": pct_start,
        "div_factor": div_factor,
        "final_div_factor": final_div_factor,
        "anneal": anneal,
        "three_phase": three_phase,
    }

    def kernel(k: np.ndarray) -> np.ndarray:
        x = np.minimum(k, total_steps - 1).astype(np.float64)
        out = np.empty(x.shape)
        start = 0.0
        done = np.zeros(x.shape, dtype=bool)
        for i, (end, a, b) in enumerate(phases):
            here = ~done if i == len(phases) - 1 else ~done & (x <= end)
            out[here] = _anneal(a, b, (x[here] - start) / (end - start), anneal)
            done |= here
            start = end
        return out

    return Schedule("one_cycle", args, kernel, total_steps=total_steps)
