"""The transforms that keep running statistics of the gradient, one per optimizer family: momentum (:func:`trace`),
Adam's two moments, RMSprop's average of squares, Adagrad's sum of squares and Lion's momentum. Chained with
:func:`~odyssey_lessons.optim.scale_by_learning_rate` (and :func:`~odyssey_lessons.optim.add_decayed_weights`) they
equal the fused optimizers (the table in :mod:`odyssey_lessons.optim._transforms`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from odyssey_lessons._validate import check_bool, check_fraction, check_nonnegative, check_positive
from odyssey_lessons.optim._base import GradientTransformation, Params, full_like
from odyssey_lessons.optim._checks import check_betas, check_tree
from odyssey_lessons.optim._transforms import as_f32


class TraceState(NamedTuple):
    trace: Params  # momentum buffers b


def trace(momentum: float, nesterov: bool = False) -> GradientTransformation:
    """Momentum as PyTorch's SGD: ``b = momentum * b + u`` (``b`` starts at 0), output ``b``, or with Nesterov
    ``u + momentum * b``.

    Raises:
        ValueError: ``momentum`` outside [0, 1).
        TypeError: ``nesterov`` is not a bool.
    """
    check_fraction("momentum", momentum)
    nesterov = check_bool("nesterov", nesterov)
    mu = np.float32(momentum)

    def update(updates: Params, state: TraceState, params: Params | None = None) -> tuple[Params, TraceState]:
        check_tree(updates, state.trace, "updates", "the trace state")
        b = {k: (mu * state.trace[k] + u).astype(np.float32) for k, u in updates.items()}
        out = {k: (u + mu * b[k]).astype(np.float32) for k, u in updates.items()} if nesterov else b
        return out, TraceState(b)

    return GradientTransformation(lambda params: TraceState(full_like(params)), update)


class ScaleByAdamState(NamedTuple):
    count: int
    mu: Params
    nu: Params


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> GradientTransformation:
    """Adam's direction: ``m = b1 m + (1 - b1) u``, ``v = b2 v + (1 - b2) u**2``, output
    ``(m / (1 - b1**t)) / (sqrt(v) / sqrt(1 - b2**t) + eps)``.

    Raises:
        ValueError: ``b1``/``b2`` outside [0, 1) or ``eps <= 0``.
    """
    b1, b2 = check_betas((b1, b2))
    check_positive("eps", eps)

    def init(params: Params) -> ScaleByAdamState:
        return ScaleByAdamState(0, full_like(params), full_like(params))

    def update(updates: Params, state: ScaleByAdamState, params: Params | None = None):
        check_tree(updates, state.mu, "updates", "the Adam state")
        t = state.count + 1
        c1, c2 = np.float32(1.0 - b1**t), np.float32(math.sqrt(1.0 - b2**t))
        u32 = as_f32(updates)
        mu = {k: (np.float32(b1) * state.mu[k] + np.float32(1 - b1) * u).astype(np.float32) for k, u in u32.items()}
        nu = {k: (np.float32(b2) * state.nu[k] + np.float32(1 - b2) * u * u).astype(np.float32) for k, u in u32.items()}
        out = {k: ((mu[k] / c1) / (np.sqrt(nu[k]) / c2 + np.float32(eps))).astype(np.float32) for k in u32}
        return out, ScaleByAdamState(t, mu, nu)

    return GradientTransformation(init, update)


class ScaleByRmsState(NamedTuple):
    square_avg: Params
    grad_avg: Params  # empty unless centered


def scale_by_rms(alpha: float = 0.99, eps: float = 1e-8, centered: bool = False) -> GradientTransformation:
    """RMSprop's scaling: ``sq = alpha sq + (1 - alpha) u**2``, output ``u / (sqrt(sq) + eps)``; centered:
    ``ga = alpha ga + (1 - alpha) u`` and output ``u / (sqrt(sq - ga**2) + eps)``.

    Raises:
        ValueError: ``alpha`` outside [0, 1) or ``eps <= 0``.
        TypeError: ``centered`` is not a bool.
    """
    check_fraction("alpha", alpha)
    check_positive("eps", eps)
    centered = check_bool("centered", centered)
    a, c = np.float32(alpha), np.float32(1 - alpha)

    def init(params: Params) -> ScaleByRmsState:
        return ScaleByRmsState(full_like(params), full_like(params) if centered else {})

    def update(updates: Params, state: ScaleByRmsState, params: Params | None = None):
        check_tree(updates, state.square_avg, "updates", "the RMS state")
        u32 = as_f32(updates)
        sq = {k: (a * state.square_avg[k] + c * u * u).astype(np.float32) for k, u in u32.items()}
        ga = {k: (a * state.grad_avg[k] + c * u).astype(np.float32) for k, u in u32.items()} if centered else {}
        var = {k: sq[k] - ga[k] * ga[k] for k in u32} if centered else sq
        out = {k: (u / (np.sqrt(var[k]) + np.float32(eps))).astype(np.float32) for k, u in u32.items()}
        return out, ScaleByRmsState(sq, ga)

    return GradientTransformation(init, update)


class ScaleByRssState(NamedTuple):
    sum: Params


def scale_by_rss(initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> GradientTransformation:
    """Adagrad's scaling by the root of the sum of squares: ``s = s + u**2``, output ``u / (sqrt(s) + eps)``.

    Raises:
        ValueError: ``initial_accumulator_value < 0`` or ``eps <= 0``.
    """
    check_nonnegative("initial_accumulator_value", initial_accumulator_value)
    check_positive("eps", eps)

    def init(params: Params) -> ScaleByRssState:
        return ScaleByRssState(full_like(params, initial_accumulator_value))

    def update(updates: Params, state: ScaleByRssState, params: Params | None = None):
        check_tree(updates, state.sum, "updates", "the RSS state")
        u32 = as_f32(updates)
        s = {k: (state.sum[k] + u * u).astype(np.float32) for k, u in u32.items()}
        out = {k: (u / (np.sqrt(s[k]) + np.float32(eps))).astype(np.float32) for k, u in u32.items()}
        return out, ScaleByRssState(s)

    return GradientTransformation(init, update)


class ScaleByLionState(NamedTuple):
    mu: Params


def scale_by_lion(b1: float = 0.9, b2: float = 0.99) -> GradientTransformation:
    """Lion's direction: output ``sign(b1 m + (1 - b1) u)``, then ``m = b2 m + (1 - b2) u``.

    Raises:
        ValueError: ``b1``/``b2`` outside [0, 1).
    """
    b1, b2 = check_betas((b1, b2))

    def init(params: Params) -> ScaleByLionState:
        return ScaleByLionState(full_like(params))

    def update(updates: Params, state: ScaleByLionState, params: Params | None = None):
        check_tree(updates, state.mu, "updates", "the Lion state")
        u32 = as_f32(updates)
        out = {
            k: np.sign(np.float32(b1) * state.mu[k] + np.float32(1 - b1) * u).astype(np.float32) for k, u in u32.items()
        }
        mu = {k: (np.float32(b2) * state.mu[k] + np.float32(1 - b2) * u).astype(np.float32) for k, u in u32.items()}
        return out, ScaleByLionState(mu)

    return GradientTransformation(init, update)
