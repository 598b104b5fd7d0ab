"""How a fused optimizer runs its kernel over a dict of parameter arrays: the machinery the named optimizers share.

An optimizer (:mod:`odyssey_lessons.optim._optimizers`) provides its rule as a :data:`Plan`: per step, one numba
kernel, its hyperparameter vector (:func:`hyperparams`) and the state's arrays. :func:`transformation` checks the
trees and runs the kernel once per parameter array on flat views of ``p``, ``g`` and each state array, writing new
state arrays and the update. The state passed in is
never modified: every update returns new state arrays (state in, new state out), so an old state can be kept,
inspected or replayed. "New" arrays reuse the memory of earlier outputs that nobody references any more
(:class:`~odyssey_lessons.optim._pool.Recycler`): fresh memory would cost a page fault per 4 KiB page written, more
than the update itself.

Beside it, each optimizer has the fused in-place ``step(params, grads, state)`` that ``torch.optim`` users know: the
same kernels add the update to the parameters and overwrite the state in one pass (see
:class:`~odyssey_lessons.optim.GradientTransformation`). Both come from one ``run(grads, state, params, fused)``
(:func:`transformation`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from odyssey_lessons._threads import PARALLEL_MIN_SIZE, threads_for
from odyssey_lessons.optim._base import GradientTransformation, Params, Schedule
from odyssey_lessons.optim._checks import check_tree, need_params
from odyssey_lessons.optim._pool import Recycler

_EMPTY = np.empty(0, np.float32)  # stands for a state array a configuration does not use


def _flat(x: np.ndarray) -> np.ndarray:
    """A flat, C-contiguous float32 view of ``x`` (a copy only when ``x`` is not already one)."""
    return np.ascontiguousarray(x, dtype=np.float32).reshape(-1)


def _prepare(
    grads: Params, params: Params | None, state_arrays: Params | None, needs_params: bool
) -> tuple[Params, Params]:
    """Check ``grads`` (and ``params``) against the state's keys and shapes; return ``(grads, params)`` where a
    missing ``params`` is replaced by the gradients (the kernels then never read them)."""
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict name -> array, got grads of type {type(grads).__name__}")
    if state_arrays:
        check_tree(grads, state_arrays, "grads", "the optimizer state")
    if params is None:
        if needs_params:
            need_params(params, "weight_decay")
        return grads, grads
    check_tree(params, grads, "params", "grads")
    return grads, params


def hyperparams(size: int, values: dict[int, float]) -> np.ndarray:
    """A kernel's hyperparameter vector: float64, ``size`` entries, ``values`` at their indices (``_kernels.*``).
    An entry left out stays NaN, which then shows in every result instead of passing for a number."""
    h = np.full(size, np.nan)
    for index, value in values.items():
        h[index] = value
    return h


def _writable_flat(x: np.ndarray, what: str, key: str) -> np.ndarray:
    """A flat view of ``x`` (``what[key]``, named in errors) that the fused step writes through: ``x`` must be a
    writeable C-contiguous float32 array (a copy would silently leave the caller's array unchanged)."""
    if type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous and x.flags.writeable:
        return x.reshape(-1)  # the common case, without building the name
    name = f"{what}[{key!r}]"
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a float32 numpy array for the in-place step, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{name} must be a float32 numpy array for the in-place step, got {name}.dtype={x.dtype}")
    if not (x.flags.c_contiguous and x.flags.writeable):
        raise ValueError(
            f"{name} must be C-contiguous and writeable for the in-place step (it is updated in place), got "
            f"c_contiguous={x.flags.c_contiguous}, writeable={x.flags.writeable}"
        )
    return x.reshape(-1)


def _flat_in(x: np.ndarray, what: str, key: str, fused: bool) -> np.ndarray:
    """A parameter or old state array, flat; the fused step also writes the new values into it."""
    return _writable_flat(x, what, key) if fused else _flat(x)


KernelCall = tuple[Callable, np.ndarray, dict[str, Params | None]]
Plan = Callable[[Any], KernelCall]
"""An optimizer's rule for one step: ``plan(state) -> (kernel, h, arrays)`` with ``h`` the kernel's hyperparameter
vector for this step and ``arrays`` the state's arrays by field name, in the kernel's argument order (``None`` for a
field this configuration does not use)."""


def _sweep(
    kernel: Callable,
    h: np.ndarray,
    arrays: dict[str, Params | None],
    grads: Params,
    params: Params,
    *,
    fused: bool,
    out: Recycler,
) -> tuple[Params, dict[str, Params]]:
    """Run ``kernel(p, g, *old state, *new state, u, h, fused)`` once per parameter array.

    A field of ``arrays`` that is ``None`` gives the kernel empty arrays it never touches. The pure update writes the
    new state and the update ``u`` into recycled memory from ``out``; the fused step (``fused=True``) writes the new
    state over the old arrays and the update into ``params``, and returns ``None`` for each update.

    Returns:
        ``(updates, new state arrays)``: the update per parameter, and per field the new arrays (``{}`` for an
        unused one), in the shapes of the gradients.
    """
    used = [field for field, tree in arrays.items() if tree is not None]
    out.resize((len(used) + 1) * len(grads))
    # filled in below; made here in the gradients' order, which the results keep whatever order the arrays run in
    updates: Params = dict.fromkeys(grads)
    new: dict[str, Params] = {field: dict.fromkeys(grads) if field in used else {} for field in arrays}

    def one(name: str, g: np.ndarray) -> None:
        shape = np.shape(g)
        g, p = _flat(g), _flat_in(params[name], "params", name, fused)
        olds, news = [], []
        for field in arrays:
            old = _flat_in(arrays[field][name], f"state.{field}", name, fused) if field in used else _EMPTY
            olds.append(old)
            news.append(old if fused or field not in used else out.empty(old.size))
        u = _EMPTY if fused else out.empty(g.size)
        kernel(p, g, *olds, *news, u, h, fused)
        updates[name] = None if fused else u.reshape(shape)
        for field, array in zip(arrays, news, strict=True):
            if field in used:
                new[field][name] = array.reshape(shape)

    # Each array runs on the calling thread or numba's pool by its size (threads_for); the small ones share one
    # switch to the calling thread instead of two thread-count changes each. Arrays are independent, so the order
    # they run in changes nothing.
    small = {name: g for name, g in grads.items() if np.size(g) < PARALLEL_MIN_SIZE}
    with threads_for(0):
        for name, g in small.items():
            one(name, g)
    for name, g in grads.items():
        if name not in small:
            with threads_for(np.size(g)):
                one(name, g)
    return updates, new


def transformation(init: Callable, plan: Plan, lr: float | Schedule, needs_params: bool) -> GradientTransformation:
    """The pure ``update`` and the fused in-place ``step`` of one optimizer whose rule is ``plan`` (see :data:`Plan`).

    Both check the trees, run the planned kernel over every parameter array and return the state with the new arrays
    and ``step + 1``: the state is a NamedTuple ``(step, *fields)`` whose field names are the keys of the plan's
    ``arrays``. ``needs_params``: the rule reads the parameters (weight decay), so ``update`` must be given them.
    """
    out = Recycler()  # this optimizer's memory for new state and updates

    def run(grads: Params, state: Any, params: Params | None, fused: bool) -> tuple[Params, Any]:
        kernel, h, arrays = plan(state)
        used = [tree for tree in arrays.values() if tree is not None]
        grads, params = _prepare(grads, params, used[0] if used else None, needs_params)
        updates, new = _sweep(kernel, h, arrays, grads, params, fused=fused, out=out)
        return updates, state._replace(step=state.step + 1, **new)

    def update(grads: Params, state: Any, params: Params | None = None) -> tuple[Params, Any]:
        return run(grads, state, params, False)

    def step(params: Params, grads: Params, state: Any) -> Any:
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict name -> array, got params of type {type(params).__name__}")
        return run(grads, state, params, True)[1]

    return GradientTransformation(init, update, lr, step)
