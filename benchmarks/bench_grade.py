"""Benchmark: ``odyssey grade`` throughput on one machine -- ``--jobs 1`` against ``--jobs 2``, and against a baseline.

Generates N submissions (default 60; 24 with ``--quick``) of the tiny grading-fixture assignment
(``tests/grading/grade_corpus/course``) with mixed outcomes -- correct, partly correct, untouched, wrong, a visible-only
attempt, and one in twelve that crashes its kernel (graded again without the crashing cell) -- and grades all of them
with ``jobs=1`` and with ``jobs=2``. On a shared machine the load drifts, so the N submissions are split into
``--rounds`` batches and each batch is graded by every setting in turn (rotating which goes first); the times are
summed. Each setting is warmed once before timing (its first grade call starts kernels and imports).

``--baseline CHECKOUT --baseline-python PYTHON`` also grades the same submissions (the same answers, put into that
checkout's own exercise) with another version of the grader, e.g. the one before checks moved out of the student's
kernel: a git worktree of an older commit and a venv where that checkout is installed (``pip install -e``). It runs
in a subprocess of its own, interleaved round by round with this one. Reports submissions per minute, the speed-up of
two jobs (the issue's target: >= 1.7x on 2 cores) and the ratio to the baseline. Nothing asserts a time.

    python benchmarks/bench_grade.py [--quick] [--submissions 60] [--rounds 3] [--json PATH]
        [--baseline ../wt-old --baseline-python /tmp/oldvenv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from _common import header_line, main_for, provenance, ratio_row

ROOT = Path(__file__).resolve().parents[1]
COURSE = Path("tests") / "grade_corpus" / "course"
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
LIMITS = {"cell_timeout": 30.0, "total_timeout": 300.0, "memory_mb": 2048}

# One grader version, as a process: prepares the course and the submissions, warms up, then grades the batches it is
# told to ("ROUND JOBS" per line) and answers each with a JSON line. Runs with this file's checkout or a baseline's.
WORKER = r"""
import json, shutil, sys, tempfile, time
from pathlib import Path
import nbformat
from odyssey_lessons.grading import Limits, assign, grade
setup = json.loads(sys.argv[1])
tmp = Path(tempfile.mkdtemp(prefix="bench-grade-"))
course = tmp / "course"
shutil.copytree(setup["course"], course)
assign(course, progress=False)
exercise = nbformat.read(course / "exercises" / (setup["name"] + ".ipynb"), as_version=4)
folder = tmp / "submissions"
folder.mkdir()
kinds = list(setup["outcomes"])
for number in range(setup["count"]):
    kind = kinds[number % len(kinds)]
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(exercise), as_version=4))
    for cell in nb.cells:
        cell.source = setup["outcomes"][kind].get(cell.id, cell.source)
    nbformat.write(nb, folder / f"student{number:03d}_{kind}.ipynb")
files = sorted(folder.iterdir())
limits = Limits(**setup["limits"])

def run(names, jobs, out):
    batch = tmp / f"batch-{time.monotonic_ns()}"
    batch.mkdir()
    for file in names:
        shutil.copy(file, batch)
    start = time.perf_counter()
    summary = grade(batch, assignment=setup["name"], out=out, root=course, jobs=jobs, limits=limits, progress=False)
    seconds = time.perf_counter() - start
    rows = summary.rows
    return {"seconds": seconds, "scores": {r["student"]: r["score"] for r in rows},
            "statuses": [r["status"] for r in rows], "isolation": sorted({r.get("isolation", "") for r in rows})}

run(files[:2], 2, tmp / "warm-out")
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    number, jobs = (int(x) for x in line.split())
    result = run(files[number :: setup["rounds"]], jobs, tmp / f"out-{number}-{jobs}")
    print(json.dumps(result), flush=True)
shutil.rmtree(tmp, ignore_errors=True)
"""


class _Grader:
    """A worker process of one grader version (see ``WORKER``)."""

    def __init__(self, python: str, checkout: Path, setup: dict) -> None:
        setup = {**setup, "course": str(checkout / COURSE)}
        self.proc = subprocess.Popen(
            [python, "-c", WORKER, json.dumps(setup)],
            cwd=checkout,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if json.loads(self.proc.stdout.readline() or "{}").get("ready") is not True:
            raise RuntimeError(f"the grader at {checkout} did not start")

    def grade(self, number: int, jobs: int) -> dict:
        self.proc.stdin.write(f"{number} {jobs}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=120)


def run(args: argparse.Namespace) -> dict:
    import sys

    from odyssey_lessons.grading._jail import isolation_level

    count = args.submissions or (24 if args.quick else 60)
    rounds = max(1, min(args.rounds, count))
    setup = {"name": NAME, "outcomes": OUTCOMES, "count": count, "rounds": rounds, "limits": LIMITS}
    graders = {"this": _Grader(sys.executable, ROOT, setup)}
    if args.baseline:
        graders["baseline"] = _Grader(args.baseline_python, Path(args.baseline).resolve(), setup)
    settings = [(name, jobs) for name in graders for jobs in (1, 2)]
    runs = {f"{name} jobs={jobs}": {"seconds": 0.0, "statuses": {}, "scores": {}} for name, jobs in settings}
    per_round: dict[str, list[float]] = {key: [] for key in runs}
    isolation: dict[str, list[str]] = {}
    try:
        for number in range(rounds):
            order = settings[number % len(settings) :] + settings[: number % len(settings)]
            for name, jobs in order:
                result = graders[name].grade(number, jobs)
                key = f"{name} jobs={jobs}"
                record = runs[key]
                record["seconds"] += result["seconds"]
                per_round[key].append(result["seconds"])
                for status in result["statuses"]:
                    record["statuses"][status] = record["statuses"].get(status, 0) + 1
                record["scores"].update(result["scores"])
                isolation[name] = result["isolation"]
    finally:
        for grader in graders.values():
            grader.close()
    for record in runs.values():
        record["per_minute"] = 60 * count / record["seconds"]
        record["mean_score"] = sum(record["scores"].values()) / count
    out = {
        **provenance(),
        "submissions": count,
        "rounds": rounds,
        "isolation_here": isolation_level(),
        "isolation": isolation,
        "runs": {k: {kk: vv for kk, vv in v.items() if kk != "scores"} for k, v in runs.items()},
        "per_round_seconds": per_round,
        "speedup": runs["this jobs=1"]["seconds"] / runs["this jobs=2"]["seconds"],
        "same_scores": runs["this jobs=1"]["scores"] == runs["this jobs=2"]["scores"],
    }
    if args.baseline:
        out["baseline"] = str(args.baseline)
        out["baseline_speedup"] = runs["baseline jobs=1"]["seconds"] / runs["baseline jobs=2"]["seconds"]
        out["vs_baseline"] = {
            f"jobs={jobs}": runs[f"baseline jobs={jobs}"]["seconds"] / runs[f"this jobs={jobs}"]["seconds"]
            for jobs in (1, 2)
        }
    return out


def markdown(result: dict) -> str:
    lines = [f"# odyssey grade throughput — {header_line(result)}", ""]
    lines.append(f"{result['submissions']} submissions in {result['rounds']} interleaved rounds.")
    for name, levels in result["isolation"].items():
        lines.append(f"Isolation ({name}): {', '.join(levels)}.")
    lines += ["", "| grader | seconds | submissions/min | mean score | statuses |", "|---|---:|---:|---:|---|"]
    for key, r in result["runs"].items():
        lines.append(
            f"| {key} | {r['seconds']:.1f} | {r['per_minute']:.1f} | {r['mean_score']:.2f} | {r['statuses']} |"
        )
    lines += ["", f"Speed-up jobs=2 / jobs=1: **{result['speedup']:.2f}x** (target ≥ 1.7).  "]
    lines.append(f"Same scores with 1 and 2 jobs: {result['same_scores']}.")
    if "vs_baseline" in result:
        ratios = ", ".join(f"{k}: {v:.2f}x" for k, v in result["vs_baseline"].items())
        lines.append(
            f"Throughput against the baseline ({result['baseline']}; above 1: this one is faster): {ratios}. "
            f"The baseline's own jobs=2 speed-up: {result['baseline_speedup']:.2f}x."
        )
    return "\n".join(lines)


def summary(result: dict) -> list[dict]:
    detail = f"{result['runs']['this jobs=2']['per_minute']:.0f} submissions/min with 2 jobs"
    return [ratio_row("grade", "jobs=2 vs jobs=1", result["speedup"], baseline="jobs=1", target=1.7, detail=detail)]


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--submissions", type=int, default=0, help="how many submissions (default 60, quick 24)")
    parser.add_argument("--rounds", type=int, default=3, help="batches graded by every setting in turn (default 3)")
    parser.add_argument("--baseline", default="", help="a checkout of another grader version to compare with")
    parser.add_argument("--baseline-python", default="python", help="the Python where --baseline is installed")


if __name__ == "__main__":
    raise SystemExit(main_for(__doc__, run, markdown, "grade.json", add_arguments=_arguments))
