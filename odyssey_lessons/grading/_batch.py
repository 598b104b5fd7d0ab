"""``odyssey grade``: grade a folder of submissions against an assignment's grading master.

:func:`grade_job` grades one submission from plain data (the master's JSON text, the submitted bytes, the limits) and
returns a plain-data row, so the same function runs in a local thread pool (``jobs``) or on a Dask worker
(``dask_scheduler``). :func:`grade` finds the master and the submissions, skips rows a previous run finished
(``resume``), hands out the jobs, and records every row in the gradebook as it arrives.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import statistics
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from odyssey_lessons._validate import check_positive_int
from odyssey_lessons.grading._jail import Limits
from odyssey_lessons.grading._submissions import Job, collect

if TYPE_CHECKING:
    from odyssey_lessons.grading._gradebook import Gradebook

FORMAT_VERSION = 1


def find_master(root: Path, assignment: str) -> Path:
    """``root/instructor/NAME.ipynb`` when it exists (hidden checks), else ``root/solutions/NAME.ipynb``.

    Raises:
        FileNotFoundError: Neither exists.
    """
    for folder in ("instructor", "solutions"):
        path = Path(root) / folder / f"{assignment}.ipynb"
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"no grading master for assignment={assignment!r}: looked for instructor/{assignment}.ipynb and "
        f"solutions/{assignment}.ipynb under {root} (run `odyssey assign {assignment}` first)"
    )


def _empty_row(job: Job, master, status: str, message: str, note: str = "") -> dict:
    checks = [
        {
            "check_id": info.check_id,
            "points": info.points,
            "earned": 0,
            "hidden": info.hidden,
            "status": "not_run",
            "seconds": 0.0,
            "message": message,
        }
        for info in master.checks
    ]
    return {
        "student": job.student,
        "file": job.file,
        "sha256": job.sha256,
        "status": status,
        "message": message if not note else f"{message} ({note})",
        "score": 0,
        "max_score": master.max_score,
        "checks": checks,
        "faults": [],
        "cell_errors": [],
        "runs": 0,
        "seconds": 0.0,
        "isolation": "",
    }


_OWN_THREADS: dict[int, ThreadPoolExecutor] = {}
_OWN_THREADS_LOCK = threading.Lock()


def _in_own_thread(function, *args):  # noqa: ANN001, ANN202 - a thin trampoline
    """``function(*args)`` in a grading thread of this package's own, one per calling thread. Dask runs tasks in
    threads whose asyncio state jupyter_client's blocking calls trip over ("This event loop is already running");
    a thread of our own has none. It is kept, so the reference kernel it starts (``_reference``) serves the calling
    thread's next submission too."""
    with _OWN_THREADS_LOCK:
        pool = _OWN_THREADS.setdefault(threading.get_ident(), ThreadPoolExecutor(1, "odyssey-grade-own"))
    return pool.submit(function, *args).result()


def grade_job(master_text: str, name: str, job: Job, limits: Limits) -> dict:
    """Grade one submission; returns its gradebook row. Never raises for anything in the submission."""
    import nbformat

    from odyssey_lessons.grading._master import Master, match_answers
    from odyssey_lessons.grading._score import grade_submission
    from odyssey_lessons.grading._submissions import parse_notebook

    master = Master.from_notebook(nbformat.reads(master_text, as_version=4), name)
    if job.problem:
        row = _empty_row(job, master, job.problem, job.message)
    else:
        nb, problem, note = parse_notebook(job.data or b"")
        if nb is None:
            row = _empty_row(job, master, problem, note)
        else:
            answers = match_answers(master, nb)
            result = _in_own_thread(grade_submission, master, answers, limits)
            row = _empty_row(job, master, result.status, note)
            row["checks"] = [asdict(c) for c in result.checks]
            row["score"] = sum(c.earned for c in result.checks)
            row.update(
                faults=result.faults,
                cell_errors=result.cell_errors,
                runs=result.runs,
                seconds=result.seconds,
                isolation=result.isolation,
                answers_matched=f"{len(answers)}/{len(master.answers)}",
            )
    row["master_sha256"] = hashlib.sha256(master_text.encode("utf-8")).hexdigest()
    row["format"] = FORMAT_VERSION
    return row


@dataclass(frozen=True)
class GradeSummary:
    """What ``odyssey grade`` prints at the end."""

    rows: list[dict]
    graded_now: int
    skipped: int

    def format(self) -> str:
        """Count, mean, score distribution and non-clean statuses."""
        if not self.rows:
            return "No submissions found."
        scores = [row["score"] for row in self.rows]
        top = max(row["max_score"] for row in self.rows) or 1
        lines = [f"{len(self.rows)} submissions ({self.graded_now} graded now, {self.skipped} kept from before)"]
        lines.append(f"mean {statistics.fmean(scores):.2f}/{top}, median {statistics.median(scores):g}/{top}")
        buckets = Counter(min(int(10 * s / top), 9) for s in scores)
        lines.append("distribution (percent of max score):")
        width = max(buckets.values())
        for bucket in range(10):
            count = buckets.get(bucket, 0)
            upper = "100]" if bucket == 9 else f"{10 * bucket + 10:3d})"
            lines.append(f"  [{10 * bucket:3d}, {upper:>4}  {'#' * round(30 * count / width):<30} {count}")
        statuses = Counter(row["status"] for row in self.rows if row["status"] != "graded")
        if statuses:
            lines.append("not cleanly graded: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
        return "\n".join(lines)


def _run_local(tasks: list[Job], master_text: str, name: str, limits: Limits, jobs: int) -> Iterator[dict]:
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="odyssey-grade") as pool:
        futures = {pool.submit(grade_job, master_text, name, job, limits): job for job in tasks}
        for future in as_completed(futures):
            yield _result_or_error(future, futures[future])


def _run_dask(tasks: list[Job], master_text: str, name: str, limits: Limits, address: str) -> Iterator[dict]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(address, set_as_default=False) as client:
        shared = client.scatter(master_text, broadcast=True)
        futures = {}
        for job in tasks:
            key = f"odyssey-grade-{name}-{hashlib.sha1(job.student.encode('utf-8', 'surrogateescape')).hexdigest()}"
            futures[client.submit(grade_job, shared, name, job, limits, key=f"{key}-{os.urandom(4).hex()}")] = job
        for future in dask_completed(futures, loop=client.loop):
            yield _result_or_error(future, futures[future])


def _result_or_error(future, job: Job) -> dict:
    try:
        return future.result()
    except Exception as exc:  # a worker lost or a grader bug: the batch goes on, the row says what happened
        return {"student": job.student, "file": job.file, "sha256": job.sha256, "status": "error", "message": repr(exc)}


def _master_path(assignment: str, root: str | os.PathLike[str] | None, master: str | os.PathLike[str] | None) -> Path:
    """``master`` when given, else the master :func:`find_master` finds under ``root``."""
    if master is not None:
        return Path(master)
    if root is None:
        raise ValueError("grade needs root= (the course folder) or master= (a grading master notebook)")
    return find_master(Path(root), assignment)


def _hiding(limits: Limits | None, root: str | os.PathLike[str] | None, *paths: Path) -> Limits:
    """``limits`` (default :class:`Limits`) that also hide ``paths`` and, with a course ``root``, its
    ``instructor/`` and ``solutions/`` from the students' kernels."""
    hide = list(paths)
    if root is not None:
        hide += [Path(root).resolve() / "instructor", Path(root).resolve() / "solutions"]
    limits = limits or Limits()
    return Limits(**{**asdict(limits), "hide": tuple(sorted({*limits.hide, *(str(p) for p in hide)}))})


def _keep_finished(book: Gradebook, tasks: list[Job], master_sha: str) -> list[Job]:
    """Keep in ``book`` the earlier rows of unchanged submissions graded against the same master (not as an error,
    in the current row format); return the jobs still to grade."""
    todo = []
    for job in tasks:
        old = book.previous(job.student)
        fresh = old and old.get("status") != "error" and old.get("format") == FORMAT_VERSION
        if fresh and old.get("sha256") == job.sha256 and old.get("master_sha256") == master_sha:
            book.rows[job.student] = old
        else:
            todo.append(job)
    return todo


def _close_own_threads() -> None:
    """Shut down this run's grading threads (a later run makes its own)."""
    with _OWN_THREADS_LOCK:
        pools = list(_OWN_THREADS.values())
        _OWN_THREADS.clear()
    for pool in pools:
        pool.shutdown(wait=False)


def grade(
    submissions: str | os.PathLike[str],
    *,
    assignment: str,
    out: str | os.PathLike[str],
    root: str | os.PathLike[str] | None = None,
    master: str | os.PathLike[str] | None = None,
    jobs: int = 1,
    limits: Limits | None = None,
    dask_scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
) -> GradeSummary:
    """Grade every submission in ``submissions`` and write ``out`` (see ``_gradebook`` for its layout).

    Args:
        submissions: Folder with ``<student>.ipynb`` or ``<student>/<anything>.ipynb``.
        assignment: The assignment's name as ``odyssey assign`` names it, e.g. ``01_number_formats``.
        out: Output folder (created).
        root: Course root holding ``instructor/`` or ``solutions/``; its ``instructor/`` and ``solutions/`` are hidden
            from the students' kernels.
        master: An explicit grading master notebook (overrides ``root`` for finding the master).
        jobs: Submissions graded at once on this machine.
        limits: Timeouts and memory limit per submission (default :class:`Limits`).
        dask_scheduler: Address of a Dask scheduler; submissions are then graded on its workers.
        resume: Keep rows of an earlier run for unchanged submissions graded against the same master.
        progress: Show a progress bar on stderr.

    Raises:
        TypeError: ``jobs`` is not an int or ``assignment`` not a str.
        ValueError: ``jobs`` < 1, a bad assignment name, neither ``root`` nor ``master``, or a master without checks.
        FileNotFoundError: No master or no submissions folder.
    """
    import nbformat
    from tqdm import tqdm

    from odyssey_lessons.grading._gradebook import Gradebook
    from odyssey_lessons.grading._master import Master
    from odyssey_lessons.grading._reference import close_references

    jobs = check_positive_int("jobs", jobs)
    if not isinstance(assignment, str):
        raise TypeError(f"assignment must be a str, got assignment={assignment!r}")
    if not assignment or "/" in assignment or assignment.endswith(".ipynb"):
        raise ValueError(f"assignment must be a name such as '01_number_formats', got assignment={assignment!r}")
    master_path = _master_path(assignment, root, master)
    master_text = master_path.read_text(encoding="utf-8")
    parsed = Master.from_notebook(nbformat.reads(master_text, as_version=4), assignment)
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    limits = _hiding(limits, root, master_path.resolve().parent, submissions, out)
    tasks = collect(submissions, assignment)
    book = Gradebook(out, assignment, [info.check_id for info in parsed.checks])
    master_sha = hashlib.sha256(master_text.encode("utf-8")).hexdigest()
    todo = _keep_finished(book, tasks, master_sha) if resume else list(tasks)
    book.write_tables()
    if dask_scheduler:
        rows = _run_dask(todo, master_text, assignment, limits, dask_scheduler)
    else:
        rows = _run_local(todo, master_text, assignment, limits, jobs)
    with (
        tqdm(total=len(todo), desc=f"odyssey grade {assignment}", unit="sub", disable=not progress) as bar,
        contextlib.closing(rows),
    ):
        for row in rows:
            if "checks" not in row:  # an error row from a lost worker: give it the full shape
                job = next(j for j in todo if j.student == row["student"])
                row = {**_empty_row(job, parsed, "error", row["message"]), "master_sha256": master_sha}
            book.record(row)
            bar.set_postfix_str(f"{row['student']}: {row['score']}/{row['max_score']} {row['status']}")
            bar.update()
    close_references()
    _close_own_threads()
    rows_now = [book.rows[k] for k in sorted(book.rows)]
    return GradeSummary(rows_now, len(todo), len(tasks) - len(todo))
