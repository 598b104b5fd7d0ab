"""Benchmark: ``odyssey grade`` throughput on one machine, ``--jobs 1`` against ``--jobs 2``.

Generates N submissions (default 60; 24 with ``--quick``) of the tiny grading-fixture assignment
(``tests/grade_corpus/course``) with mixed outcomes -- correct, partly correct, untouched, wrong, a visible-only pass,
and one in twelve that crashes its kernel (graded again without the crashing cell) -- and grades all of them with
``jobs=1`` and with ``jobs=2``. On a shared machine the load drifts, so the N submissions are split into ``--rounds``
batches and each batch is graded by both settings in turn (alternating which goes first); the times are summed.
The runner pool (the processes hosting nbval, reused across submissions) is warmed once before timing, as it is
after the first seconds of a real class-sized run; every submission still starts its own sandboxed kernel.
Reports submissions per minute and the speedup (the issue's target: >= 1.7x on 2 cores). Nothing asserts a time.

    python benchmarks/bench_grade.py [--quick] [--submissions 60] [--rounds 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from _common import header_line, main_for, provenance, ratio_row

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "tests" / "grade_corpus" / "course"
NAME = "97_grademe"
DOUBLE = "def double(x):\n    return 2 * x"
NORM = "def norm(v):\n    return float(np.sqrt(np.sum(np.asarray(v, dtype=float) ** 2)))"
# outcome -> answers by cell id (cell-2 is double, cell-5 is norm)
OUTCOMES: dict[str, dict[str, str]] = {
    "correct": {"cell-2": DOUBLE, "cell-5": NORM},
    "partial": {"cell-2": DOUBLE, "cell-5": "def norm(v):\n    return float(sum(v))"},
    "untouched": {},
    "wrong": {"cell-2": "def double(x):\n    return x", "cell-5": "def norm(v):\n    return 0.0"},
    "visible_only": {"cell-2": "def double(x):\n    return 6 if x == 3 else x", "cell-5": NORM},
    "correct_2": {"cell-2": DOUBLE, "cell-5": NORM},
    "partial_2": {"cell-2": "def double(x):\n    return x + x", "cell-5": "def norm(v):\n    return max(v)"},
    "untouched_2": {},
    "correct_3": {"cell-2": DOUBLE, "cell-5": NORM},
    "wrong_2": {"cell-2": "def double(x):\n    return -x", "cell-5": NORM},
    "correct_4": {"cell-2": DOUBLE, "cell-5": NORM},
    "crash": {"cell-2": "import os\nos._exit(1)", "cell-5": NORM},
}


def _make_submissions(exercise: nbformat.NotebookNode, folder: Path, count: int) -> dict[str, int]:
    folder.mkdir(parents=True)
    kinds = list(OUTCOMES)
    made: dict[str, int] = {}
    for number in range(count):
        kind = kinds[number % len(kinds)]
        nb = nbformat.from_dict(nbformat.reads(nbformat.writes(exercise), as_version=4))
        for cell in nb.cells:
            cell.source = OUTCOMES[kind].get(cell.id, cell.source)
        nbformat.write(nb, folder / f"student{number:03d}_{kind}.ipynb")
        made[kind.split("_")[0]] = made.get(kind.split("_")[0], 0) + 1
    return made


def run(args: argparse.Namespace) -> dict:
    from odyssey_lessons.grading import Limits, assign, grade
    from odyssey_lessons.grading._jail import isolation_level
    from odyssey_lessons.grading._reference import close_references

    count = args.submissions or (24 if args.quick else 60)
    limits = Limits(cell_timeout=30.0, total_timeout=300.0, memory_mb=2048)
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(COURSE, course)
        assign(course, progress=False)
        exercise = nbformat.read(course / "exercises" / f"{NAME}.ipynb", as_version=4)
        made = _make_submissions(exercise, Path(tmp) / "submissions", count)
        files = sorted((Path(tmp) / "submissions").iterdir())
        rounds = max(1, min(args.rounds, count))
        warm = Path(tmp) / "warm"
        warm.mkdir()
        for file in files[:2]:
            shutil.copy(file, warm)
        grade(warm, assignment=NAME, out=Path(tmp) / "warm-out", root=course, jobs=2, limits=limits, progress=False)
        runs = {str(jobs): {"seconds": 0.0, "statuses": {}, "scores": {}} for jobs in (1, 2)}
        for number in range(rounds):
            batch = Path(tmp) / f"batch{number}"
            batch.mkdir()
            for file in files[number::rounds]:
                shutil.copy(file, batch)
            for jobs in (1, 2) if number % 2 == 0 else (2, 1):
                start = time.perf_counter()
                summary = grade(
                    batch,
                    assignment=NAME,
                    out=Path(tmp) / f"out{number}-{jobs}",
                    root=course,
                    jobs=jobs,
                    limits=limits,
                    progress=False,
                )
                record = runs[str(jobs)]
                record["seconds"] += time.perf_counter() - start
                for row in summary.rows:
                    record["statuses"][row["status"]] = record["statuses"].get(row["status"], 0) + 1
                    record["scores"][row["student"]] = row["score"]
        close_references()
    for record in runs.values():
        record["per_minute"] = 60 * count / record["seconds"]
        record["mean_score"] = sum(record["scores"].values()) / count
    same = runs["1"]["scores"] == runs["2"]["scores"]
    return {
        **provenance(),
        "submissions": count,
        "rounds": rounds,
        "outcomes": made,
        "isolation": isolation_level(),
        "runs": {k: {kk: vv for kk, vv in v.items() if kk != "scores"} for k, v in runs.items()},
        "speedup": runs["1"]["seconds"] / runs["2"]["seconds"],
        "same_scores": same,
    }


def markdown(result: dict) -> str:
    lines = [f"# odyssey grade throughput — {header_line(result)}", ""]
    lines.append(
        f"{result['submissions']} submissions ({result['outcomes']}) in {result['rounds']} interleaved rounds, "
        f"isolation {result['isolation']}."
    )
    lines += ["", "| jobs | seconds | submissions/min | statuses |", "|---:|---:|---:|---|"]
    for jobs, r in result["runs"].items():
        lines.append(f"| {jobs} | {r['seconds']:.1f} | {r['per_minute']:.1f} | {r['statuses']} |")
    lines += ["", f"Speedup jobs=2 / jobs=1: **{result['speedup']:.2f}x** (target ≥ 1.7).  "]
    lines.append(f"Same scores with 1 and 2 jobs: {result['same_scores']}.")
    return "\n".join(lines)


def summary(result: dict) -> list[dict]:
    detail = f"{result['runs']['2']['per_minute']:.0f} submissions/min with 2 jobs"
    return [ratio_row("grade", "jobs=2 vs jobs=1", result["speedup"], baseline="jobs=1", target=1.7, detail=detail)]


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--submissions", type=int, default=0, help="how many submissions (default 60, quick 24)")
    parser.add_argument("--rounds", type=int, default=3, help="batches graded by both settings in turn (default 3)")


if __name__ == "__main__":
    raise SystemExit(main_for(__doc__, run, markdown, "grade.json", add_arguments=_arguments))
