"""Data augmentation for the digit images: small random rotations and shifts, seeded, one numba kernel
(:func:`odyssey_lessons.data._kernels.warp_kernel`).

Every image is moved by its own affine map about the image centre ``(cy, cx) = ((h - 1) / 2, (w - 1) / 2)`` --
``(3.5, 3.5)`` for the 8x8 digits -- and resampled with bilinear interpolation. Coordinates are screen coordinates:
``x`` is the column (to the right), ``y`` the row (downwards). A positive angle turns the digit counter-clockwise as
it is displayed (``angles_deg=90`` is ``np.rot90`` up to rounding, ~1e-15); a positive ``dx`` moves it right, a
positive ``dy`` down.

Augment **raw** pixels (0..16, a blank pixel is 0) and standardize afterwards, or use :class:`DigitAugmenter`, which
does that round trip for batches that are already standardized (the arrays of :func:`digits_task`). After per-pixel
standardization a blank pixel is no longer 0, so warping standardized inputs with ``fill=0`` would bring in pixels
that look like ink.

This module imports numba; ``odyssey_lessons.data`` loads it only when one of its names is first used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from odyssey_lessons._validate import check_int, check_nonnegative, check_real, check_seed
from odyssey_lessons.data._digits import PIXEL_MAX
from odyssey_lessons.data._kernels import C_X0, C_XC, C_XR, C_Y0, C_YC, C_YR, N_COEF, warp_kernel
from odyssey_lessons.data._preprocess import FeatureStats, standardize
from odyssey_lessons.data._split import split_digits


# ----- validation and layouts -----------------------------------------------------------------------------------------
def _as_images(name: str, x: object) -> tuple[np.ndarray, tuple[int, ...]]:
    """``x`` as a C-contiguous float32 (n, h, w) view or copy, and the shape to give the result back in.

    Layouts: (n, h, w) images, (n, 1, h, w) CNN input (NCHW, one channel), (n, h * w) MLP rows of square images.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {name}={type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{name} must be float32, got {name}.dtype={x.dtype}; convert with {name}.astype(np.float32)")
    shape = x.shape
    if x.ndim == 3:
        images = x
    elif x.ndim == 4 and shape[1] == 1:
        images = x.reshape(shape[0], shape[2], shape[3])
    elif x.ndim == 2 and shape[1] > 0 and math.isqrt(shape[1]) ** 2 == shape[1]:
        side = math.isqrt(shape[1])
        images = x.reshape(shape[0], side, side)
    else:
        raise ValueError(
            f"{name} must have shape (n, h, w), (n, 1, h, w) or (n, side * side), got {name}.shape={shape}"
        )
    if images.shape[1] == 0 or images.shape[2] == 0:
        raise ValueError(f"{name} must hold images of at least 1x1 pixels, got {name}.shape={shape}")
    return np.ascontiguousarray(images), shape


def _per_image(name: str, value: object, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got {name}.dtype={array.dtype}")
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {name}.shape={array.shape}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, got {name}={array!r}")
    return array


def _inverse_affine(angles_deg: np.ndarray, shifts: np.ndarray, h: int, w: int) -> np.ndarray:
    """Coefficients of the inverse map (layout ``C_*``): output pixel -> input position, one row per image.

    Forward map of a point p = (x, y): ``p' = R (p - centre) + centre + (dx, dy)`` with, for a counter-clockwise turn
    on screen (y down), ``R = [[cos t, sin t], [-sin t, cos t]]``. Inverse: ``p = R^T (p' - centre - (dx, dy)) +
    centre``.
    """
    theta = np.deg2rad(angles_deg)
    cos, sin = np.cos(theta), np.sin(theta)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    ux, uy = cx + shifts[:, 0], cy + shifts[:, 1]  # p' - these = the offset from the moved centre
    coef = np.empty((len(angles_deg), N_COEF), dtype=np.float64)
    coef[:, C_XC], coef[:, C_XR], coef[:, C_X0] = cos, -sin, cx - cos * ux + sin * uy
    coef[:, C_YC], coef[:, C_YR], coef[:, C_Y0] = sin, cos, cy - sin * ux - cos * uy
    return coef


# ----- public API -----------------------------------------------------------------------------------------------------
def warp_digits(x: np.ndarray, angles_deg: np.ndarray, shifts: np.ndarray, *, fill: float = 0.0) -> np.ndarray:
    """Rotate each image about its centre by ``angles_deg[i]`` degrees, then shift it by ``shifts[i] = (dx, dy)``
    pixels; bilinear interpolation, pixels from outside the image take the value ``fill``.

    Output pixel ``p' = (x', y')`` (column, row) samples the input at ``p = R^T (p' - centre - (dx, dy)) + centre``,
    ``R = [[cos t, sin t], [-sin t, cos t]]``, ``centre = ((w - 1) / 2, (h - 1) / 2)``: positive angles turn the
    digit counter-clockwise as displayed (90 is ``np.rot90`` up to rounding), positive ``dx`` moves it right,
    positive ``dy`` down.

    Args:
        x: float32 images, shape (n, h, w), CNN input (n, 1, h, w) or MLP rows (n, side * side).
        angles_deg: Rotation of each image in degrees, shape (n,).
        shifts: ``(dx, dy)`` of each image in pixels, shape (n, 2).
        fill: The value of pixels outside the image: 0 for raw digits (a blank pixel). See the module docstring for
            standardized inputs.

    Returns:
        A new float32 array of ``x``'s shape.

    Raises:
        TypeError: ``x`` is not a float32 ndarray, or an argument has the wrong type.
        ValueError: A shape is wrong, or an angle, shift or ``fill`` is not finite.
    """
    images, shape = _as_images("x", x)
    n, h, w = images.shape
    angles = _per_image("angles_deg", angles_deg, (n,))
    moves = _per_image("shifts", shifts, (n, 2))
    fill = check_real("fill", fill)
    coef = _inverse_affine(angles, moves, h, w)
    out = np.empty_like(images)
    warp_kernel(images, out, coef, fill)
    return out.reshape(shape)


def random_warps(
    n: int, *, seed: int, max_shift: float = 1.0, max_rotation_deg: float = 10.0
) -> tuple[np.ndarray, np.ndarray]:
    """The random parameters :func:`augment_digits` uses: ``(angles_deg, shifts)``, each drawn uniformly,
    ``angles_deg`` (n,) from ``[-max_rotation_deg, max_rotation_deg]`` and ``shifts`` (n, 2) from
    ``[-max_shift, max_shift]``, all from ``numpy.random.default_rng(seed)`` -- so they depend on the seed only, never
    on the thread count.

    Raises:
        TypeError / ValueError: ``n`` or ``seed`` is not an int >= 0, or a maximum is negative or not finite.
    """
    n = check_int("n", n, minimum=0)
    seed = check_seed(seed)
    max_shift = check_nonnegative("max_shift", max_shift)
    max_rotation_deg = check_nonnegative("max_rotation_deg", max_rotation_deg)
    rng = np.random.default_rng(seed)
    angles = rng.uniform(-max_rotation_deg, max_rotation_deg, size=n)
    shifts = rng.uniform(-max_shift, max_shift, size=(n, 2))
    return angles, shifts


def augment_digits(
    x: np.ndarray, *, seed: int, max_shift: float = 1.0, max_rotation_deg: float = 10.0, fill: float = 0.0
) -> np.ndarray:
    """Randomly rotate and shift every image: :func:`warp_digits` with the parameters of :func:`random_warps`.

    Each image gets its own angle ``~ U[-max_rotation_deg, max_rotation_deg]`` and shift ``(dx, dy) ~
    U[-max_shift, max_shift]^2`` (continuous). The same ``seed`` always gives the same output; images keep their
    order, so labels stay paired with their images.

    Args:
        x: float32 **raw** images (0..16, blank = 0): (n, h, w), (n, 1, h, w) or (n, side * side). For standardized
            inputs use :class:`DigitAugmenter` or pass the standardized value of a blank pixel as ``fill``.
        seed: A non-negative int.
        max_shift: Largest shift in pixels, >= 0.
        max_rotation_deg: Largest rotation in degrees, >= 0.
        fill: The value of pixels moved in from outside the image.

    Returns:
        A new float32 array of ``x``'s shape.

    Raises:
        TypeError: ``x`` is not a float32 ndarray, or ``seed`` is not an int.
        ValueError: A bad shape, a negative seed or maximum, or a non-finite ``fill``.
    """
    images, _ = _as_images("x", x)
    angles, shifts = random_warps(len(images), seed=seed, max_shift=max_shift, max_rotation_deg=max_rotation_deg)
    return warp_digits(x, angles, shifts, fill=fill)


@dataclass(frozen=True, eq=False)  # eq=False: stats holds arrays
class DigitAugmenter:
    """Per-batch augmentation for a training loop: ``augmenter(xb, seed) -> xb_augmented`` (same shape and order).

    With ``stats`` (the :class:`FeatureStats` the inputs were standardized with), a batch is taken back to raw pixels
    (``x * scale + mean``), augmented with ``fill=0`` (blank), clipped to ``[0, 16]`` and standardized again -- so it
    works directly on the arrays of :func:`digits_task` (:meth:`for_digits_task` builds one with the right stats).
    Without ``stats`` the batch is taken to be raw pixels and augmented as it is.

    Attributes:
        stats: Standardization statistics of the inputs (``mean`` of shape (h, w)), or ``None`` for raw pixels.
        max_shift: Largest shift in pixels.
        max_rotation_deg: Largest rotation in degrees.
    """

    stats: FeatureStats | None = None
    max_shift: float = field(default=1.0, kw_only=True)
    max_rotation_deg: float = field(default=10.0, kw_only=True)

    def __post_init__(self) -> None:
        if self.stats is not None and not isinstance(self.stats, FeatureStats):
            raise TypeError(f"stats must be a FeatureStats or None, got stats={type(self.stats).__name__}")
        if self.stats is not None and self.stats.mean.ndim != 2:
            raise ValueError(f"stats must describe (h, w) images, got stats.mean.shape={self.stats.mean.shape}")
        object.__setattr__(self, "max_shift", check_nonnegative("max_shift", self.max_shift))
        object.__setattr__(self, "max_rotation_deg", check_nonnegative("max_rotation_deg", self.max_rotation_deg))

    @classmethod
    def for_digits_task(
        cls, seed: int = 0, *, max_shift: float = 1.0, max_rotation_deg: float = 10.0
    ) -> DigitAugmenter:
        """An augmenter for the arrays of ``digits_task(layout, seed=seed)``: it carries the same training
        statistics (those of ``split_digits(seed=seed)``'s training images)."""
        split = split_digits(seed=check_seed(seed))
        _, stats = standardize(split.x_train)
        return cls(stats, max_shift=max_shift, max_rotation_deg=max_rotation_deg)

    def __call__(self, xb: np.ndarray, seed: int) -> np.ndarray:
        """Augment one batch; ``seed`` (an int >= 0) picks the random warps. Returns a new float32 array.

        Raises:
            TypeError / ValueError: As :func:`augment_digits`; also when the images do not match ``stats.mean``.
        """
        limits = {"max_shift": self.max_shift, "max_rotation_deg": self.max_rotation_deg}
        if self.stats is None:
            return augment_digits(xb, seed=seed, **limits)
        images, shape = _as_images("xb", xb)
        if images.shape[1:] != self.stats.mean.shape:
            raise ValueError(
                f"xb must hold images of shape {self.stats.mean.shape} like stats.mean, got xb.shape={shape}"
            )
        raw = (images * self.stats.scale + self.stats.mean).astype(np.float32)
        moved = augment_digits(raw, seed=seed, **limits)
        np.clip(moved, 0.0, PIXEL_MAX, out=moved)  # undoes float rounding of the round trip; bilinear stays in range
        return ((moved - self.stats.mean) / self.stats.scale).astype(np.float32).reshape(shape)
