"""Optimizers as pure function pairs, in the style of optax.

``opt = sgd(lr=0.1)``; ``state = opt.init(params)``; ``updates, state = opt.update(grads, state, params)``;
``params = apply_updates(params, updates)``. ``params``, ``grads`` and ``updates`` are dicts name -> float32 array;
state is a NamedTuple of such dicts and counters, so it can be printed and inspected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

Params = dict[str, np.ndarray]
Schedule = Callable[[int], float]


class GradientTransformation(NamedTuple):
    """A pair of pure functions: ``init(params) -> state`` and ``update(grads, state, params) -> (updates, state)``.

    ``learning_rate`` is the optimizer's ``lr`` (a number or a schedule of the step) so a training loop can record
    it; ``None`` for transforms without one.
    """

    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params | None], tuple[Params, Any]]
    learning_rate: float | Schedule | None = None


def apply_updates(params: Params, updates: Params) -> Params:
    """``params + updates`` per array (new float32 arrays; the inputs are not modified).

    Raises:
        ValueError: The two dicts do not have the same keys and shapes.
    """
    if params.keys() != updates.keys():
        raise ValueError(f"updates must have the keys of params; got {sorted(updates)} for {sorted(params)}")
    out = {}
    for name, p in params.items():
        if p.shape != updates[name].shape:
            raise ValueError(f"updates[{name!r}] has shape {updates[name].shape}, params[{name!r}] has {p.shape}")
        out[name] = (p + updates[name]).astype(np.float32)
    return out


def lr_at(lr: float | Schedule, step: int) -> float:
    """The learning rate at ``step``: ``lr`` itself, or ``lr(step)`` for a schedule."""
    return float(lr(step)) if callable(lr) else float(lr)


def check_lr(lr: float | Schedule) -> None:
    """Raise ValueError for a non-positive or non-finite constant learning rate (schedules are checked by their
    factories)."""
    if callable(lr):
        return
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number or a schedule, got lr={lr!r}")


def state_bytes(state: Any) -> int:
    """Bytes of optimizer state, summed over the actual arrays found in ``state`` (NamedTuples, dicts, tuples)."""
    if isinstance(state, np.ndarray):
        return int(state.nbytes)
    if isinstance(state, dict):
        return sum(state_bytes(v) for v in state.values())
    if isinstance(state, tuple | list):
        return sum(state_bytes(v) for v in state)
    return 0
