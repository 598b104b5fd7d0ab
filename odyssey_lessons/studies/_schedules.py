"""One training run per learning-rate schedule on the digits MLP: what the schedule explorer widget and Lesson 3 show.
Every value comes from a real :func:`~odyssey_lessons.train.fit` run (cached per argument set); nothing here draws."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from odyssey_lessons._validate import check_int, check_positive
from odyssey_lessons.data import digits_task
from odyssey_lessons.nn import mlp
from odyssey_lessons.optim import sgd
from odyssey_lessons.schedules import SCHEDULES, Schedule, example_schedules
from odyssey_lessons.train import History, fit

BATCH_SIZE = 64


@dataclass(frozen=True)
class ScheduleRun:
    """A schedule and the run trained with it.

    Attributes:
        name: The schedule's name in :data:`~odyssey_lessons.schedules.SCHEDULES`.
        schedule: The schedule itself (``schedule(k)`` is the lr of update ``k``).
        lrs: ``schedule(k)`` for every step of the run.
        history: The :class:`~odyssey_lessons.train.History` of SGD (momentum 0.9) on the digits MLP (64-128-10).
    """

    name: str
    schedule: Schedule
    lrs: np.ndarray
    history: History


def steps_per_epoch(batch_size: int = BATCH_SIZE) -> int:
    """Optimizer steps in one epoch of the digits training split."""
    return -(-len(digits_task("mlp").train[0]) // batch_size)


def schedule_run(name: str, *, peak_lr: float = 0.1, epochs: int = 5, seed: int = 0) -> ScheduleRun:
    """Train the digits MLP with SGD (momentum 0.9) under ``example_schedules(T, lr=peak_lr)[name]``, ``T`` the run's
    number of steps.

    Raises:
        TypeError: ``peak_lr`` not a number or ``epochs`` not an int.
        ValueError: Unknown schedule name, ``peak_lr`` not positive and finite, or ``epochs`` not in 1..50.
    """
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known: {', '.join(SCHEDULES)}")
    peak_lr = check_positive("peak_lr", peak_lr)
    epochs = check_int("epochs", epochs, minimum=1, maximum=50)
    return _run(name, peak_lr, epochs, seed)


@lru_cache(maxsize=128)
def _run(name: str, peak_lr: float, epochs: int, seed: int) -> ScheduleRun:
    total = epochs * steps_per_epoch()
    schedule = example_schedules(max(total, 40), lr=peak_lr)[name]
    task = digits_task("mlp")
    model = mlp((64, 128, 10), rng=np.random.default_rng(seed))
    history = fit(model, task.train, val=task.val, optimizer=sgd(schedule, momentum=0.9), epochs=epochs,
                  batch_size=BATCH_SIZE, seed=seed)  # fmt: skip
    return ScheduleRun(name, schedule, schedule(np.arange(total)), history)
