"""The learning-rate range test (Smith 2017, "Cyclical Learning Rates"): train briefly while the learning rate grows
exponentially, record the loss at every step, and read a good learning rate off the curve."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from odyssey_lessons._validate import check_int
from odyssey_lessons.nn import Layer
from odyssey_lessons.optim import GradientTransformation
from odyssey_lessons.schedules import Schedule, exponential
from odyssey_lessons.train._fit import fit


@dataclass(frozen=True)
class RangeTest:
    """Result of :func:`lr_range_test`.

    Attributes:
        lrs: Learning rate of every step (geometric from ``lr_min`` to ``lr_max``).
        losses: Training loss of every step (NaN after the run diverged, if it did).
        smoothed: Exponentially smoothed, bias-corrected losses (``beta = 0.9``), as fastai plots them.
        steepest_lr: The learning rate where the smoothed loss falls fastest per unit of ``log lr`` (ignoring the
            first tenth of the steps, where the smoothing is still warming up).
        min_loss_lr: The learning rate of the lowest smoothed loss.
        diverged_at: Index of the first step whose smoothed loss exceeds 4x the minimum so far (or ``None``).
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    steepest_lr: float
    min_loss_lr: float
    diverged_at: int | None


def smooth_losses(losses: np.ndarray, beta: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average: ``a_t = beta a_{t-1} + (1 - beta) l_t``, ``s_t = a_t / (1 -
    beta**(t+1))``."""
    out = np.empty(len(losses))
    avg = 0.0
    for t, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * float(loss)
        out[t] = avg / (1 - beta ** (t + 1))
    return out


def lr_range_test(
    model: Layer,
    train: tuple[np.ndarray, np.ndarray],
    *,
    optimizer: Callable[[Schedule], GradientTransformation],
    lr_min: float = 1e-4,
    lr_max: float = 10.0,
    steps: int = 100,
    batch_size: int = 32,
    seed: int = 0,
) -> RangeTest:
    """Run the range test: ``steps`` optimizer steps with ``lr_k = lr_min * (lr_max / lr_min) ** (k / (steps - 1))``.

    Args:
        model: A fresh model (it is trained in place, so do not reuse it).
        train: ``(x, y)`` training data; epochs are repeated as needed to make ``steps`` steps.
        optimizer: A factory taking the schedule as its only positional argument, e.g.
            ``lambda lr: optim.sgd(lr, momentum=0.9)``.
        lr_min, lr_max: The learning-rate range, ``0 < lr_min < lr_max``.
        steps: Number of steps (>= 10).
        batch_size: Samples per step.
        seed: Seed of the batch order.

    Returns:
        A :class:`RangeTest`. The usual pick is a learning rate somewhat below ``min_loss_lr`` -- often close to
        ``steepest_lr``; the lesson compares both with trained runs.

    Raises:
        ValueError: Bad range or step count.
    """
    if not (0 < lr_min < lr_max and math.isfinite(lr_max)):
        raise ValueError(f"need 0 < lr_min < lr_max < inf, got lr_min={lr_min!r}, lr_max={lr_max!r}")
    steps = check_int("steps", steps, minimum=10)
    gamma = (lr_max / lr_min) ** (1.0 / (steps - 1))
    opt = optimizer(exponential(lr_min, gamma=gamma))
    if not isinstance(opt, GradientTransformation):
        raise TypeError(f"optimizer(schedule) must return an optimizer, got {type(opt).__name__}")
    per_epoch = -(-len(train[0]) // batch_size)
    epochs = -(-steps // per_epoch)
    history = fit(model, train, optimizer=opt, epochs=epochs, batch_size=batch_size, seed=seed)
    losses = history.step["loss"][:steps].copy()
    lrs = lr_min * gamma ** np.arange(steps)
    finite = np.where(np.isfinite(losses), losses, np.inf)
    smoothed = smooth_losses(np.minimum(finite, 1e30))
    best_so_far = np.minimum.accumulate(smoothed)
    blown = np.nonzero(smoothed > 4 * best_so_far)[0]
    diverged_at = int(blown[0]) if blown.size else None
    stop = diverged_at if diverged_at is not None else steps
    losses[stop:] = np.where(np.isfinite(losses[stop:]), losses[stop:], np.nan)
    usable = smoothed[:stop]
    # The first tenth of the run is skipped when looking for the steepest descent: the smoothing average is still
    # warming up there and its slope says more about the smoothing than about the learning rate.
    skip = max(1, stop // 10)
    if stop - skip >= 3:
        slope = np.gradient(usable, np.log(lrs[:stop]))
        steepest = float(lrs[skip + int(np.argmin(slope[skip:]))])
    else:
        steepest = float(lrs[0])
    return RangeTest(lrs, losses, smoothed, steepest, float(lrs[int(np.argmin(usable))]), diverged_at)
