"""What every benchmark script shares: the provenance header, interleaved timing, the command line and JSON output,
and the summary rows that ``run_all.py`` gathers into one table.

A benchmark script defines ``run(args) -> dict`` (its measurements, with :func:`provenance` merged in),
``markdown(result) -> str`` and ``summary(result) -> list[dict]`` (rows made by :func:`ratio_row`), then ends with
``raise SystemExit(main_for(__doc__, run, markdown, "NAME.json"))``. Timing itself is
:func:`odyssey_lessons.perf.measure` or, where a baseline must see the same machine load, :func:`interleaved`.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path

from odyssey_lessons.perf import interleaved  # noqa: F401  (the benchmarks' harness, re-exported)

RESULTS = Path(__file__).resolve().parent / "results"
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def provenance() -> dict:
    """Date, machine, library versions and thread settings: the header every result file carries.

    Versions are read from the installed distributions, so asking for torch's version never imports torch (its thread
    pools would share the process with numba's).
    """
    import numba

    from odyssey_lessons.perf import machine_info

    info = machine_info()
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": info["cpu"],
            "blas": info["blas"],
            "cpu_count": os.cpu_count(),
            "numba_threads": numba.config.NUMBA_NUM_THREADS,
        },
        "versions": {
            "python": platform.python_version(),
            **{name: _version(name) for name in ("odyssey-lessons", "numpy", "numba", "ml_dtypes", "torch")},
        },
        "env": {k: os.environ.get(k) for k in THREAD_VARS},
    }


def header_line(result: dict) -> str:
    """One Markdown line naming the machine, versions and date of ``result``."""
    m, v = result["machine"], result["versions"]
    libs = ", ".join(f"{k} {val}" for k, val in v.items() if val and k != "python")
    return f"{m['processor']}, {m['cpu_count']} CPUs, Python {v['python']}, {libs}, {result['date']}"


def ratio_row(
    benchmark: str,
    case: str,
    ratio: float | None,
    *,
    baseline: str,
    better: str = "higher",
    target: float | None = None,
    detail: str = "",
) -> dict:
    """One row of the suite's summary: ``ratio`` of ours against ``baseline``, measured in the same run.

    ``better`` says which way is good ("higher": a speed-up, "lower": a slow-down or a latency over its budget);
    ``target`` is the issue's goal for the ratio, and ``met`` says whether it was reached (``None`` without target).
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better=}")
    met = None
    if target is not None and ratio is not None:
        met = ratio >= target if better == "higher" else ratio <= target
    return {
        "benchmark": benchmark,
        "case": case,
        "ratio": ratio,
        "baseline": baseline,
        "better": better,
        "target": target,
        "met": met,
        "detail": detail,
    }


def main_for(
    doc: str,
    run: Callable[[argparse.Namespace], dict],
    markdown: Callable[[dict], str],
    json_name: str,
    *,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    argv: list[str] | None = None,
) -> int:
    """The command line every script shares: ``--quick``, ``--json PATH``, plus the script's own options."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes (the suite's setting)")
    parser.add_argument("--json", type=Path, default=RESULTS / json_name, help="where to write the result")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    result = run(args)
    if result is None:  # a worker mode that printed its own output
        return 0
    print(markdown(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.json}")
    return 0
