"""Overfitting on purpose, and each regularizer at a chosen strength: what Lesson 5 and its widget show.

A wide MLP trained on a small subset of the digits memorises it (100% training accuracy) while validation accuracy
stays well below: a real generalisation gap. :func:`regularization_run` trains that setting with one regularizer at a
given strength (a real :func:`~odyssey_lessons.train.fit` run, cached per argument set); nothing here draws.

The digits' test split has 269 images, too few to resolve effects of a point or two. :func:`mnist1d_regularization_run`
trains the same kind of setting on MNIST-1D (:class:`Mnist1dRegSetup`: a thousand generated training signals, a test
set of 20,000), and :func:`mnist1d_regularization_arms` runs no regularization, dropout, L2 and both over shared seeds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from odyssey_lessons._threads import single_threaded
from odyssey_lessons._validate import check_real
from odyssey_lessons.data import DigitAugmenter, DigitsTask, digits_task, mnist1d_task
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
    return _run(regularizer, _check_strength(regularizer, strength, "strength"), int(seed), setup)


def _check_strength(regularizer: str, value: object, name: str) -> float:
    """``value`` in the range the precomputed grid covers for ``regularizer``, rounded to the grid's keys."""
    lo, hi = REGULARIZERS[regularizer][1]
    return round(check_real(name, value, low=lo, high=hi), 6)


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
                  seed=seed, **kwargs)  # fmt: skip
    return RegRun(regularizer, strength, seed, history, evaluate(model, *task.test)[1])


@dataclass(frozen=True)
class Mnist1dRegSetup:
    """The MNIST-1D overfitting setting: ``n_train`` generated signals, an MLP ``40 -> width -> width -> 10``, Adam.

    One MNIST-1D set of ``n_train + n_val + n_test`` signals is generated with ``data_seed`` (the paper's generator,
    :func:`~odyssey_lessons.data.mnist1d_task`) and cut into training, validation and test signals. The test set is
    large so that one run's test accuracy is measured to a few tenths of a point (binomial standard error
    ``sqrt(p (1 - p) / n_test)``); what is left is the run-to-run spread of training itself.
    """

    n_train: int = 1000
    n_val: int = 2000
    n_test: int = 20_000
    width: int = 128
    epochs: int = 40
    batch_size: int = 100
    lr: float = 5e-3
    data_seed: int = 42

    @property
    def steps(self) -> int:
        """Optimizer steps of one run."""
        return self.epochs * math.ceil(self.n_train / self.batch_size)

    def task(self) -> DigitsTask:
        """The generated signals: ``(x, y)`` for train / val / test (cached by the data layer's generator)."""
        return _mnist1d_task(self.n_train, self.n_val, self.n_test, self.data_seed)

    def model(self, seed: int, dropout: float = 0.0) -> Sequential:
        return mlp((40, self.width, self.width, 10), rng=np.random.default_rng(seed), dropout=dropout)


@dataclass(frozen=True)
class Mnist1dRegRun:
    """One MNIST-1D run: final training, validation and test accuracy, test signals classified right, and seconds."""

    dropout: float
    l2: float
    seed: int
    train_acc: float
    val_acc: float
    test_acc: float
    test_right: int
    seconds: float


def mnist1d_regularization_run(
    *, dropout: float = 0.0, l2: float = 0.0, seed: int = 0, setup: Mnist1dRegSetup = Mnist1dRegSetup()
) -> Mnist1dRegRun:
    """Train the MNIST-1D overfitting setting with dropout ``dropout`` after each hidden layer and coupled L2 ``l2``.

    The seed sets the initial weights, the dropout masks and the batch order, so two runs with the same seed differ
    only in the regularizers: their accuracies pair up. Cached per argument set.

    Raises:
        ValueError: ``dropout`` outside [0, 0.8] or ``l2`` outside [0, 0.05] (the ranges of :data:`REGULARIZERS`).
    """
    return _mnist1d_run(
        _check_strength("dropout", dropout, "dropout"), _check_strength("l2", l2, "l2"), int(seed), setup
    )


@lru_cache(maxsize=8)
def _mnist1d_task(n_train: int, n_val: int, n_test: int, data_seed: int) -> DigitsTask:
    return mnist1d_task("mlp", num_train=n_train, num_val=n_val, num_test=n_test, seed=data_seed)


@lru_cache(maxsize=256)
def _mnist1d_run(dropout: float, l2: float, seed: int, setup: Mnist1dRegSetup) -> Mnist1dRegRun:
    task = setup.task()
    model = setup.model(seed, dropout)
    start = time.perf_counter()
    history = fit(model, task.train, optimizer=adam(setup.lr), epochs=setup.epochs, batch_size=setup.batch_size,
                  l2=l2, seed=seed)  # fmt: skip
    seconds = time.perf_counter() - start
    with single_threaded():  # 20,000 signals in batches: BLAS's second thread only waits on a 2-core machine
        test_acc = evaluate(model, *task.test)[1]
        val_acc = evaluate(model, *task.val)[1]
    return Mnist1dRegRun(
        dropout=dropout,
        l2=l2,
        seed=seed,
        train_acc=float(history.epoch["train_acc"][-1]),
        val_acc=float(val_acc),
        test_acc=float(test_acc),
        test_right=int(round(test_acc * len(task.test[1]))),
        seconds=seconds,
    )


MNIST1D_ARMS = ("none", "dropout", "l2", "both")
"""The four runs of the dropout + L2 comparison, in order."""


def mnist1d_regularization_arms(
    seeds: Iterable[int],
    *,
    dropout: float = 0.3,
    l2: float = 0.01,
    setup: Mnist1dRegSetup = Mnist1dRegSetup(),
    progress: Callable[[list], Iterable] | None = None,
) -> dict[str, tuple[Mnist1dRegRun, ...]]:
    """No regularization, dropout alone, L2 alone and both, each trained with every seed of ``seeds``.

    Args:
        seeds: Shared by the four arms, so their accuracies pair up seed by seed.
        dropout: Dropout probability of the ``"dropout"`` and ``"both"`` arms.
        l2: Coupled L2 coefficient of the ``"l2"`` and ``"both"`` arms.
        setup: The MNIST-1D setting.
        progress: Wraps the list of ``(arm, seed)`` runs to report progress as they go, e.g. ``tqdm`` for a bar
            (the study draws nothing itself); ``None``: quiet.

    Returns:
        ``{arm: runs}`` for the arms of :data:`MNIST1D_ARMS`, runs in the order of ``seeds``.

    Raises:
        ValueError: No seeds, or a strength outside its range (see :func:`mnist1d_regularization_run`).
    """
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable that wraps an iterable (e.g. tqdm) or None, got {progress=}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed, got seeds=[]")
    strengths = {"none": (0.0, 0.0), "dropout": (dropout, 0.0), "l2": (0.0, l2), "both": (dropout, l2)}
    jobs = [(arm, s) for arm in MNIST1D_ARMS for s in seeds]
    runs: dict[str, list[Mnist1dRegRun]] = {arm: [] for arm in MNIST1D_ARMS}
    for arm, s in jobs if progress is None else progress(jobs):
        p, lam = strengths[arm]
        runs[arm].append(mnist1d_regularization_run(dropout=p, l2=lam, seed=s, setup=setup))
    return {arm: tuple(r) for arm, r in runs.items()}
