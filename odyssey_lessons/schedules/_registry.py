"""The schedules by name, and one example of each for the lesson's plots and widget."""

from __future__ import annotations

from collections.abc import Callable

from odyssey_lessons._validate import check_int
from odyssey_lessons.schedules._base import Schedule
from odyssey_lessons.schedules._checks import check_lr
from odyssey_lessons.schedules._cyclic import one_cycle, sgdr
from odyssey_lessons.schedules._decay import constant, cosine, exponential, linear, multistep, polynomial, step_decay
from odyssey_lessons.schedules._warmup import inverse_sqrt, warmup_cosine, wsd

# Factories whose first argument is the (peak) learning rate; the combinators warmup and join take schedules instead.
SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "constant": constant,
    "step_decay": step_decay,
    "multistep": multistep,
    "exponential": exponential,
    "linear": linear,
    "polynomial": polynomial,
    "cosine": cosine,
    "warmup_cosine": warmup_cosine,
    "sgdr": sgdr,
    "one_cycle": one_cycle,
    "inverse_sqrt": inverse_sqrt,
    "wsd": wsd,
}


def example_schedules(total_steps: int = 1000, *, lr: float = 0.1) -> dict[str, Schedule]:
    """One schedule per entry of :data:`SCHEDULES`, sized for a run of ``total_steps`` updates at peak ``lr``.

    Lengths are fractions of the run (warm-up 5%, step decay every 30%, milestones at 50% and 75%, SGDR cycles of
    1/7, 2/7 and 4/7 of the run, WSD 5% / 75% / 20%) and ``exponential`` falls to ``lr / 100`` at the end, so every
    curve fits on one plot of steps ``0 .. total_steps - 1``.

    Raises:
        ValueError: ``total_steps < 40`` (too short for the fractions to be whole steps) or ``lr`` not > 0.
    """
    total_steps = check_int("total_steps", total_steps, minimum=40)
    lr = check_lr(lr)
    t = total_steps
    w = max(1, t // 20)
    return {
        "constant": constant(lr),
        "step_decay": step_decay(lr, step_size=max(1, 3 * t // 10), gamma=0.1),
        "multistep": multistep(lr, milestones=[t // 2, 3 * t // 4], gamma=0.1),
        "exponential": exponential(lr, gamma=0.01 ** (1.0 / t)),
        "linear": linear(lr, start_factor=1.0, end_factor=0.0, total_steps=t),
        "polynomial": polynomial(lr, total_steps=t, power=2.0),
        "cosine": cosine(lr, total_steps=t),
        "warmup_cosine": warmup_cosine(lr, warmup_steps=w, total_steps=t),
        "sgdr": sgdr(lr, first_cycle_steps=t // 7, cycle_mult=2),
        "one_cycle": one_cycle(lr, total_steps=t),
        "inverse_sqrt": inverse_sqrt(lr, warmup_steps=w),
        "wsd": wsd(lr, warmup_steps=w, stable_steps=t - w - t // 5, decay_steps=t // 5),
    }
