"""Joining schedules end to end."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from odyssey_lessons._validate import check_int
from odyssey_lessons.schedules._base import Schedule


def join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Run ``schedules[0]`` until ``boundaries[0]``, then ``schedules[1]`` until ``boundaries[1]``, and so on.

    ``lr_k = schedules[i](k - boundaries[i-1])`` for ``boundaries[i-1] <= k < boundaries[i]`` (with
    ``boundaries[-1] = 0`` before the first): after each boundary the next schedule starts from its own step 0, as in
    optax ``join_schedules`` (and torch ``SequentialLR`` in spirit).

    Raises:
        TypeError: An element of ``schedules`` is not a :class:`Schedule`.
        ValueError: ``len(boundaries) != len(schedules) - 1``, or boundaries not ints ``>= 1`` strictly increasing.
    """
    schedules = list(schedules)
    for i, s in enumerate(schedules):
        if not isinstance(s, Schedule):
            raise TypeError(f"schedules[{i}] must be a Schedule, got schedules[{i}]={s!r}")
    bounds = [check_int(f"boundaries[{i}]", b, minimum=1) for i, b in enumerate(boundaries)]
    if not schedules or len(bounds) != len(schedules) - 1:
        raise ValueError(
            f"join needs len(boundaries) == len(schedules) - 1 >= 0, got {len(schedules)} schedules and {boundaries=}"
        )
    if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(f"boundaries must be strictly increasing, got {boundaries=}")

    def kernel(k: np.ndarray) -> np.ndarray:
        out = schedules[0].values(k)
        for b, s in zip(bounds, schedules[1:], strict=True):
            after = k >= b
            out[after] = s.values(k[after] - b)
        return out

    last = schedules[-1].total_steps
    total = None if last is None else (bounds[-1] if bounds else 0) + last
    return Schedule("join", {"schedules": schedules, "boundaries": bounds}, kernel, total_steps=total)
