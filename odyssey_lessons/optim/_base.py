"""What an optimizer is, in the style of optax: a pair of pure functions, and the updates it returns added to the
parameters.

``opt = sgd(lr=0.1)``; ``state = opt.init(params)``; ``updates, state = opt.update(grads, state, params)``;
``params = apply_updates(params, updates)``. ``params``, ``grads`` and ``updates`` are dicts name -> float32 array;
state is a NamedTuple of such dicts and counters, so it can be printed, inspected and measured (:func:`state_bytes`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from odyssey_lessons._threads import threads_for
from odyssey_lessons.optim._checks import check_tree
from odyssey_lessons.optim._kernels import add_kernel
from odyssey_lessons.optim._pool import Recycler

Params = dict[str, np.ndarray]
Schedule = Callable[[int], float]


class GradientTransformation(NamedTuple):
    """A pair of pure functions: ``init(params) -> state`` and ``update(grads, state, params) -> (updates, state)``.

    ``learning_rate`` is the optimizer's ``lr`` (a number or a schedule of the step) so a training loop can record
    it; ``None`` for transforms without one.

    ``step`` (the named optimizers only; ``None`` for composed transforms) is the fused in-place form, as
    ``torch.optim``'s ``optimizer.step()``: ``state = opt.step(params, grads, state)`` adds the update to each
    parameter array and overwrites the state's arrays, in one pass over memory per array. It gives the same float32
    values, bit for bit, as ``updates, state = opt.update(grads, state, params)`` followed by
    ``params = apply_updates(params, updates)``, which read and write every array twice. The arrays of ``params``
    and of the state passed in are modified (they must be writeable C-contiguous float32); the returned state holds
    the same arrays.
    """

    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params | None], tuple[Params, Any]]
    learning_rate: float | Schedule | None = None
    step: Callable[[Params, Params, Any], Any] | None = None


def lr_at(lr: float | Schedule, step: int) -> float:
    """The learning rate at ``step``: ``lr`` itself, or ``lr(step)`` for a schedule."""
    return float(lr(step)) if callable(lr) else float(lr)


def full_like(params: Params, value: float = 0.0) -> Params:
    """A new state tree: a float32 array filled with ``value`` for each parameter, of its shape."""
    return {k: np.full(np.shape(v), value, dtype=np.float32) for k, v in params.items()}


_APPLY_OUTPUTS = Recycler()  # free memory for apply_updates' outputs (see Recycler); never an array in use


def apply_updates(params: Params, updates: Params) -> Params:
    """``params + updates`` per array (new float32 arrays; the inputs are not modified).

    Float32 arrays are added by a parallel numba kernel into memory recycled from earlier results that are no longer
    referenced (see :class:`~odyssey_lessons.optim._pool.Recycler`); anything else by numpy.

    Raises:
        TypeError: ``updates`` is not a dict.
        ValueError: The two dicts do not have the same keys and shapes.
    """
    check_tree(updates, params, "updates", "params")
    out = {}
    for name, p in params.items():
        u = updates[name]
        if isinstance(p, np.ndarray) and isinstance(u, np.ndarray) and p.dtype == u.dtype == np.float32:
            flat = _APPLY_OUTPUTS.empty(p.size)
            with threads_for(p.size):
                add_kernel(np.ascontiguousarray(p).reshape(-1), np.ascontiguousarray(u).reshape(-1), flat)
            out[name] = flat.reshape(p.shape)
        else:
            out[name] = np.add(p, u, dtype=np.float32)
    _APPLY_OUTPUTS.resize(len(params))
    return out


def state_bytes_per_param(state: Any, params: Params) -> float:
    """Optimizer state bytes per parameter: :func:`state_bytes` divided by the number of parameter values (for fp32
    state: 0 for plain SGD, 4 with momentum, 8 for Adam)."""
    n = sum(int(np.size(v)) for v in params.values())
    if n == 0:
        raise ValueError(f"params must hold at least one value, got params={params!r}")
    return state_bytes(state) / n


def state_bytes(state: Any) -> int:
    """Bytes of optimizer state, summed over the actual arrays found in ``state`` (NamedTuples, dicts, tuples)."""
    if isinstance(state, np.ndarray):
        return int(state.nbytes)
    if isinstance(state, dict):
        return sum(state_bytes(v) for v in state.values())
    if isinstance(state, tuple | list):
        return sum(state_bytes(v) for v in state)
    return 0
