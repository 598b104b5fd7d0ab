"""A deterministic, stratified train / validation / test split of the digits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from odyssey_lessons._validate import check_fraction, check_seed
from odyssey_lessons.data._digits import load_digits


@dataclass(frozen=True, eq=False)  # eq=False: == on arrays is elementwise
class DigitsSplit:
    """The digits split three ways. Images are raw (float32, (n, 8, 8), 0..16); labels int64.

    Every array is a fresh, writable copy. ``*_index`` are the rows of :func:`load_digits` each split took, in the
    (shuffled) order the split holds them, so ``x_train == load_digits().images[train_index]``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    train_index: np.ndarray
    val_index: np.ndarray
    test_index: np.ndarray
    seed: int
    val_fraction: float
    test_fraction: float


def stratified_indices(
    labels: np.ndarray, *, seed: int, val_fraction: float, test_fraction: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split the positions of ``labels`` into train / val / test, class by class.

    Each class c with n_c members gives ``round(test_fraction * n_c)`` to test, ``round(val_fraction * n_c)`` to
    validation and the rest to train, so every split holds the classes in the dataset's proportions (up to rounding).
    Within each split the order is shuffled, so classes are interleaved.

    Args:
        labels: 1-D integer class labels.
        seed: Seed of the ``numpy.random.default_rng`` that draws the split.
        val_fraction: Share of each class for validation, in [0, 1).
        test_fraction: Share of each class for test, in [0, 1).

    Returns:
        ``(train, val, test)`` int64 index arrays; disjoint, and together every position exactly once.

    Raises:
        ValueError: A fraction is outside [0, 1), they sum to 1 or more, or some class would have no training sample.
        TypeError: An argument has the wrong type.
    """
    seed = check_seed(seed)
    val_fraction = check_fraction("val_fraction", val_fraction)
    test_fraction = check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 to leave training data, got {val_fraction=}, {test_fraction=}"
        )
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be a 1-D integer array, got dtype {labels.dtype}, shape {labels.shape}")
    rng = np.random.default_rng(seed)
    parts: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        n_test = round(test_fraction * len(members))
        n_val = round(val_fraction * len(members))
        if n_test + n_val >= len(members):
            raise ValueError(
                f"class {cls} has {len(members)} samples: {val_fraction=} and {test_fraction=} leave none to train on"
            )
        parts[0].append(members[n_test + n_val :])
        parts[1].append(members[n_test : n_test + n_val])
        parts[2].append(members[:n_test])
    train, val, test = (rng.permutation(np.concatenate(part)).astype(np.int64) for part in parts)
    return train, val, test


def split_digits(*, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15) -> DigitsSplit:
    """Split the 1,797 digits into stratified train / validation / test sets; the same seed gives the same split.

    With the defaults: 1,259 train, 269 validation, 269 test images, each split about 10% of each digit.

    Args:
        seed: Seed of the split (a non-negative int).
        val_fraction: Share of each digit class held out for validation, in [0, 1).
        test_fraction: Share of each digit class held out for test, in [0, 1).

    Returns:
        A :class:`DigitsSplit` of raw images (pixels 0..16) and labels; standardize with :func:`standardize`.

    Raises:
        ValueError: A fraction is outside [0, 1) or ``val_fraction + test_fraction >= 1``.
        TypeError: An argument has the wrong type.
    """
    digits = load_digits()
    train, val, test = stratified_indices(
        digits.labels, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction
    )
    # Fancy indexing copies, so the splits are writable and never alias the read-only cache.
    return DigitsSplit(
        x_train=digits.images[train],
        y_train=digits.labels[train],
        x_val=digits.images[val],
        y_val=digits.labels[val],
        x_test=digits.images[test],
        y_test=digits.labels[test],
        train_index=train,
        val_index=val,
        test_index=test,
        seed=seed,
        val_fraction=float(val_fraction),
        test_fraction=float(test_fraction),
    )
