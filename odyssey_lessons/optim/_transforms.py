"""Composable gradient transforms (optax style): small ``init``/``update`` pairs that ``chain`` into optimizers.

Each transform maps incoming updates (at first the gradients) to outgoing updates; ``chain`` feeds one into the next.
The last one is usually :func:`scale_by_learning_rate`, which multiplies by ``-lr``. For example (each equals the
fused optimizer of the same name, to float32 rounding)::

    adamw(lr, weight_decay=wd)       == chain(scale_by_adam(), add_decayed_weights(wd), scale_by_learning_rate(lr))
    adam(lr, weight_decay=wd)        == chain(add_decayed_weights(wd), scale_by_adam(), scale_by_learning_rate(lr))
    sgd(lr, momentum=mu)             == chain(trace(mu), scale_by_learning_rate(lr))
    lion(lr, weight_decay=wd)        == chain(scale_by_lion(), add_decayed_weights(wd), scale_by_learning_rate(lr))
    rmsprop(lr, momentum=mu)         == chain(scale_by_rms(), trace(mu), scale_by_learning_rate(lr))
    adagrad(lr)                      == chain(scale_by_rss(), scale_by_learning_rate(lr))

These are written in plain numpy, for reading; the fused optimizers are the fast path.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from odyssey_lessons._validate import check_bool, check_fraction, check_nonnegative, check_positive, check_real
from odyssey_lessons.optim._base import (
    GradientTransformation,
    Params,
    Schedule,
    check_betas,
    check_lr,
    check_tree,
    lr_at,
)


class EmptyState(NamedTuple):
    """The state of a transform that keeps none."""


class CountState(NamedTuple):
    count: int  # updates done so far


def _zeros_like(params: Params) -> Params:
    return {k: np.zeros(np.shape(v), np.float32) for k, v in params.items()}


def _f32(tree: Params) -> Params:
    return {k: np.asarray(v, dtype=np.float32) for k, v in tree.items()}


def _need_params(params: Params | None, what: str) -> Params:
    if params is None:
        raise ValueError(f"{what} needs params in update(updates, state, params)")
    return params


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` in order; the state is the tuple of their states.

    The chain's ``learning_rate`` is that of its last transform that has one (so a training loop can record it).

    Raises:
        TypeError: An argument is not a GradientTransformation.
    """
    for i, t in enumerate(transforms):
        if not isinstance(t, GradientTransformation):
            raise TypeError(f"chain takes GradientTransformations, got {type(t).__name__} at position {i}")

    def init(params: Params) -> tuple:
        return tuple(t.init(params) for t in transforms)

    def update(updates: Params, state: tuple, params: Params | None = None) -> tuple[Params, tuple]:
        if not isinstance(state, tuple) or len(state) != len(transforms):
            raise ValueError(f"state must be a tuple of {len(transforms)} states (from this chain's init)")
        new_state = []
        for t, s in zip(transforms, state, strict=True):
            updates, s = t.update(updates, s, params)
            new_state.append(s)
        return updates, tuple(new_state)

    rates = [t.learning_rate for t in transforms if t.learning_rate is not None]
    return GradientTransformation(init, update, rates[-1] if rates else None)


def scale(factor: float) -> GradientTransformation:
    """Multiply the updates by a constant ``factor``."""
    factor = check_real("factor", factor)

    def update(updates: Params, state: EmptyState, params: Params | None = None) -> tuple[Params, EmptyState]:
        return {k: (np.float32(factor) * u).astype(np.float32) for k, u in updates.items()}, state

    return GradientTransformation(lambda params: EmptyState(), update)


def scale_by_schedule(schedule: Schedule) -> GradientTransformation:
    """Multiply the updates by ``schedule(count)``, ``count`` = 0 at the first update.

    Raises:
        TypeError: ``schedule`` is not callable.
    """
    if not callable(schedule):
        raise TypeError(f"schedule must be callable (step -> factor), got {schedule!r}")

    def update(updates: Params, state: CountState, params: Params | None = None) -> tuple[Params, CountState]:
        f = np.float32(schedule(state.count))
        return {k: (f * u).astype(np.float32) for k, u in updates.items()}, CountState(state.count + 1)

    return GradientTransformation(lambda params: CountState(0), update)


def scale_by_learning_rate(lr: float | Schedule) -> GradientTransformation:
    """Multiply the updates by ``-lr`` (or ``-lr(count)`` for a schedule): gradient *descent*.

    Raises:
        ValueError: A constant ``lr <= 0``.
    """
    check_lr(lr)

    def update(updates: Params, state: CountState, params: Params | None = None) -> tuple[Params, CountState]:
        f = np.float32(-lr_at(lr, state.count))
        return {k: (f * u).astype(np.float32) for k, u in updates.items()}, CountState(state.count + 1)

    return GradientTransformation(lambda params: CountState(0), update, lr)


def add_decayed_weights(weight_decay: float) -> GradientTransformation:
    """``u + weight_decay * p``. Before a rescaling transform this is L2 regularisation (Adam's ``weight_decay``);
    right before :func:`scale_by_learning_rate` it is decoupled weight decay (AdamW).

    Raises:
        ValueError: ``weight_decay < 0``.
    """
    check_nonnegative("weight_decay", weight_decay)

    def update(updates: Params, state: EmptyState, params: Params | None = None) -> tuple[Params, EmptyState]:
        if weight_decay == 0:
            return updates, state
        params = _need_params(params, "add_decayed_weights")
        check_tree(params, updates, "params", "updates")
        wd = np.float32(weight_decay)
        return {k: (u + wd * params[k]).astype(np.float32) for k, u in updates.items()}, state

    return GradientTransformation(lambda params: EmptyState(), update)


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Scale all updates by ``min(1, max_norm / norm)``, ``norm`` = the L2 norm over all arrays together (as
    ``torch.nn.utils.clip_grad_norm_``, without its ``1e-6``: updates within the norm are left exactly as they are).

    Raises:
        ValueError: ``max_norm <= 0``.
    """
    check_positive("max_norm", max_norm)

    def update(updates: Params, state: EmptyState, params: Params | None = None) -> tuple[Params, EmptyState]:
        norm = math.sqrt(sum(float(np.sum(np.square(u, dtype=np.float64))) for u in updates.values()))
        if norm <= max_norm:
            return updates, state
        f = np.float32(max_norm / norm)
        return {k: (f * u).astype(np.float32) for k, u in updates.items()}, state

    return GradientTransformation(lambda params: EmptyState(), update)


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

    return GradientTransformation(lambda params: TraceState(_zeros_like(params)), update)


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
        return ScaleByAdamState(0, _zeros_like(params), _zeros_like(params))

    def update(updates: Params, state: ScaleByAdamState, params: Params | None = None):
        check_tree(updates, state.mu, "updates", "the Adam state")
        t = state.count + 1
        c1, c2 = np.float32(1.0 - b1**t), np.float32(math.sqrt(1.0 - b2**t))
        u32 = _f32(updates)
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
        return ScaleByRmsState(_zeros_like(params), _zeros_like(params) if centered else {})

    def update(updates: Params, state: ScaleByRmsState, params: Params | None = None):
        check_tree(updates, state.square_avg, "updates", "the RMS state")
        u32 = _f32(updates)
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
        value = np.float32(initial_accumulator_value)
        return ScaleByRssState({k: np.full(np.shape(v), value, np.float32) for k, v in params.items()})

    def update(updates: Params, state: ScaleByRssState, params: Params | None = None):
        check_tree(updates, state.sum, "updates", "the RSS state")
        u32 = _f32(updates)
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
        return ScaleByLionState(_zeros_like(params))

    def update(updates: Params, state: ScaleByLionState, params: Params | None = None):
        check_tree(updates, state.mu, "updates", "the Lion state")
        u32 = _f32(updates)
        out = {
            k: np.sign(np.float32(b1) * state.mu[k] + np.float32(1 - b1) * u).astype(np.float32) for k, u in u32.items()
        }
        mu = {k: (np.float32(b2) * state.mu[k] + np.float32(1 - b2) * u).astype(np.float32) for k, u in u32.items()}
        return out, ScaleByLionState(mu)

    return GradientTransformation(init, update)


def scale_by_sign() -> GradientTransformation:
    """Output ``sign(u)`` (signSGD; with :func:`trace` before it, signum)."""

    def update(updates: Params, state: EmptyState, params: Params | None = None) -> tuple[Params, EmptyState]:
        return {k: np.sign(u).astype(np.float32) for k, u in updates.items()}, state

    return GradientTransformation(lambda params: EmptyState(), update)
