"""One point of a loss-scale sweep: what a static loss scale ``2**k`` does to the gradients in a format, and to
training. The loss-scale widget and Lesson 2 call :func:`loss_scale_point`; nothing here draws."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from odyssey_lessons._validate import check_int
from odyssey_lessons.data import digits_task
from odyssey_lessons.formats import finfo, get_format
from odyssey_lessons.nn import Sequential, mlp, softmax_cross_entropy
from odyssey_lessons.optim import adam
from odyssey_lessons.train import History, PrecisionPolicy, StaticScaler, fit, gradient_stats

LOG2_SCALE_RANGE = (0, 24)
HIST_EDGES = np.arange(-60.0, 41.0, 1.0)  # log2 |g| bins, one per binade


@dataclass(frozen=True)
class SweepSetup:
    """The network and data of the sweep: a deep MLP with small initial weights (gradients shrink layer by layer,
    the setting where a format's lower range matters), trained on the first ``n_train`` digits with Adam."""

    depth: int = 6
    width: int = 64
    init_gain: float = 0.15
    n_train: int = 512
    epochs: int = 6
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0

    def model(self) -> Sequential:
        sizes = (64, *([self.width] * (self.depth - 1)), 10)
        return mlp(sizes, rng=np.random.default_rng(self.seed), init_gain=self.init_gain)

    def data(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        task = digits_task("mlp", seed=self.seed)
        x, y = task.train
        return (x[: self.n_train], y[: self.n_train]), task.val


@dataclass(frozen=True)
class LossScalePoint:
    """The result for one ``(log2_scale, grad_format)``.

    Attributes:
        log2_scale: ``k`` of the static loss scale ``S = 2**k``.
        grad_format: Name of the gradient format (forward runs in bf16, whose range never limits this network).
        underflow, overflow: Shares of the nonzero initial parameter gradients that ``S * g`` loses to 0 / to inf-NaN
            in the format (:func:`~odyssey_lessons.train.gradient_stats`).
        hist_counts, hist_edges: Histogram of ``log2 |S * g|`` over those gradients (bins of one binade).
        log2_range: ``(log2 smallest subnormal, log2 smallest normal, log2 max)`` of the format.
        history: The training run with this scale and format (:func:`~odyssey_lessons.train.fit`).
    """

    log2_scale: int
    grad_format: str
    underflow: float
    overflow: float
    hist_counts: np.ndarray
    hist_edges: np.ndarray
    log2_range: tuple[float, float, float]
    history: History


def initial_gradients(setup: SweepSetup = SweepSetup()) -> np.ndarray:
    """All parameter gradients (float32, flattened) of the untrained sweep model on its first batch, in fp32."""
    return _initial_gradients(setup).copy()


@lru_cache(maxsize=4)
def _initial_gradients(setup: SweepSetup) -> np.ndarray:
    model = setup.model()
    (x, y), _ = setup.data()
    logits = model.forward(x[: setup.batch_size], True)
    _, grad = softmax_cross_entropy(logits, y[: setup.batch_size])
    model.backward(grad)
    return np.concatenate([g.reshape(-1) for g in model.grads().values()])


def loss_scale_point(log2_scale: int, grad_format: str, setup: SweepSetup = SweepSetup()) -> LossScalePoint:
    """Measure a static loss scale ``S = 2**log2_scale`` with gradients in ``grad_format``: the share of the initial
    gradients that underflow / overflow at that scale, and a real training run (forward in bf16, backward in
    ``grad_format``, :class:`StaticScaler`, so an overflowing step is skipped every time). Results are cached per
    argument set, so moving a slider back is instant.

    Raises:
        TypeError: ``log2_scale`` is not an int.
        ValueError: ``log2_scale`` outside [0, 24] or an unknown format.
    """
    return _point(
        check_int("log2_scale", log2_scale, minimum=LOG2_SCALE_RANGE[0], maximum=LOG2_SCALE_RANGE[1]),
        get_format(grad_format).name,
        setup,
    )


@lru_cache(maxsize=256)
def _point(log2_scale: int, grad_format: str, setup: SweepSetup) -> LossScalePoint:
    scale = 2.0**log2_scale
    scaled = (_initial_gradients(setup).astype(np.float64) * scale).astype(np.float32)
    stats = gradient_stats(scaled, grad_format)
    live = scaled[scaled != 0]
    counts, edges = np.histogram(np.log2(np.abs(live)), bins=HIST_EDGES)
    fi = finfo(grad_format)
    policy = PrecisionPolicy(f"bf16 fwd / {grad_format} grads", "bf16", "bf16", grad_format)
    train, val = setup.data()
    history = fit(
        setup.model(),
        train,
        val=val,
        optimizer=adam(setup.lr),
        epochs=setup.epochs,
        batch_size=setup.batch_size,
        policy=policy,
        scaler=StaticScaler(scale),
        seed=setup.seed,
    )
    log2_range = (math.log2(fi.smallest_subnormal), math.log2(fi.smallest_normal), math.log2(fi.max))
    return LossScalePoint(
        log2_scale, grad_format, stats.underflow_fraction, stats.overflow_fraction, counts, edges, log2_range, history
    )
