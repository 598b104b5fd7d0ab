"""Benchmark: digit augmentation throughput (images/s), the numba kernel against a plain numpy version in the same run.

Contenders, all doing the same bilinear affine warp (random rotation <= 10 degrees, shift <= 1 pixel, fill 0) of the
8x8 digits:

- ``warp_digits`` -- the package's numba kernel (serial: one thread), given the parameters;
- ``augment_digits`` -- the public call: draws the parameters with numpy's generator, then the same kernel;
- ``numpy`` -- a vectorised numpy implementation written here: index arithmetic over the whole batch, ``np.take`` from
  the images padded with the fill value (the baseline; every ratio is against it);
- ``scipy`` -- ``scipy.ndimage.affine_transform`` (order 1) image by image, when SciPy is importable (it is optional).

Batches: all 1,797 digits, and 64 (a training mini-batch). The numpy result is checked against the kernel first.
Prints a Markdown table and writes JSON (default ``benchmarks/results/bench_augment.json``). Nothing asserts a time.

    python benchmarks/bench_augment.py [--quick] [--repeats 15] [--json PATH]
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import header_line, main_for, provenance, ratio_row

from odyssey_lessons.data import augment_digits, load_digits, random_warps, warp_digits
from odyssey_lessons.perf import measure

MAX_SHIFT = 1.0
MAX_ROTATION_DEG = 10.0


def numpy_warp(images: np.ndarray, angles_deg: np.ndarray, shifts: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """The same warp as ``warp_digits``, vectorised over the batch with numpy (the baseline)."""
    n, h, w = images.shape
    t = np.deg2rad(angles_deg)[:, None, None]
    cos, sin = np.cos(t), np.sin(t)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    u = cols[None] - cx - shifts[:, 0, None, None]
    v = rows[None] - cy - shifts[:, 1, None, None]
    x = cx + cos * u - sin * v
    y = cy + sin * u + cos * v
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    # Pad with one ring of ``fill``; clamping an index into [-1, h] then lands outside points on the ring.
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)), constant_values=fill).reshape(n, -1)
    ix, ix1 = (np.clip(x0 + k, -1, w).astype(np.intp) + 1 for k in (0, 1))
    iy, iy1 = (np.clip(y0 + k, -1, h).astype(np.intp) + 1 for k in (0, 1))
    stride = w + 2

    def take(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.take_along_axis(padded, (r * stride + c).reshape(n, -1), axis=1).reshape(n, h, w)

    out = (
        take(iy, ix) * (1 - fy) * (1 - fx)
        + take(iy, ix1) * (1 - fy) * fx
        + take(iy1, ix) * fy * (1 - fx)
        + take(iy1, ix1) * fy * fx
    )
    return out.astype(np.float32)


def scipy_warp(images: np.ndarray, angles_deg: np.ndarray, shifts: np.ndarray, fill: float = 0.0):
    """``scipy.ndimage.affine_transform`` per image (order 1, ``grid-constant`` padding = our fill), or None."""
    try:
        from scipy import ndimage
    except ImportError:
        return None
    n, h, w = images.shape
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    out = np.empty_like(images)
    for i in range(n):
        t = np.deg2rad(angles_deg[i])
        # (row, col) coordinates: input = M @ (output - centre - (dy, dx)) + centre
        m = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
        offset = centre - m @ (centre + shifts[i, ::-1])
        out[i] = ndimage.affine_transform(images[i], m, offset, order=1, mode="grid-constant", cval=fill)
    return out


def run(args: argparse.Namespace) -> dict:
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 25)
    batch_sizes = [len(load_digits().images), 64]
    digits = load_digits().images
    rows = []
    for size in batch_sizes:
        x = np.ascontiguousarray(digits[:size])
        angles, shifts = random_warps(size, seed=0, max_shift=MAX_SHIFT, max_rotation_deg=MAX_ROTATION_DEG)
        reference = warp_digits(x, angles, shifts)
        diff = float(np.abs(numpy_warp(x, angles, shifts) - reference).max())
        if diff > 1e-4:
            raise RuntimeError(f"numpy baseline disagrees with warp_digits by {diff}")
        contenders = {
            "warp_digits (numba)": lambda x=x, a=angles, s=shifts: warp_digits(x, a, s),
            "augment_digits (numba, draws parameters)": lambda x=x: augment_digits(
                x, seed=0, max_shift=MAX_SHIFT, max_rotation_deg=MAX_ROTATION_DEG
            ),
            "numpy (vectorised)": lambda x=x, a=angles, s=shifts: numpy_warp(x, a, s),
        }
        scipy_out = scipy_warp(x[:2], angles[:2], shifts[:2])
        if scipy_out is not None:
            scipy_diff = float(np.abs(scipy_out - reference[:2]).max())
            if scipy_diff > 1e-4:
                raise RuntimeError(f"scipy disagrees with warp_digits by {scipy_diff}")
            contenders["scipy.ndimage.affine_transform (per image)"] = lambda x=x, a=angles, s=shifts: scipy_warp(
                x, a, s
            )
        measured = {name: measure(fn, repeats=repeats, number=1) for name, fn in contenders.items()}
        timings = {name: (t.min_s, t.median_s) for name, t in measured.items()}
        t_numpy = timings["numpy (vectorised)"][0]
        for name, (t_min, t_med) in timings.items():
            rows.append(
                {
                    "batch": size,
                    "method": name,
                    "images_per_s": size / t_min,
                    "min_s": t_min,
                    "median_s": t_med,
                    "vs_numpy": t_numpy / t_min,
                }
            )
    return {
        "benchmark": "digit augmentation throughput",
        **provenance(),
        "max_shift": MAX_SHIFT,
        "max_rotation_deg": MAX_ROTATION_DEG,
        "repeats": repeats,
        "scipy": any("scipy" in r["method"] for r in rows),
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        f"digit augmentation throughput (8x8, rotation <= {result['max_rotation_deg']:g} deg, shift <= "
        f"{result['max_shift']:g} px, bilinear), {header_line(result)}",
        f"best of {result['repeats']}; x numpy = numpy time / method time, measured in the same run"
        + ("" if result["scipy"] else "; scipy not installed, its row skipped"),
        "",
        "| batch | method | images/s | median ms | x numpy |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['batch']:,} | {r['method']} | {r['images_per_s']:,.0f} | {r['median_s'] * 1e3:.3f} | "
            f"{r['vs_numpy']:.1f} |"
        )
    return "\n".join(lines)


def summary(result: dict) -> list[dict]:
    """Per batch and method: images/s × the vectorised numpy warp."""
    return [
        ratio_row(
            "augment",
            f"{r['method']}, batch {r['batch']}",
            r["vs_numpy"],
            baseline="numpy (vectorised)",
            detail=f"{r['images_per_s']:,.0f} images/s",
        )
        for r in result["rows"]
        if not r["method"].startswith("numpy")
    ]


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (default 25, quick 3)")


if __name__ == "__main__":
    raise SystemExit(main_for(__doc__, run, markdown, "bench_augment.json", add_arguments=_add_arguments))
