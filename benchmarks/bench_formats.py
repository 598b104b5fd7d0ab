"""Benchmark: ``quantize`` throughput per format and rounding mode, against baselines measured in the same run.

Baselines: ``np.copyto`` of the same float32 array (memory bandwidth: a rounding pass reads and writes the same bytes),
timed alternately with each quantize measurement,
and ml_dtypes' round trip ``x.astype(fmt).astype(float32)`` where ml_dtypes has the format. Throughput counts bytes
read plus bytes written. (Import and JIT-compile times are ``bench_startup.py``'s.)

Prints a Markdown table and writes JSON (default ``benchmarks/results/formats.json``). Not a test: nothing here asserts
a time; the targets are reported next to the measurements.

    python benchmarks/bench_formats.py [--quick] [--size 2**24] [--repeats 7] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from _common import header_line, interleaved, main_for, provenance, ratio_row

from odyssey_lessons.formats import FORMATS, ROUNDING_MODES, quantize
from odyssey_lessons.perf import measure

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


def paired_times(fn, baseline, repeats: int) -> tuple[float, float, float]:
    """(min of fn, median of fn, min of baseline), the two timed in turn so that both see the same machine load
    (this matters on shared 2-core machines, where bandwidth drifts between runs)."""
    times = interleaved({"fn": fn, "baseline": baseline}, repeats)
    return min(times["fn"]), statistics.median(times["fn"]), min(times["baseline"])


def ml_dtypes_type(name: str):
    try:
        import ml_dtypes
    except ImportError:
        return None
    attr = ML_DTYPES_NAMES.get(name)
    if attr is None:
        return None
    return np.float16 if attr == "float16" else getattr(ml_dtypes, attr, None)


def run(args: argparse.Namespace) -> dict:
    size, repeats = args.size, (3 if args.quick else args.repeats)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(size) * np.exp2(rng.uniform(-20, 20, size))).astype(np.float32)
    out = np.empty_like(x)
    nbytes = 2 * x.nbytes  # read + write
    copy_min = measure(np.copyto, out, x, repeats=repeats, number=1).min_s
    copy_gbs = nbytes / copy_min / 1e9
    rows = []
    for name in FORMATS:
        ml_type = ml_dtypes_type(name)
        ml_gbs = None
        if ml_type is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                round_trip = lambda t=ml_type: x.astype(t).astype(np.float32)  # noqa: E731
                t_ml = measure(round_trip, repeats=max(2, repeats // 3), number=1).min_s
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
        **provenance(),
        "size_elements": size,
        "copy_gb_per_s": copy_gbs,
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        f"quantize throughput, {result['size_elements']:,} float32 values, {header_line(result)}",
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
    return "\n".join(lines)


def summary(result: dict) -> list[dict]:
    """Per format and rounding: bandwidth as a share of memcpy's (target from the issue), and × ml_dtypes."""
    rows = []
    for r in result["rows"]:
        case = f"quantize {r['format']} ({r['rounding']})"
        rows.append(
            ratio_row(
                "formats",
                case,
                r["vs_copy"],
                baseline="memcpy",
                target=r["target_vs_copy"],
                detail=f"{r['gb_per_s']:.1f} GB/s",
            )
        )
        if r["vs_ml_dtypes"] is not None:
            rows.append(ratio_row("formats", case, r["vs_ml_dtypes"], baseline="ml_dtypes astype round trip"))
    return rows


def _int_or_power(text: str) -> int:
    base, _, exponent = text.partition("**")
    return int(base) ** int(exponent) if exponent else int(base)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=_int_or_power, default=2**24, help="elements, e.g. 16777216 or 2**24")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per measurement (--quick: 3)")


if __name__ == "__main__":
    raise SystemExit(main_for(__doc__, run, markdown, "formats.json", add_arguments=_add_arguments))
