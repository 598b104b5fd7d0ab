"""Turning images into network inputs: per-pixel standardization and the MLP / CNN layouts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from odyssey_lessons._validate import check_positive
from odyssey_lessons.data._checks import check_real_array


@dataclass(frozen=True, eq=False)  # eq=False: == on arrays is elementwise
class FeatureStats:
    """Per-feature statistics of a training set, and the map they define: ``z = (x - mean) / scale``.

    Attributes:
        mean: float64, the training mean of each feature (shape = one sample's shape, e.g. (8, 8)).
        std: float64, the training (population, ddof=0) standard deviation of each feature.
        scale: float64, the divisor used: ``std`` where ``std > eps``, else 1.
        eps: The threshold below which a feature counts as constant.
    """

    mean: np.ndarray
    std: np.ndarray
    scale: np.ndarray
    eps: float

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Standardize ``x`` (shape (n, *mean.shape)) with these training statistics; returns a new float32 array.

        Raises:
            ValueError: One sample of ``x`` does not have the shape of ``mean``.
            TypeError: ``x`` does not hold real numbers.
        """
        x = check_real_array("x", x)
        if x.shape[1:] != self.mean.shape:
            raise ValueError(f"x must have shape (n, *{self.mean.shape}), got x.shape={x.shape}")
        return ((x.astype(np.float64) - self.mean) / self.scale).astype(np.float32)


def standardize(
    train: np.ndarray, *others: np.ndarray, eps: float = 1e-6
) -> tuple[tuple[np.ndarray, ...], FeatureStats]:
    """Standardize every feature (pixel) with statistics of the training set only.

    For feature j: ``mean_j`` and ``std_j`` (ddof=0) over the training samples, then for every array
    ``z[:, j] = (x[:, j] - mean_j) / s_j`` with ``s_j = std_j`` if ``std_j > eps`` else ``1``.

    Per-feature rather than one global mean/std because digit pixels differ a lot: border pixels are almost always 0,
    centre pixels vary widely. Constant training pixels (a digit's corner is 0 in every image) are only centred, not
    divided by ~0 -- that would turn a rare non-zero test pixel into a huge input (scikit-learn's ``StandardScaler``
    makes the same choice).
    Validation and test data are transformed with the *training* statistics, so nothing leaks from them.

    Args:
        train: Training samples, shape (n, ...) with n >= 1; every axis after the first is a feature axis.
        *others: More arrays (validation, test) of shape (m, ...) with the same feature shape.
        eps: Standard deviations at or below this count as zero.

    Returns:
        ``(arrays, stats)``: ``arrays`` are new float32 arrays, the standardized ``train`` first, then ``others`` in
        order; ``stats`` is the :class:`FeatureStats` (``stats.apply(x)`` standardizes more data the same way).

    Raises:
        ValueError: ``train`` is empty, feature shapes differ, or ``eps`` is not a positive finite number.
        TypeError: An array does not hold real numbers.
    """
    eps = check_positive("eps", eps)
    train = check_real_array("train", train)
    if len(train) == 0:
        raise ValueError(f"train must hold at least one sample, got train.shape={train.shape}")
    checked = []
    for i, other in enumerate(others):
        other = check_real_array(f"others[{i}]", other)
        if other.shape[1:] != train.shape[1:]:
            raise ValueError(
                f"others[{i}] must have feature shape {train.shape[1:]} like train, got others[{i}].shape={other.shape}"
            )
        checked.append(other)
    # float64 statistics, float32 outputs: a float32 sum over thousands of samples would lose digits.
    train64 = train.astype(np.float64)
    mean = train64.mean(axis=0)
    std = train64.std(axis=0)
    scale = np.where(std > eps, std, 1.0)
    for array in (mean, std, scale):
        array.flags.writeable = False  # the statistics are a record of the training set; apply() never changes them
    stats = FeatureStats(mean=mean, std=std, scale=scale, eps=eps)
    return tuple(stats.apply(x) for x in (train, *checked)), stats


def _check_images(images: np.ndarray) -> np.ndarray:
    images = check_real_array("images", images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width), got images.shape={images.shape}")
    return images


def as_mlp_input(images: np.ndarray) -> np.ndarray:
    """Flatten images (n, h, w) to MLP rows (n, h * w), row-major; returns a new contiguous float32 array.

    Raises:
        ValueError: ``images`` is not 3-D.
        TypeError: ``images`` does not hold real numbers.
    """
    images = _check_images(images)
    return np.array(images.reshape(len(images), -1), dtype=np.float32, order="C", copy=True)


def as_cnn_input(images: np.ndarray) -> np.ndarray:
    """Add a channel axis: images (n, h, w) to CNN input (n, 1, h, w) (NCHW); returns a new contiguous float32 array.

    Raises:
        ValueError: ``images`` is not 3-D.
        TypeError: ``images`` does not hold real numbers.
    """
    images = _check_images(images)
    return np.array(images[:, np.newaxis, :, :], dtype=np.float32, order="C", copy=True)
