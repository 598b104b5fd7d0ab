"""The :class:`Schedule` object: a named, vectorised function of the step returning the learning rate.

Step convention (the whole package): ``schedule(k)`` is the learning rate of the k-th update, counting from
``k = 0`` for the first one. That is what ``odyssey_lessons.optim`` asks for (``lr_at(lr, step)`` with ``step = 0``
for the first update) and what PyTorch leaves in ``optimizer.param_groups[0]["lr"]`` after ``k`` calls of
``scheduler.step()``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any, overload

import numpy as np

Kernel = Callable[[np.ndarray], np.ndarray]


def as_steps(step: object) -> tuple[np.ndarray, bool]:
    """Return ``(steps as an int64 array, whether the input was a scalar)``.

    Raises:
        TypeError: Not an integer (bools and float arrays are refused, so ``0.5`` cannot pass as a step).
        ValueError: A negative step.
    """
    if isinstance(step, bool | np.bool_):
        raise TypeError(f"step must be an int or an integer array, got step={step!r}")
    if isinstance(step, numbers.Integral):
        if step < 0:
            raise ValueError(f"step must be >= 0, got step={step!r}")
        return np.asarray(int(step), dtype=np.int64), True
    array = np.asarray(step)
    if array.dtype.kind not in "iu":
        raise TypeError(f"step must be an int or an integer array, got dtype step.dtype={array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"steps must be >= 0, got min(step)={int(array.min())}")
    return array.astype(np.int64, copy=False), False


def format_args(args: Mapping[str, Any]) -> str:
    """``k=v, ...`` with ``repr`` values, as a call's arguments read."""
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


class Schedule:
    """A learning-rate schedule: ``schedule(step) -> lr``, pure (the same step always gives the same value).

    Call it with an int (returns a Python float) or an integer array (returns a float64 array of the same shape), e.g.
    ``schedule(np.arange(1000))`` for a plot. Steps count updates from 0; negative steps raise ``ValueError``.

    Attributes:
        name: The factory's name (``"cosine"``), used by ``repr``.
        args: The factory's arguments, for ``repr`` and for the lesson's tables.
        total_steps: The length of the run the schedule was built for (past it the value stays at its final value),
            or ``None`` for a schedule with no end (``constant``, ``exponential``, ``sgdr`` ...).
    """

    __slots__ = ("_kernel", "args", "name", "total_steps")

    def __init__(self, name: str, args: Mapping[str, Any], kernel: Kernel, total_steps: int | None = None) -> None:
        self.name = name
        self.args = dict(args)
        self._kernel = kernel
        self.total_steps = total_steps

    @overload
    def __call__(self, step: int) -> float: ...
    @overload
    def __call__(self, step: np.ndarray) -> np.ndarray: ...
    def __call__(self, step: int | np.ndarray) -> float | np.ndarray:
        steps, scalar = as_steps(step)
        values = self.values(steps)
        return float(values) if scalar else values

    def values(self, steps: np.ndarray) -> np.ndarray:
        """The kernel on already-checked int64 ``steps``, as float64 of the same shape (used by combinators).

        Kernels always see a 1-D array, so they can index with boolean masks.
        """
        flat = steps.reshape(-1)
        return np.asarray(self._kernel(flat), dtype=np.float64).reshape(steps.shape)

    def __repr__(self) -> str:
        return f"{self.name}({format_args(self.args)})"
