"""A synthetic classification problem whose input magnitude is one knob."""

from __future__ import annotations

import numpy as np

from odyssey_lessons._validate import check_int, check_positive, check_seed

# Centres ~ N(0, CENTER_STD**2 I) and unit within-class noise: neighbouring blobs overlap a little in few dimensions,
# so the problem is learnable but not trivially separable.
CENTER_STD = 2.0


def make_classification_blobs(
    n: int, *, n_features: int, n_classes: int, scale: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs: ``x = scale * (c[y] + noise)``, with class centres ``c_k ~ N(0, 4 I)`` and ``noise ~ N(0, I)``.

    ``scale`` multiplies the inputs without changing the problem, so it sets the magnitude of activations and
    gradients (a first-layer weight gradient is proportional to the input); use it to push values towards a low
    precision format's overflow or underflow. Classes are balanced: sample i has class ``i % n_classes`` before the
    samples are shuffled.

    Args:
        n: Number of samples, >= 1.
        n_features: Input dimension, >= 1.
        n_classes: Number of classes, >= 2.
        scale: Positive factor applied to every input.
        seed: Seed of the ``numpy.random.default_rng`` that draws everything.

    Returns:
        ``(x, y)``: float32 inputs of shape (n, n_features) and int64 labels of shape (n,) in ``0..n_classes-1``.

    Raises:
        ValueError: An argument is out of range.
        TypeError: An argument has the wrong type.
    """
    n = check_int("n", n, minimum=1)
    n_features = check_int("n_features", n_features, minimum=1)
    n_classes = check_int("n_classes", n_classes, minimum=2)
    scale = check_positive("scale", scale)
    rng = np.random.default_rng(check_seed(seed))
    centers = rng.normal(0.0, CENTER_STD, size=(n_classes, n_features))
    y = rng.permutation(np.arange(n, dtype=np.int64) % n_classes)
    x = scale * (centers[y] + rng.normal(0.0, 1.0, size=(n, n_features)))
    return x.astype(np.float32), y
