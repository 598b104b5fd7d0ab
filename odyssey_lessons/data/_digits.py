"""The 8x8 handwritten digits, vendored from scikit-learn; nothing is downloaded.

``digits.csv.gz`` is scikit-learn's copy of the test set of the UCI "Optical Recognition of Handwritten Digits"
dataset: 1,797 rows of 65 integers, the 64 pixels of an 8x8 image (row-major, each 0..16: the number of "on" pixels
in a 4x4 block of a 32x32 bitmap) followed by the label 0..9. ``DIGITS_LICENSE.txt`` beside it records where the file
came from and its BSD-3-Clause license.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import numpy as np

DIGITS_FILE = "digits.csv.gz"
LICENSE_FILE = "DIGITS_LICENSE.txt"
# The sha256 of the vendored file as copied from the scikit-learn 1.9.1 wheel; loading refuses any other bytes.
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
N_SAMPLES = 1797
IMAGE_SHAPE = (8, 8)
N_CLASSES = 10
PIXEL_MAX = 16

PROVENANCE = (
    "8x8 handwritten digits: the test set of the UCI 'Optical Recognition of Handwritten Digits' dataset "
    "(E. Alpaydin, C. Kaynak, Bogazici University, 1998), as shipped by scikit-learn 1.9.1 in "
    "sklearn/datasets/data/digits.csv.gz (BSD-3-Clause; see odyssey_lessons/data/DIGITS_LICENSE.txt). "
    f"sha256 {DIGITS_SHA256}."
)


@dataclass(frozen=True, eq=False)  # eq=False: == on arrays is elementwise, so compare fields explicitly instead
class Digits:
    """The whole digits dataset, in file order.

    Attributes:
        images: float32 array of shape (1797, 8, 8), integer-valued pixels in [0, 16]. Read-only (shared cache).
        labels: int64 array of shape (1797,), the digit 0..9 each image shows. Read-only (shared cache).
        provenance: Where the data came from and under which license.
    """

    images: np.ndarray
    labels: np.ndarray
    provenance: str

    def __len__(self) -> int:
        return len(self.labels)


def digits_path() -> Traversable:
    """The vendored ``digits.csv.gz`` inside the installed package."""
    return resources.files(__package__) / DIGITS_FILE


def license_path() -> Traversable:
    """The vendored ``DIGITS_LICENSE.txt`` (provenance note and BSD-3-Clause text)."""
    return resources.files(__package__) / LICENSE_FILE


@functools.lru_cache(maxsize=1)
def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    """Parse the vendored file once per process; the arrays are made read-only so the cache cannot be corrupted."""
    raw = digits_path().read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != DIGITS_SHA256:
        raise RuntimeError(f"{DIGITS_FILE} is corrupted: sha256 {digest}, expected {DIGITS_SHA256}; reinstall")
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64, ndmin=2)
    n_pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if table.shape != (N_SAMPLES, n_pixels + 1):
        raise RuntimeError(f"{DIGITS_FILE} has shape {table.shape}, expected {(N_SAMPLES, n_pixels + 1)}")
    images = table[:, :n_pixels].reshape(N_SAMPLES, *IMAGE_SHAPE).astype(np.float32)
    labels = np.ascontiguousarray(table[:, n_pixels])
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def load_digits() -> Digits:
    """Load the 1,797 8x8 handwritten digits.

    The file is parsed once per process (about 10 ms) and cached; every call returns the same read-only arrays, so
    loading again is free. Call ``.copy()`` on an array before modifying it.

    Returns:
        A :class:`Digits` with ``images`` (float32, (1797, 8, 8), values 0..16), ``labels`` (int64, (1797,), 0..9)
        and ``provenance``.

    Raises:
        RuntimeError: The vendored file does not match its recorded checksum or shape (a broken install).
    """
    images, labels = _read_digits()
    return Digits(images=images, labels=labels, provenance=PROVENANCE)
