"""Seeded mini-batches: one call is one epoch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from odyssey_lessons._validate import check_int, check_seed


def batches(
    x: np.ndarray, y: np.ndarray, *, batch_size: int, seed: int, shuffle: bool = True, drop_last: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate once over ``(x, y)`` in mini-batches of ``batch_size`` samples (one epoch).

    With ``shuffle=True`` the order is ``numpy.random.default_rng(seed).permutation(n)``: the same seed gives the same
    batches, so pass a different seed each epoch (e.g. ``seed=base_seed + epoch``) to reshuffle. With
    ``shuffle=False`` the order is 0..n-1 and ``seed`` is unused. Every sample appears exactly once per epoch, except
    that ``drop_last=True`` skips the final short batch (``n % batch_size`` samples) so every batch has the same size.

    Arguments are checked when ``batches`` is called, not at the first ``next()``.

    Args:
        x: Inputs, shape (n, ...).
        y: Targets, shape (n, ...).
        batch_size: Samples per batch, >= 1.
        seed: Seed of the shuffle (a non-negative int).
        shuffle: Whether to permute the samples.
        drop_last: Whether to drop the final batch when it is smaller than ``batch_size``.

    Returns:
        A generator of ``(xb, yb)``: new arrays (copies, never views of ``x``/``y``) of the same dtypes.

    Raises:
        ValueError: ``batch_size < 1``, ``seed < 0``, or ``x`` and ``y`` have different lengths or no first axis.
        TypeError: ``batch_size`` or ``seed`` is not an int.
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_seed(seed)
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"x and y must have a sample axis, got x.shape={x.shape}, y.shape={y.shape}")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got len(x)={len(x)}, len(y)={len(y)}")
    order = np.random.default_rng(seed).permutation(len(x)) if shuffle else np.arange(len(x))
    return _iterate(x, y, order, batch_size, bool(drop_last))


def _iterate(
    x: np.ndarray, y: np.ndarray, order: np.ndarray, batch_size: int, drop_last: bool
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    stop = len(order) - len(order) % batch_size if drop_last else len(order)
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size]
        yield x[index], y[index]
