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
import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numba
import numpy as np

from odyssey_lessons.data import augment_digits, load_digits, random_warps, warp_digits

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


def best_time(fn, repeats: int) -> tuple[float, float]:
    """(min, median) wall time of ``fn()`` over ``repeats`` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def run(batch_sizes: list[int], repeats: int) -> dict:
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
        timings = {name: best_time(fn, repeats) for name, fn in contenders.items()}
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
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "numba_threads": numba.config.NUMBA_NUM_THREADS,
        },
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__},
        "max_shift": MAX_SHIFT,
        "max_rotation_deg": MAX_ROTATION_DEG,
        "repeats": repeats,
        "scipy": any("scipy" in r["method"] for r in rows),
        "rows": rows,
    }


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"digit augmentation throughput (8x8, rotation <= {result['max_rotation_deg']:g} deg, shift <= "
        f"{result['max_shift']:g} px, bilinear), {m['processor']}, {m['cpu_count']} CPUs, {m['numba_threads']} numba "
        f"threads, numpy {result['versions']['numpy']}, numba {result['versions']['numba']}, {result['date']}",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (default 25, quick 3)")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "bench_augment.json")
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 25)
    result = run([len(load_digits().images), 64], repeats)
    print(markdown(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
