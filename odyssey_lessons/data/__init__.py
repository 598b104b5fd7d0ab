"""The course's datasets, vendored with the package (nothing is downloaded).

- :func:`load_digits` -- the 1,797 8x8 handwritten digits (UCI, via scikit-learn; BSD-3-Clause, see
  ``DIGITS_LICENSE.txt``), parsed once and cached.
- :func:`split_digits` -- a seeded, stratified train / validation / test split.
- :func:`standardize`, :func:`as_mlp_input`, :func:`as_cnn_input` -- from pixels to network inputs.
- :func:`digits_task` -- all of the above in one call: ``(x, y)`` for train / val / test, MLP or CNN shaped.
- :func:`load_mnist1d` -- MNIST-1D (Greydanus & Kobak, ICML 2024), generated in numpy exactly as the ``mnist1d``
  package's ``make_dataset`` generates it (nothing downloaded, numpy's global random state untouched), cached.
- :func:`mnist1d_task` -- MNIST-1D as train / val / test ``(x, y)``, MLP or CNN (``(n, 1, 40)``) shaped.
- :func:`batches` -- seeded mini-batches, one epoch per call.
- :func:`make_classification_blobs` -- Gaussian blobs with a knob for the input magnitude.
- :func:`augment_digits`, :func:`warp_digits`, :func:`random_warps`, :class:`DigitAugmenter` -- seeded random
  rotations and shifts of the images (numba). Loaded on first use, so importing this package does not import numba.
"""

from odyssey_lessons.data._batches import batches
from odyssey_lessons.data._digits import (
    DIGITS_SHA256,
    IMAGE_SHAPE,
    N_CLASSES,
    N_SAMPLES,
    PIXEL_MAX,
    Digits,
    digits_path,
    license_path,
    load_digits,
)
from odyssey_lessons.data._mnist1d import MNIST1D, load_mnist1d
from odyssey_lessons.data._preprocess import FeatureStats, as_cnn_input, as_mlp_input, standardize
from odyssey_lessons.data._split import DigitsSplit, split_digits, stratified_indices
from odyssey_lessons.data._synthetic import make_classification_blobs
from odyssey_lessons.data._task import DigitsTask, digits_task, mnist1d_task

_LAZY = {  # name -> private module; these need numba, which ``import odyssey_lessons.data`` must not pull in
    "DigitAugmenter": "_augment",
    "augment_digits": "_augment",
    "random_warps": "_augment",
    "warp_digits": "_augment",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DIGITS_SHA256",
    "IMAGE_SHAPE",
    "MNIST1D",
    "N_CLASSES",
    "N_SAMPLES",
    "PIXEL_MAX",
    "Digits",
    "DigitsSplit",
    "DigitAugmenter",
    "DigitsTask",
    "FeatureStats",
    "as_cnn_input",
    "augment_digits",
    "as_mlp_input",
    "batches",
    "digits_path",
    "digits_task",
    "license_path",
    "load_digits",
    "load_mnist1d",
    "make_classification_blobs",
    "mnist1d_task",
    "random_warps",
    "split_digits",
    "standardize",
    "stratified_indices",
    "warp_digits",
]
