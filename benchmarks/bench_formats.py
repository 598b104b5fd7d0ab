"""Benchmark: ``quantize`` throughput per format and rounding mode, against baselines measured in the same run.

Baselines: ``np.copyto`` of the same float32 array (memory bandwidth: a rounding pass reads and writes the same bytes),
timed alternately with each quantize measurement,
and ml_dtypes' round trip ``x.astype(fmt).astype(float32)`` where ml_dtypes has the format. Throughput counts bytes
read plus bytes written. Also measured: a cold ``import odyssey_lessons.formats`` plus the first ``quantize`` in a
fresh interpreter, with numba's cache warm.

Prints a Markdown table and writes JSON (default ``benchmarks/results/formats.json``). Not a test: nothing here asserts
a time; the targets are reported next to the measurements.

    python benchmarks/bench_formats.py [--size 2**24] [--repeats 7] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np

from odyssey_lessons.formats import FORMATS, ROUNDING_MODES, quantize

TARGETS = {"nearest": 0.7, "stochastic": 0.3}  # fraction of copy bandwidth, from the issue
ML_DTYPES_NAMES = {
    "fp16": "float16",
    "bf16": "bfloat16",
    "e4m3fn": "float8_e4m3fn",
    "e4m3fnuz": "float8_e4m3fnuz",
    "e5m2": "float8_e5m2",
    "e5m2fnuz": "float8_e5m2fnuz",
    "e3m4": "float8_e3m4",
    "e2m3fn": "float6_e2m3fn",
    "e3m2fn": "float6_e3m2fn",
    "e2m1fn": "float4_e2m1fn",
    "e8m0fnu": "float8_e8m0fnu",
}


def best_time(fn, repeats: int) -> tuple[float, float]:
    """(min, median) wall time of ``fn()`` over ``repeats`` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def paired_times(fn, baseline, repeats: int) -> tuple[float, float, float]:
    """(min of fn, median of fn, min of baseline), timing the two alternately so that both see the same machine load
    (this matters on shared 2-core machines, where bandwidth drifts between runs)."""
    fn()
    baseline()
    times, base = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        baseline()
        t1 = time.perf_counter()
        fn()
        t2 = time.perf_counter()
        base.append(t1 - t0)
        times.append(t2 - t1)
    return min(times), statistics.median(times), min(base)


def ml_dtypes_type(name: str):
    try:
        import ml_dtypes
    except ImportError:
        return None
    attr = ML_DTYPES_NAMES.get(name)
    if attr is None:
        return None
    return np.float16 if attr == "float16" else getattr(ml_dtypes, attr, None)


def cold_import_seconds() -> float:
    """Seconds for a fresh interpreter to import the package and run the first quantize (numba cache warm)."""
    code = (
        "import time; t0 = time.perf_counter(); import numpy as np; from odyssey_lessons.formats import quantize; "
        "quantize(np.ones(8, np.float32), 'e4m3fn'); print(time.perf_counter() - t0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # fills the cache if cold
    runs = [float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)]
    runs += [float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)]
    return min(runs)


def run(size: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(size) * np.exp2(rng.uniform(-20, 20, size))).astype(np.float32)
    out = np.empty_like(x)
    nbytes = 2 * x.nbytes  # read + write
    copy_min, _ = best_time(lambda: np.copyto(out, x), repeats)
    copy_gbs = nbytes / copy_min / 1e9
    rows = []
    for name in FORMATS:
        ml_type = ml_dtypes_type(name)
        ml_gbs = None
        if ml_type is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                t_ml, _ = best_time(lambda t=ml_type: x.astype(t).astype(np.float32), max(2, repeats // 3))
            ml_gbs = nbytes / t_ml / 1e9
        for rounding in ROUNDING_MODES:
            t_min, t_med, t_copy = paired_times(
                lambda n=name, r=rounding: quantize(x, n, rounding=r, seed=1, out=out),
                lambda: np.copyto(out, x),
                repeats,
            )
            gbs = nbytes / t_min / 1e9
            rows.append(
                {
                    "format": name,
                    "rounding": rounding,
                    "gb_per_s": gbs,
                    "median_s": t_med,
                    "copy_gb_per_s": nbytes / t_copy / 1e9,
                    "vs_copy": t_copy / t_min,
                    "vs_ml_dtypes": None if ml_gbs is None or rounding != "nearest" else gbs / ml_gbs,
                    "ml_dtypes_gb_per_s": ml_gbs,
                    "target_vs_copy": TARGETS.get(rounding),
                }
            )
    return {
        "benchmark": "quantize throughput",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "numba_threads": numba.config.NUMBA_NUM_THREADS,
        },
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__},
        "size_elements": size,
        "copy_gb_per_s": copy_gbs,
        "cold_import_and_first_quantize_s": cold_import_seconds(),
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        f"quantize throughput, {result['size_elements']:,} float32 values, {result['machine']['processor']}, "
        f"{result['machine']['numba_threads']} numba threads, {result['date']}",
        f"np.copyto baseline: {result['copy_gb_per_s']:.2f} GB/s (read + write); each row's × copy uses a copy timed "
        "alternately with it",
        "",
        "| format | rounding | GB/s | × copy | target × copy | × ml_dtypes |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        target = "" if r["target_vs_copy"] is None else f"≥ {r['target_vs_copy']:.1f}"
        ml = "" if r["vs_ml_dtypes"] is None else f"{r['vs_ml_dtypes']:.1f}"
        speed = f"{r['gb_per_s']:.2f} | {r['vs_copy']:.2f}"
        lines.append(f"| {r['format']} | {r['rounding']} | {speed} | {target} | {ml} |")
    lines.append("")
    lines.append(f"cold import + first quantize (warm numba cache): {result['cold_import_and_first_quantize_s']:.2f} s")
    return "\n".join(lines)


def _int_or_power(text: str) -> int:
    base, _, exponent = text.partition("**")
    return int(base) ** int(exponent) if exponent else int(base)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=_int_or_power, default=2**24, help="elements, e.g. 16777216 or 2**24")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "formats.json")
    args = parser.parse_args(argv)
    result = run(args.size, args.repeats)
    print(markdown(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
