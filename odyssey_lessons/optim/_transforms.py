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
from collections.abc import Callable
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

Mask = Params | Callable[[Params], Params]  # which parameters a transform acts on: name -> bool
CLIP_EPS = 1e-6  # PyTorch's, in max_norm / (norm + eps): finite for a zero norm, a hair below max_norm / norm


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


def _resolve_mask(mask: Mask, params: Params) -> Params:
    """``mask`` (a dict, or a callable applied to ``params``) as a dict ``name -> bool`` with ``params``' names."""
    m = mask(params) if callable(mask) else mask
    if not isinstance(m, dict):
        raise TypeError(f"mask must be a dict name -> bool or a callable params -> such a dict, got {type(m).__name__}")
    if m.keys() != params.keys():
        raise ValueError(f"mask must name exactly the parameters {sorted(params)}, got {sorted(m)}")
    for name, value in m.items():
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"mask[{name!r}] must be a bool, got {value!r}")
    return m


def add_decayed_weights(weight_decay: float, mask: Mask | None = None) -> GradientTransformation:
    """``u + weight_decay * p`` for the parameters ``mask`` selects, ``u`` unchanged for the rest. Before a rescaling
    transform this is L2 regularisation (Adam's ``weight_decay``; the gradient of ``(weight_decay / 2) ||p||^2``);
    right before :func:`scale_by_learning_rate` it is decoupled weight decay (AdamW).

    Args:
        weight_decay: The decay rate, >= 0.
        mask: Which parameters decay, as optax's ``mask``: a dict ``name -> bool`` with every parameter's name, or a
            callable ``params -> such a dict`` (evaluated on each update's ``params``). ``None`` decays every
            parameter, as the fused optimizers' ``weight_decay`` does (and PyTorch's, without parameter groups).

    Raises:
        ValueError: ``weight_decay < 0``; at update, a mask that names other parameters than ``params``.
        TypeError: At update, a mask that is not a dict of bools (or a callable returning one).
    """
    check_nonnegative("weight_decay", weight_decay)
    if mask is not None and not (callable(mask) or isinstance(mask, dict)):
        raise TypeError(f"mask must be None, a dict name -> bool or a callable params -> dict, got {mask!r}")

    def update(updates: Params, state: EmptyState, params: Params | None = None) -> tuple[Params, EmptyState]:
        if weight_decay == 0:
            return updates, state
        params = _need_params(params, "add_decayed_weights")
        check_tree(params, updates, "params", "updates")
        decays = dict.fromkeys(params, True) if mask is None else _resolve_mask(mask, params)
        wd = np.float32(weight_decay)
        out = {k: (u + wd * params[k]).astype(np.float32) if decays[k] else u for k, u in updates.items()}
        return out, state

    return GradientTransformation(lambda params: EmptyState(), update)


def _norm_type(norm_type: object) -> float:
    p = check_real("norm_type", norm_type, low=0, low_open=True, finite=False)
    if math.isnan(p):
        raise ValueError(f"norm_type must be > 0 (e.g. 1, 2, math.inf), got {norm_type=}")
    return p


def _vector_norm(x: np.ndarray, p: float) -> float:
    a = np.abs(np.asarray(x, dtype=np.float64)).reshape(-1)
    if a.size == 0:
        return 0.0
    if math.isinf(p):
        return float(a.max())
    if p == 2.0:
        return float(np.sqrt(np.dot(a, a)))
    if p == 1.0:
        return float(a.sum())
    return float(np.sum(a**p) ** (1.0 / p))


def global_norm(tree: Params, norm_type: float = 2.0) -> float:
    """The p-norm of all arrays together, in float64, as ``torch.nn.utils.clip_grad_norm_`` computes it: the norm of
    the per-array norms, ``||(||g_1||_p, ..., ||g_k||_p)||_p`` (``max |g|`` for ``norm_type = math.inf``).

    Raises:
        TypeError, ValueError: ``norm_type`` is not a number > 0.
    """
    p = _norm_type(norm_type)
    return _vector_norm(np.array([_vector_norm(g, p) for g in tree.values()]), p)


def clip_coefficient(norm: float, max_norm: float) -> float:
    """The factor global-norm clipping multiplies by: ``min(1, max_norm / (norm + 1e-6))`` (PyTorch's rule), and 1
    for a non-finite ``norm`` -- an inf/NaN gradient is left as it is for the loss scaler to skip, where PyTorch would
    multiply it by 0 or NaN."""
    if not math.isfinite(norm):
        return 1.0
    return min(1.0, max_norm / (norm + CLIP_EPS))


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Scale all updates together by ``c = max_norm / (norm + 1e-6)`` when ``c < 1``, ``norm`` = the L2 norm of all
    arrays together (:func:`global_norm`): ``torch.nn.utils.clip_grad_norm_``, the one definition of clipping here
    (:func:`odyssey_lessons.train.clip_grad_norm` is its in-place form). Updates within the norm are returned as they
    are; so are non-finite ones (see :func:`clip_coefficient`).

    Raises:
        TypeError, ValueError: ``max_norm`` is not a finite number > 0.
    """
    max_norm = check_positive("max_norm", max_norm)

    def update(updates: Params, state: EmptyState, params: Params | None = None) -> tuple[Params, EmptyState]:
        coef = clip_coefficient(global_norm(updates), max_norm)
        if coef >= 1.0:
            return updates, state
        f = np.float32(coef)
        return {k: (f * u).astype(np.float32) for k, u in updates.items()}, state

    return GradientTransformation(lambda params: EmptyState(), update)


def clip_by_value(max_value: float) -> GradientTransformation:
    """Clamp every update value to ``[-max_value, max_value]`` (``torch.nn.utils.clip_grad_value_``; NaN stays NaN).

    Raises:
        TypeError, ValueError: ``max_value`` is not a finite number > 0.
    """
    max_value = check_positive("max_value", max_value)

    def update(updates: Params, state: EmptyState, params: Params | None = None) -> tuple[Params, EmptyState]:
        return {k: np.clip(u, -max_value, max_value).astype(np.float32) for k, u in updates.items()}, state

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
