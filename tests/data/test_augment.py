"""odyssey_lessons.data augmentation: the numba warp against a slow pure-Python bilinear reference, np.roll, np.rot90.

Expectations come from outside the kernel: a per-pixel reference written from the formula, numpy's own roll and rot90,
and invariants (seeded reproducibility, order kept, mass roughly kept).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from odyssey_lessons.data import (
    DigitAugmenter,
    augment_digits,
    digits_task,
    load_digits,
    random_warps,
    split_digits,
    standardize,
    warp_digits,
)
from tests.oracles import require


def reference_warp(image: np.ndarray, angle_deg: float, dx: float, dy: float, fill: float) -> np.ndarray:
    """One image, pixel by pixel: undo the shift, turn back by the angle about the centre ((h-1)/2, (w-1)/2) and read
    the input there with bilinear interpolation over the image padded with ``fill``."""
    h, w = image.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    t = math.radians(angle_deg)

    def pixel(row: int, col: int) -> float:
        return float(image[row, col]) if 0 <= row < h and 0 <= col < w else fill

    out = np.empty((h, w))
    for row in range(h):
        for col in range(w):
            u, v = col - cx - dx, row - cy - dy
            # A counter-clockwise turn on screen (y down) maps (u, v) -> (u cos + v sin, -u sin + v cos); its inverse:
            x = cx + u * math.cos(t) - v * math.sin(t)
            y = cy + u * math.sin(t) + v * math.cos(t)
            x0, y0 = math.floor(x), math.floor(y)
            fx, fy = x - x0, y - y0
            out[row, col] = (
                pixel(y0, x0) * (1 - fy) * (1 - fx)
                + pixel(y0, x0 + 1) * (1 - fy) * fx
                + pixel(y0 + 1, x0) * fy * (1 - fx)
                + pixel(y0 + 1, x0 + 1) * fy * fx
            )
    return out


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_digits().images[:40].copy()


def test_identity_returns_input_exactly(images):
    n = len(images)
    assert np.array_equal(warp_digits(images, np.zeros(n), np.zeros((n, 2))), images)
    out = augment_digits(images, seed=3, max_shift=0.0, max_rotation_deg=0.0)
    assert out.dtype == np.float32 and out is not images
    assert np.array_equal(out, images)


@pytest.mark.parametrize(("dx", "dy"), [(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1)])
def test_integer_shift_is_roll_with_fill(images, dx, dy):
    fill = -0.5
    expected = np.roll(images, (dy, dx), axis=(1, 2))
    if dx:
        expected[:, :, 0 if dx > 0 else -1] = fill
    if dy:
        expected[:, 0 if dy > 0 else -1, :] = fill
    out = warp_digits(images, np.zeros(len(images)), np.tile([dx, dy], (len(images), 1)), fill=fill)
    np.testing.assert_array_equal(out, expected)


def test_random_warps_match_reference(rng, images):
    n = len(images)
    angles = rng.uniform(-40, 40, n)
    shifts = rng.uniform(-2.5, 2.5, (n, 2))
    fill = float(rng.normal())
    out = warp_digits(images, angles, shifts, fill=fill)
    for i in range(n):
        expected = reference_warp(images[i], angles[i], shifts[i, 0], shifts[i, 1], fill)
        np.testing.assert_allclose(out[i], expected, atol=1e-5, rtol=1e-6)


def test_non_square_images_match_reference(rng):
    x = rng.normal(size=(3, 5, 7)).astype(np.float32)
    angles, shifts = rng.uniform(-30, 30, 3), rng.uniform(-1, 1, (3, 2))
    out = warp_digits(x, angles, shifts, fill=0.25)
    for i in range(3):
        expected = reference_warp(x[i], angles[i], shifts[i, 0], shifts[i, 1], 0.25)
        np.testing.assert_allclose(out[i], expected, atol=1e-5, rtol=1e-6)


def test_matches_scipy_affine_transform(rng, images):
    """SciPy (optional) as an outside oracle: order-1 affine_transform with grid-constant padding is our warp."""
    ndimage = require("scipy.ndimage")
    n = len(images)
    angles, shifts = rng.uniform(-30, 30, n), rng.uniform(-2, 2, (n, 2))
    out = warp_digits(images, angles, shifts, fill=1.5)
    centre = np.array([3.5, 3.5])
    for i in range(n):
        t = np.deg2rad(angles[i])
        m = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])  # (row, col): input = m @ output + offset
        offset = centre - m @ (centre + shifts[i, ::-1])
        expected = ndimage.affine_transform(images[i], m, offset, order=1, mode="grid-constant", cval=1.5)
        np.testing.assert_allclose(out[i], expected, atol=1e-4)


@pytest.mark.parametrize("k", [1, 2, 3, -1])
def test_quarter_turns_are_rot90(images, k):
    out = warp_digits(images, np.full(len(images), 90.0 * k), np.zeros((len(images), 2)))
    np.testing.assert_allclose(out, np.rot90(images, k=k, axes=(1, 2)), atol=1e-5)


def test_layouts_agree(images):
    n = len(images)
    angles, shifts = random_warps(n, seed=5, max_shift=1.0, max_rotation_deg=10.0)
    base = warp_digits(images, angles, shifts)
    mlp = warp_digits(images.reshape(n, 64), angles, shifts)
    cnn = warp_digits(images[:, None], angles, shifts)
    assert mlp.shape == (n, 64) and cnn.shape == (n, 1, 8, 8)
    np.testing.assert_array_equal(mlp.reshape(n, 8, 8), base)
    np.testing.assert_array_equal(cnn[:, 0], base)
    np.testing.assert_array_equal(augment_digits(images.reshape(n, 64), seed=5).reshape(n, 8, 8), base)


def test_seeded_reproducible_and_seed_dependent(images):
    first = augment_digits(images, seed=7)
    assert np.array_equal(first, augment_digits(images, seed=7))
    assert not np.allclose(first, augment_digits(images, seed=8))
    angles, shifts = random_warps(len(images), seed=7)
    assert np.all(np.abs(angles) <= 10.0) and np.all(np.abs(shifts) <= 1.0)
    assert np.array_equal(first, warp_digits(images, angles, shifts))


def test_each_output_depends_only_on_its_own_image(images):
    """Row i of a batch is image i warped with parameters i, nothing else: order (and so the labels' pairing) holds."""
    angles, shifts = random_warps(len(images), seed=11)
    batch = warp_digits(images, angles, shifts)
    for i in range(len(images)):
        alone = warp_digits(images[i : i + 1], angles[i : i + 1], shifts[i : i + 1])
        np.testing.assert_array_equal(batch[i], alone[0])


def test_augmenter_on_digits_task_keeps_pairing_and_range():
    """On a standardized digits_task batch, row i is the standardized warp of raw training image i: order, and with it
    the pairing with the labels, is kept, and the result is a valid image in pixel space."""
    x, y = digits_task("cnn", seed=0).train
    split = split_digits(seed=0)
    assert np.array_equal(y, split.y_train)
    augmenter = DigitAugmenter.for_digits_task(0, max_shift=0.5, max_rotation_deg=5.0)
    out = augmenter(x, seed=1)
    assert out.shape == x.shape and out.dtype == np.float32
    angles, shifts = random_warps(len(x), seed=1, max_shift=0.5, max_rotation_deg=5.0)
    moved = np.clip(warp_digits(split.x_train.copy(), angles, shifts), 0, 16)
    expected = augmenter.stats.apply(moved)[:, None]
    np.testing.assert_allclose(out, expected, atol=1e-4)
    raw = out[:, 0] * augmenter.stats.scale + augmenter.stats.mean
    assert raw.min() >= -1e-4 and raw.max() <= 16 + 1e-4
    # With zero strength the round trip through raw pixels changes nothing beyond float32 rounding.
    still = DigitAugmenter(augmenter.stats, max_shift=0.0, max_rotation_deg=0.0)(x, seed=1)
    np.testing.assert_allclose(still, x, atol=1e-5)


def test_augmenter_without_stats_is_augment_digits(images):
    augmenter = DigitAugmenter(max_shift=0.7, max_rotation_deg=12.0)
    expected = augment_digits(images, seed=4, max_shift=0.7, max_rotation_deg=12.0)
    assert np.array_equal(augmenter(images, 4), expected)


def test_mass_roughly_kept_away_from_the_border():
    """Digits touch the 8x8 frame, so put them on a 12x12 canvas: small moves then lose no ink off the edge."""
    digits = load_digits().images[:200]
    canvas = np.zeros((len(digits), 12, 12), np.float32)
    canvas[:, 2:10, 2:10] = digits
    out = augment_digits(canvas, seed=2, max_shift=1.0, max_rotation_deg=10.0)
    ratio = out.sum(axis=(1, 2)) / canvas.sum(axis=(1, 2))
    assert np.all(np.abs(ratio - 1) < 0.15), (ratio.min(), ratio.max())


def test_bad_inputs_raise(images):
    n = len(images)
    with pytest.raises(TypeError, match=r"x must be float32, got x.dtype=float64"):
        augment_digits(images.astype(np.float64), seed=0)
    with pytest.raises(TypeError, match="x must be a numpy array"):
        augment_digits(images.tolist(), seed=0)
    for shape in [(n, 63), (n, 2, 8, 8), (n,), (n, 0, 8)]:
        with pytest.raises(ValueError, match=r"x must (have shape|hold images).*x.shape="):
            augment_digits(np.zeros(shape, np.float32), seed=0)
    with pytest.raises(ValueError, match="max_shift must be a finite number >= 0, got max_shift=-1"):
        augment_digits(images, seed=0, max_shift=-1.0)
    with pytest.raises(ValueError, match="max_rotation_deg"):
        augment_digits(images, seed=0, max_rotation_deg=float("inf"))
    with pytest.raises(ValueError, match="seed must be an int >= 0, got seed=-1"):
        augment_digits(images, seed=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        augment_digits(images, seed=1.5)
    with pytest.raises(ValueError, match="fill must be a finite number"):
        augment_digits(images, seed=0, fill=float("nan"))
    with pytest.raises(ValueError, match=r"angles_deg must have shape \(40,\)"):
        warp_digits(images, np.zeros(n - 1), np.zeros((n, 2)))
    with pytest.raises(ValueError, match=r"shifts must have shape \(40, 2\)"):
        warp_digits(images, np.zeros(n), np.zeros((n, 3)))
    with pytest.raises(ValueError, match="angles_deg must be finite"):
        warp_digits(images, np.full(n, np.nan), np.zeros((n, 2)))
    _, stats = standardize(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=r"xb must hold images of shape \(4, 4\)"):
        DigitAugmenter(stats)(images, seed=0)
    with pytest.raises(TypeError, match="stats must be a FeatureStats"):
        DigitAugmenter(images)
    with pytest.raises(ValueError, match="max_shift"):
        DigitAugmenter(max_shift=-0.1)
