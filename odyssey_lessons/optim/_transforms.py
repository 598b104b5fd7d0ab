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

These are written in plain numpy, for reading; the fused optimizers are the fast path. This module holds the
composition (:func:`chain`), the scalings by a number, a schedule or the learning rate, and L2 / weight decay
(:func:`add_decayed_weights`); clipping is in :mod:`odyssey_lessons.optim._clipping`, the transforms that keep running
statistics of the gradient (momentum, Adam's moments, RMSprop's and Adagrad's squares, Lion's) in
:mod:`odyssey_lessons.optim._moments`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from odyssey_lessons._validate import check_nonnegative, check_real
from odyssey_lessons.optim._base import GradientTransformation, Params, Schedule, lr_at
from odyssey_lessons.optim._checks import check_lr, check_tree, need_params

Mask = Params | Callable[[Params], Params]  # which parameters a transform acts on: name -> bool


class EmptyState(NamedTuple):
    """The state of a transform that keeps none."""


class CountState(NamedTuple):
    count: int  # updates done so far


def as_f32(tree: Params) -> Params:
    """Each array of ``tree`` as float32 (no copy for one that already is)."""
    return {k: np.asarray(v, dtype=np.float32) for k, v in tree.items()}


def scaled(updates: Params, factor: np.float32) -> Params:
    """Every update multiplied by the float32 ``factor``, in float32."""
    return {k: (factor * u).astype(np.float32) for k, u in updates.items()}


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
        return scaled(updates, np.float32(factor)), state

    return GradientTransformation(lambda params: EmptyState(), update)


def scale_by_schedule(schedule: Schedule) -> GradientTransformation:
    """Multiply the updates by ``schedule(count)``, ``count`` = 0 at the first update.

    Raises:
        TypeError: ``schedule`` is not callable.
    """
    if not callable(schedule):
        raise TypeError(f"schedule must be callable (step -> factor), got {schedule!r}")

    def update(updates: Params, state: CountState, params: Params | None = None) -> tuple[Params, CountState]:
        return scaled(updates, np.float32(schedule(state.count))), CountState(state.count + 1)

    return GradientTransformation(lambda params: CountState(0), update)


def scale_by_learning_rate(lr: float | Schedule) -> GradientTransformation:
    """Multiply the updates by ``-lr`` (or ``-lr(count)`` for a schedule): gradient *descent*.

    Raises:
        ValueError: A constant ``lr <= 0``.
    """
    check_lr(lr)

    def update(updates: Params, state: CountState, params: Params | None = None) -> tuple[Params, CountState]:
        return scaled(updates, np.float32(-lr_at(lr, state.count))), CountState(state.count + 1)

    return GradientTransformation(lambda params: CountState(0), update, lr)


def scale_by_sign() -> GradientTransformation:
    """Output ``sign(u)`` (signSGD; with :func:`trace` before it, signum)."""

    def update(updates: Params, state: EmptyState, params: Params | None = None) -> tuple[Params, EmptyState]:
        return {k: np.sign(u).astype(np.float32) for k, u in updates.items()}, state

    return GradientTransformation(lambda params: EmptyState(), update)


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
        params = need_params(params, "add_decayed_weights")
        check_tree(params, updates, "params", "updates")
        decays = dict.fromkeys(params, True) if mask is None else _resolve_mask(mask, params)
        wd = np.float32(weight_decay)
        out = {k: (u + wd * params[k]).astype(np.float32) if decays[k] else u for k, u in updates.items()}
        return out, state

    return GradientTransformation(lambda params: EmptyState(), update)
