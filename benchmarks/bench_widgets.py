"""Benchmark: how long the lesson widgets take to update after one control change (the wait a learner feels).

Measured headless (the Python side: recompute + redraw into the Output widget), median and max over repeats: the
format explorer for each format (target 100 ms), and the training widgets of lessons 2-5 on settings they have not
seen yet, so each update is a real re-train (targets: loss-scale sweep 300 ms, regularization 500 ms). Prints
Markdown tables and writes JSON (default ``benchmarks/results/widgets.json``). Not a test: targets are reported,
not asserted.

    python benchmarks/bench_widgets.py [--quick] [--repeats 20] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import header_line, main_for, provenance, ratio_row

from odyssey_lessons.formats import FORMATS
from odyssey_lessons.widgets import (
    FormatExplorer,
    LossScaleSweep,
    OptimizerExplorer,
    RegularizationExplorer,
    ScheduleExplorer,
)

TARGET_S = 0.1
TRAINING_TARGETS_S = {
    "LossScaleSweep": 0.3,
    "ScheduleExplorer": 0.5,
    "OptimizerExplorer": 0.5,
    "RegularizationExplorer": 0.5,
}


def _timed(change) -> float:
    t0 = time.perf_counter()
    change()
    return time.perf_counter() - t0


def run_training_widgets() -> list[dict]:
    """One row per training widget: every update is on a setting not trained before (no cache hit)."""
    sweep = LossScaleSweep(log2_scale=0, grad_format="e5m2")
    schedule = ScheduleExplorer(schedule="cosine", peak_lr=0.1, epochs=5)
    optimizer = OptimizerExplorer()
    regularization = RegularizationExplorer(regularizer="l2")
    changes = {
        "LossScaleSweep": [lambda k=k: setattr(sweep.log2_scale, "value", k) for k in (3, 7, 11, 15, 19)],
        "ScheduleExplorer": [
            lambda n=n: setattr(schedule.schedule, "value", n)
            for n in ("one_cycle", "wsd", "sgdr", "linear", "exponential")
        ],
        "OptimizerExplorer": [lambda v=v: setattr(optimizer.lr, "value", v) for v in (0.002, 0.005, 0.02, 0.05, 0.2)],
        "RegularizationExplorer": [
            lambda v=v: setattr(regularization.strength, "value", v) for v in (0.0025, 0.0075, 0.0125, 0.0175, 0.0225)
        ],
    }
    rows = []
    for name, fns in changes.items():
        times = [_timed(fn) for fn in fns]
        rows.append(
            {
                "widget": name,
                "median_s": statistics.median(times),
                "max_s": max(times),
                "target_s": TRAINING_TARGETS_S[name],
            }
        )
    return rows


def run(args: argparse.Namespace) -> dict:
    repeats = 5 if args.quick else args.repeats
    explorer = FormatExplorer(fmt="fp16", value="0.1")
    rows = []
    for name in FORMATS:
        t0 = time.perf_counter()
        explorer.format.value = name  # the first visit builds and caches the value table
        first = time.perf_counter() - t0
        times = []
        for i in range(repeats):
            t0 = time.perf_counter()
            explorer.value.value = str(0.37 + 1.3 * i)
            times.append(time.perf_counter() - t0)
        rows.append({"format": name, "first_s": first, "median_s": statistics.median(times), "max_s": max(times)})
    return {
        "benchmark": "FormatExplorer update latency (value change)",
        **provenance(),
        "target_s": TARGET_S,
        "rows": rows,
        "training_widgets": run_training_widgets(),
    }


def markdown(result: dict) -> str:
    lines = [
        f"{result['benchmark']}, {header_line(result)} (target < {TARGET_S * 1e3:.0f} ms)",
        "",
        "| format | first visit ms | median ms | max ms |",
        "|---|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['format']} | {r['first_s'] * 1e3:.0f} | {r['median_s'] * 1e3:.0f} | {r['max_s'] * 1e3:.0f} |"
        )
    lines += [
        "",
        "training widgets, each update a new real run:",
        "",
        "| widget | median ms | max ms | target ms | met |",
        "|---|---:|---:|---:|---|",
    ]
    for r in result["training_widgets"]:
        met = "yes" if r["median_s"] <= r["target_s"] else "**no**"
        lines.append(
            f"| {r['widget']} | {r['median_s'] * 1e3:.0f} | {r['max_s'] * 1e3:.0f} | "
            f"{r['target_s'] * 1e3:.0f} | {met} |"
        )
    return "\n".join(lines)


def summary(result: dict) -> list[dict]:
    """Each widget's median update latency ÷ its time budget (target ≤ 1)."""
    rows = [
        ratio_row(
            "widgets",
            f"FormatExplorer {r['format']} value change",
            r["median_s"] / result["target_s"],
            baseline="time budget",
            better="lower",
            target=1.0,
            detail=f"{r['median_s'] * 1e3:.0f} ms",
        )
        for r in result["rows"]
    ]
    rows += [
        ratio_row(
            "widgets",
            f"{r['widget']} update (real re-train)",
            r["median_s"] / r["target_s"],
            baseline="time budget",
            better="lower",
            target=1.0,
            detail=f"{r['median_s'] * 1e3:.0f} ms",
        )
        for r in result["training_widgets"]
    ]
    return rows


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=20, help="value changes per format (--quick: 5)")


if __name__ == "__main__":
    raise SystemExit(main_for(__doc__, run, markdown, "widgets.json", add_arguments=_add_arguments))
