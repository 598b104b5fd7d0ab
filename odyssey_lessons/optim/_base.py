"""Optimizers as pure function pairs, in the style of optax.

``opt = sgd(lr=0.1)``; ``state = opt.init(params)``; ``updates, state = opt.update(grads, state, params)``;
``params = apply_updates(params, updates)``. ``params``, ``grads`` and ``updates`` are dicts name -> float32 array;
state is a NamedTuple of such dicts and counters, so it can be printed and inspected.
"""

from __future__ import annotations

import numbers
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from odyssey_lessons._threads import threads_for
from odyssey_lessons._validate import check_fraction, check_positive
from odyssey_lessons.optim._kernels import add_kernel

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


class _Lease:
    """Owner of one handed-out output array: numpy makes it the ``base`` of that array and of every view taken from
    it, so it lives exactly as long as any of them."""

    __slots__ = ("__array_interface__", "__weakref__")

    def __init__(self, raw: np.ndarray) -> None:
        self.__array_interface__ = raw.__array_interface__


class Recycler:
    """Output arrays for pure updates, reusing the memory of earlier outputs that nobody can see any more.

    Why: a pure update writes every step into fresh arrays (new state, the updates). Fresh memory costs a page fault
    per 4 KiB page the first time it is written, and glibc gives freed blocks of a few MiB back to the system, so a
    step on 1M parameters spent most of its time faulting in its outputs (Adam: 2.8 ms per step, 0.6 ms in the
    kernel). Each output is handed out through a :class:`_Lease`; when the caller has dropped the array and every
    view of it (typically: the state before the previous one), the lease dies and its memory goes back to a free
    list for the next update. Arrays the caller keeps are never written again, so ``update`` stays pure. Each
    optimizer has its own recycler; :func:`apply_updates` shares one. A recycler holds at most ``n_arrays`` (see
    :meth:`resize`) free arrays of each size: about one state's worth of memory after the caller drops everything.
    """

    def __init__(self) -> None:
        self._free: dict[int, list[np.ndarray]] = {}
        self._keep = 0

    def empty(self, size: int) -> np.ndarray:
        """A flat float32 array of ``size`` elements that nothing else references; contents undefined."""
        try:
            raw = self._free[size].pop()  # list.pop is atomic under the GIL: no lock needed (nor wanted: a
        except (KeyError, IndexError):  # finalizer can run in the middle of this method)
            raw = np.empty(size, np.float32)
        lease = _Lease(raw)
        weakref.finalize(lease, self._release, raw).atexit = False
        return np.asarray(lease)

    def _release(self, raw: np.ndarray) -> None:
        bucket = self._free.setdefault(raw.size, [])
        if len(bucket) < self._keep:
            bucket.append(raw)

    def resize(self, n_arrays: int) -> None:
        """Keep up to ``n_arrays`` free arrays of each size (one update's outputs)."""
        self._keep = max(self._keep, n_arrays)


_APPLY_OUTPUTS = Recycler()  # free memory for apply_updates' outputs (see Recycler); never an array in use


def apply_updates(params: Params, updates: Params) -> Params:
    """``params + updates`` per array (new float32 arrays; the inputs are not modified).

    Float32 arrays are added by a parallel numba kernel into memory recycled from earlier results that are no longer
    referenced (see :class:`Recycler`); anything else by numpy.

    Raises:
        ValueError: The two dicts do not have the same keys and shapes.
    """
    if params.keys() != updates.keys():
        raise ValueError(f"updates must have the keys of params; got {sorted(updates)} for {sorted(params)}")
    out = {}
    for name, p in params.items():
        if p.shape != updates[name].shape:
            raise ValueError(f"updates[{name!r}] has shape {updates[name].shape}, params[{name!r}] has {p.shape}")
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


def lr_at(lr: float | Schedule, step: int) -> float:
    """The learning rate at ``step``: ``lr`` itself, or ``lr(step)`` for a schedule."""
    return float(lr(step)) if callable(lr) else float(lr)


def check_lr(lr: float | Schedule) -> None:
    """Check a constant learning rate: a finite number > 0 (a schedule, any callable, is checked by its factory).

    Raises:
        TypeError: ``lr`` is neither a real number nor callable.
        ValueError: ``lr`` is not finite or not > 0.
    """
    if callable(lr):
        return
    if isinstance(lr, bool | np.bool_) or not isinstance(lr, numbers.Real):
        raise TypeError(f"lr must be a number > 0 or a schedule (a callable step -> lr), got lr={lr!r}")
    check_positive("lr", lr)


def check_betas(betas: tuple[float, float]) -> tuple[float, float]:
    """Return ``(b1, b2)`` after checking that both are in [0, 1).

    Raises:
        TypeError: ``betas`` is not a tuple or list, or a beta is not a real number.
        ValueError: Not two betas, or a beta outside [0, 1).
    """
    if not isinstance(betas, tuple | list):
        raise TypeError(f"betas must be a pair (b1, b2) of numbers in [0, 1), got betas={betas!r}")
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (b1, b2) of numbers in [0, 1), got betas={betas!r}")
    return check_fraction("betas[0]", betas[0]), check_fraction("betas[1]", betas[1])


def check_tree(tree: Params, reference: Params, name: str, reference_name: str) -> None:
    """Raise unless ``tree`` is a dict with the keys of ``reference`` and arrays of the same shapes.

    Raises:
        TypeError: ``tree`` is not a dict.
        ValueError: Different keys or a shape mismatch (named in the message).
    """
    if not isinstance(tree, dict):
        raise TypeError(f"{name} must be a dict name -> array, got {type(tree).__name__}")
    if tree.keys() != reference.keys():
        raise ValueError(f"{name} must have the keys of {reference_name}; got {sorted(tree)} for {sorted(reference)}")
    for key, x in tree.items():
        if np.shape(x) != np.shape(reference[key]):
            raise ValueError(
                f"{name}[{key!r}] has shape {np.shape(x)}, {reference_name}[{key!r}] has {np.shape(reference[key])}"
            )


def state_bytes_per_param(state: Any, params: Params) -> float:
    """Optimizer state bytes per parameter: :func:`state_bytes` divided by the number of parameter values (for fp32
    state: 0 for plain SGD, 4 with momentum, 8 for Adam)."""
    n = sum(int(np.size(v)) for v in params.values())
    if n == 0:
        raise ValueError("params has no values")
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
