"""Reduce-on-plateau: the one schedule that depends on the run (a validation metric), so it keeps state."""

from __future__ import annotations

import math

import numpy as np

from odyssey_lessons._validate import check_choice, check_int, check_real
from odyssey_lessons.schedules._base import as_steps
from odyssey_lessons.schedules._checks import check_lr, check_min_lr


class ReduceLROnPlateau:
    """Multiply the learning rate by ``factor`` when a metric has stopped improving, as torch ``ReduceLROnPlateau``.

    Call :meth:`step` once per evaluation with the metric; it returns the learning rate to use from then on. The
    rules are torch's, decision for decision:

    - improvement (``mode="min"``): ``metric < best * (1 - threshold)`` (``threshold_mode="rel"``) or
      ``metric < best - threshold`` (``"abs"``); ``mode="max"`` mirrors it (``best * (1 + threshold)``,
      ``best + threshold``). An improvement sets ``best`` and zeroes the count of bad evaluations, otherwise the
      count goes up;
    - during a cool-down (``cooldown`` evaluations after a reduction) bad evaluations are not counted;
    - when the count exceeds ``patience``: ``lr = max(lr * factor, min_lr)`` (skipped when it would change ``lr`` by
      no more than ``eps = 1e-8``), the cool-down starts and the count restarts.

    Unlike every other schedule here this one is stateful, so it is not a :class:`Schedule` and cannot be joined or
    warmed up. It can still be given to an optimizer as ``lr``: ``sched(step)`` ignores ``step`` (it is only
    checked) and returns the current ``lr`` (a float, or for an array of steps an array filled with it).

    Raises:
        ValueError: ``lr`` not > 0, ``factor`` outside (0, 1), negative ``patience`` / ``cooldown`` /
            ``threshold``, ``min_lr`` outside ``[0, lr]``, unknown ``mode`` / ``threshold_mode``.
    """

    eps = 1e-8

    def __init__(
        self,
        lr: float,
        *,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        self.initial_lr = check_lr(lr)
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.factor = check_real("factor", factor)
        if not 0.0 < self.factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor=}")
        self.patience = check_int("patience", patience, minimum=0)
        self.threshold = check_real("threshold", threshold)
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold=}")
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = check_int("cooldown", cooldown, minimum=0)
        self.min_lr = check_min_lr(min_lr, self.initial_lr)
        self._lr = self.initial_lr
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.num_steps = 0

    @property
    def lr(self) -> float:
        """The current learning rate."""
        return self._lr

    @property
    def total_steps(self) -> None:
        """No fixed length: the schedule ends when the run does."""
        return None

    def is_better(self, metric: float) -> bool:
        """Whether ``metric`` improves on ``best`` by more than the threshold (torch's ``is_better``)."""
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return metric < (self.best * (1.0 - self.threshold) if rel else self.best - self.threshold)
        return metric > (self.best * (self.threshold + 1.0) if rel else self.best + self.threshold)

    def step(self, metric: float) -> float:
        """Record one evaluation's ``metric`` and return the learning rate to use from now on.

        Raises:
            TypeError: ``metric`` is not a real number.
            ValueError: ``metric`` is NaN (torch would count it as a bad evaluation silently).
        """
        if isinstance(metric, bool | str | bytes):
            raise TypeError(f"metric must be a real number, got {metric=}")
        try:  # a float, a numpy scalar, a 0-d array or a 0-d torch tensor, as torch accepts
            current = float(metric)
        except (TypeError, ValueError):
            raise TypeError(f"metric must be a real number, got {metric=}") from None
        if math.isnan(current):
            raise ValueError(f"metric must not be NaN, got {metric=}")
        self.num_steps += 1
        if self.is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = max(self._lr * self.factor, self.min_lr)
            if self._lr - new_lr > self.eps:
                self._lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self._lr

    def __call__(self, step: int | np.ndarray) -> float | np.ndarray:
        steps, scalar = as_steps(step)
        return self._lr if scalar else np.full(steps.shape, self._lr)

    def __repr__(self) -> str:
        return (
            f"ReduceLROnPlateau(lr={self.initial_lr!r}, mode={self.mode!r}, factor={self.factor!r}, "
            f"patience={self.patience!r}, threshold={self.threshold!r}, threshold_mode={self.threshold_mode!r}, "
            f"cooldown={self.cooldown!r}, min_lr={self.min_lr!r}; now lr={self._lr!r}, best={self.best!r})"
        )
