"""Benchmark: how long the lesson widgets take to update after one control change (the wait a learner feels).

Measured headless (the Python side: recompute + redraw into the Output widget), median and max over repeats, for
each format the explorer shows. Prints a Markdown table and writes JSON (default ``benchmarks/results/widgets.json``).
Not a test: the 100 ms target is reported, not asserted.

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
from odyssey_lessons.widgets import FormatExplorer

TARGET_S = 0.1


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
