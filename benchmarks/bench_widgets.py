"""Benchmark: how long the lesson widgets take to update after one control change (the wait a learner feels).

Measured headless (the Python side: recompute + redraw into the Output widget), median and max over repeats: the
format explorer for each format (target 100 ms), and the training widgets of lessons 2-5 on settings they have not
seen yet, so each update is a real re-train (targets: loss-scale sweep 300 ms, regularization 500 ms). Prints
Markdown tables and writes JSON (default ``benchmarks/results/widgets.json``). Not a test: targets are reported,
not asserted.

    python benchmarks/bench_widgets.py [--repeats 20] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time
from pathlib import Path

from odyssey_lessons.formats import FORMATS
from odyssey_lessons.widgets import (
    FormatExplorer,
    LossScaleSweep,
    OptimizerExplorer,
    RegularizationExplorer,
    ScheduleExplorer,
)

TARGET_S = 0.1
TRAINING_TARGETS_S = {"LossScaleSweep": 0.3, "ScheduleExplorer": 0.5, "OptimizerExplorer": 0.5,
                      "RegularizationExplorer": 0.5}  # fmt: skip


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
        ],  # fmt: skip
        "OptimizerExplorer": [lambda v=v: setattr(optimizer.lr, "value", v) for v in (0.002, 0.005, 0.02, 0.05, 0.2)],
        "RegularizationExplorer": [
            lambda v=v: setattr(regularization.strength, "value", v) for v in (0.0025, 0.0075, 0.0125, 0.0175, 0.0225)
        ],  # fmt: skip
    }
    rows = []
    for name, fns in changes.items():
        times = [_timed(fn) for fn in fns]
        rows.append({"widget": name, "median_s": statistics.median(times), "max_s": max(times),
                     "target_s": TRAINING_TARGETS_S[name]})  # fmt: skip
    return rows


def run(repeats: int) -> dict:
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
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine()},
        "target_s": TARGET_S,
        "rows": rows,
        "training_widgets": run_training_widgets(),
    }


def markdown(result: dict) -> str:
    lines = [
        f"{result['benchmark']}, {result['machine']['processor']}, {result['date']} (target < {TARGET_S * 1e3:.0f} ms)",
        "",
        "| format | first visit ms | median ms | max ms |",
        "|---|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['format']} | {r['first_s'] * 1e3:.0f} | {r['median_s'] * 1e3:.0f} | {r['max_s'] * 1e3:.0f} |"
        )
    lines += ["", "training widgets, each update a new real run:", "",
              "| widget | median ms | max ms | target ms | met |", "|---|---:|---:|---:|---|"]  # fmt: skip
    for r in result["training_widgets"]:
        met = "yes" if r["median_s"] <= r["target_s"] else "**no**"
        lines.append(f"| {r['widget']} | {r['median_s'] * 1e3:.0f} | {r['max_s'] * 1e3:.0f} | "
                     f"{r['target_s'] * 1e3:.0f} | {met} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "widgets.json")
    args = parser.parse_args(argv)
    result = run(args.repeats)
    print(markdown(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
