"""Overfitting on purpose, and each regularizer at a chosen strength: what Lesson 5 and its widget show.

A wide MLP trained on a small subset of the digits memorises it (100% training accuracy) while validation accuracy
stays well below: a real generalisation gap. :func:`regularization_run` trains that setting with one regularizer at a
given strength (a real :func:`~odyssey_lessons.train.fit` run, cached per argument set); nothing here draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from odyssey_lessons.data import DigitAugmenter, digits_task
from odyssey_lessons.nn import Sequential, mlp
from odyssey_lessons.optim import adam, adamw
from odyssey_lessons.train import EarlyStopping, History, evaluate, fit

REGULARIZERS: dict[str, tuple[str, tuple[float, float], float]] = {
    # name: (what the strength means, (low, high) for a slider, a typical value)
    "none": ("(no knob)", (0.0, 0.0), 0.0),
    "l2": ("L2 coefficient (coupled, on the gradient)", (0.0, 0.05), 0.01),
    "weight_decay": ("decoupled weight decay of AdamW", (0.0, 2.0), 0.5),
    "dropout": ("dropout probability after each hidden layer", (0.0, 0.8), 0.5),
    "label_smoothing": ("label smoothing epsilon", (0.0, 0.4), 0.1),
    "max_norm": ("1 / max-norm of each unit's incoming weights", (0.0, 2.0), 1.0),
    "augmentation": ("augmentation strength: shift (px) = strength, rotation (deg) = 10 x strength", (0.0, 2.0), 0.5),
    "early_stopping": ("patience (epochs) = 20 x (1 - strength), on validation loss", (0.0, 0.9), 0.5),
}
"""Every regularizer by name, with the meaning and a slider range of its strength."""


@dataclass(frozen=True)
class RegSetup:
    """The overfitting setting: the first ``n_train`` training digits, an MLP ``64 -> width -> width -> 10``, Adam."""

    n_train: int = 150
    width: int = 192
    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3

    def model(self, seed: int, dropout: float = 0.0) -> Sequential:
        return mlp((64, self.width, self.width, 10), rng=np.random.default_rng(seed), dropout=dropout)


@dataclass(frozen=True)
class RegRun:
    """One run: ``history`` (per epoch train/val loss and accuracy), the final test accuracy and the gap."""

    regularizer: str
    strength: float
    seed: int
    history: History
    test_acc: float

    @property
    def gap(self) -> float:
        """Generalisation gap at the end: training accuracy minus validation accuracy."""
        return float(self.history.epoch["train_acc"][-1] - self.history.epoch["val_acc"][-1])


def regularization_run(regularizer: str, strength: float, *, seed: int = 0, setup: RegSetup = RegSetup()) -> RegRun:
    """Train the overfitting setting with ``regularizer`` at ``strength`` (see :data:`REGULARIZERS`).

    Raises:
        ValueError: Unknown regularizer, or a strength outside its range.
    """
    if regularizer not in REGULARIZERS:
        raise ValueError(f"unknown regularizer {regularizer!r}; known: {', '.join(REGULARIZERS)}")
    lo, hi = REGULARIZERS[regularizer][1]
    if (
        isinstance(strength, bool)
        or not isinstance(strength, int | float)
        or not (math.isfinite(strength) and lo <= strength <= hi)
    ):
        raise ValueError(f"strength for {regularizer!r} must be in [{lo}, {hi}], got strength={strength!r}")
    return _run(regularizer, round(float(strength), 6), int(seed), setup)


@lru_cache(maxsize=512)
def _run(regularizer: str, strength: float, seed: int, setup: RegSetup) -> RegRun:
    task = digits_task("mlp")
    x, y = task.train
    train = (x[: setup.n_train], y[: setup.n_train])
    kwargs: dict = {}
    dropout = 0.0
    optimizer = adam(setup.lr)
    if regularizer == "l2":
        kwargs["l2"] = strength
    elif regularizer == "weight_decay":
        optimizer = adamw(setup.lr, weight_decay=strength)
    elif regularizer == "dropout":
        dropout = strength
    elif regularizer == "label_smoothing":
        kwargs["label_smoothing"] = strength
    elif regularizer == "max_norm" and strength > 0:
        kwargs["max_norm"] = 1.0 / strength
    elif regularizer == "augmentation" and strength > 0:
        kwargs["augment"] = DigitAugmenter.for_digits_task(0, max_shift=strength, max_rotation_deg=10.0 * strength)
    elif regularizer == "early_stopping":
        kwargs["early_stopping"] = EarlyStopping(patience=max(1, round(20 * (1 - strength))), monitor="val_loss")
    model = setup.model(seed, dropout)
    history = fit(model, train, val=task.val, optimizer=optimizer, epochs=setup.epochs, batch_size=setup.batch_size,
                  seed=seed, progress=False, **kwargs)  # fmt: skip
    return RegRun(regularizer, strength, seed, history, evaluate(model, *task.test)[1])
