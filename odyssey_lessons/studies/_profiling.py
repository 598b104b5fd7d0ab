"""Lesson 7's repeated profiles: the repeats a verdict on a layer's share of the step takes its interval over.

One :func:`odyssey_lessons.perf.profile` gives medians over its rounds, but a share measured once has no interval:
a busy machine can move it by several points between two runs. :func:`repeated_profiles` runs the profiler again
and again on the same model and batch (each run warmed up and interleaving layer calls with whole steps, as
``profile`` does); :func:`row_shares` and :func:`largest_share` turn them into one value per run for
:func:`odyssey_lessons.evidence.judge`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from odyssey_lessons._validate import check_positive_int
from odyssey_lessons.nn import Sequential
from odyssey_lessons.perf import Profile, profile


def repeated_profiles(
    model: Sequential, x: np.ndarray, y: np.ndarray | None = None, *, profiles: int, repeats: int = 5, warmup: int = 1
) -> tuple[Profile, ...]:
    """``profiles`` independent runs of ``perf.profile(model, x, y, repeats=repeats, warmup=warmup)``.

    Raises:
        TypeError, ValueError: ``profiles`` not an int >= 1, or what :func:`~odyssey_lessons.perf.profile` raises.
    """
    profiles = check_positive_int("profiles", profiles)
    return tuple(profile(model, x, y, repeats=repeats, warmup=warmup) for _ in range(profiles))


def _names(profiles: Sequence[Profile]) -> list[str]:
    if not profiles:
        raise ValueError("profiles must hold at least one Profile, got an empty sequence")
    return [r.name for r in profiles[0].rows]


def row_shares(profiles: Sequence[Profile], name: str) -> np.ndarray:
    """Percent of the step (``pct_total``) taken by the row called exactly ``name``, one value per profile.

    Raises:
        ValueError: No profiles, or no row called ``name`` (the message lists the rows).
    """
    names = _names(profiles)
    if name not in names:
        raise ValueError(f"no row called {name!r}; the rows are {names}")
    i = names.index(name)
    return np.array([p.rows[i].pct_total for p in profiles])


def largest_share(profiles: Sequence[Profile], names: Sequence[str]) -> np.ndarray:
    """Per profile, the largest share (percent of the step) among the rows ``names``: the statistic of a claim about
    every one of them ("each under 5%" holds when the largest does).

    Raises:
        ValueError: No profiles, no names, or a name that is not a row.
    """
    if not names:
        raise ValueError("names must list at least one row, got none")
    return np.max(np.stack([row_shares(profiles, n) for n in names]), axis=0)
