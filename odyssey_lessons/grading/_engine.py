"""Grade one notebook: build the graded notebook, run it (again after a fatal fault), score every check.

Scoring a check cell of one run:

- its output equals the master's expected output (nbval) -> every check in it passes (grading only; the learner's
  self-check has no trusted expected output);
- otherwise a check passes only if the cell raised nothing and printed exactly one verdict line per check, in order,
  and this check's line is its ``[PASS]`` line. A student's extra ``[PASS]`` line therefore fails the cell's checks.

Faults: a cell that hits the cell timeout is interrupted and the run goes on. When the kernel dies (a crash,
``os._exit``, the memory limit, or a timeout the kernel ignored), the checks before the fault keep their verdicts, the
faulting cell's checks are marked with the fault, and the notebook is run again from the start with the faulting cell
replaced by a no-op, so later independent tasks are still graded (at most :data:`MAX_RUNS` runs, within the total
timeout).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

from nbformat import NotebookNode

from odyssey_lessons.grading._cells import CheckSpec, read_outcome
from odyssey_lessons.grading._check import pass_line
from odyssey_lessons.grading._graded import CellRole, Master, build_graded
from odyssey_lessons.grading._isolate import Limits, RunResult, run_nbval

MAX_RUNS = 3
MIN_RERUN_SECONDS = 10.0
START_TRIES = 3  # runs of one attempt whose kernel never started, before the attempt counts as an error
_FATAL = ("crashed",)
_SEVERITY = {"graded": 0, "memory": 1, "timeout": 2, "crashed": 3, "total_timeout": 4, "error": 5}


@dataclass(frozen=True)
class CheckGrade:
    """One check's result in one submission."""

    check_id: str
    points: int
    earned: int
    hidden: bool
    status: str  # passed, failed, timeout, crashed, not_run
    seconds: float
    message: str

    @property
    def passed(self) -> bool:
        """True when the check earned its points."""
        return self.earned == self.points


@dataclass
class NotebookGrade:
    """All checks of one graded notebook, its overall status and the faults that happened."""

    checks: list[CheckGrade]
    status: str = "graded"  # graded, memory, timeout, crashed, total_timeout, error
    faults: list[str] = field(default_factory=list)
    runs: int = 0
    seconds: float = 0.0
    isolation: str = ""
    cell_errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain data (JSON-ready)."""
        return asdict(self)


def _label(master: Master, role: CellRole) -> str:
    """How feedback names a cell: its check ids, or the first line of the answer or context cell."""
    if role.checks:
        if any(info.hidden for info in role.checks):
            return "a hidden check cell"
        return "the check cell of " + ", ".join(info.check_id for info in role.checks)
    if role.master_cell is None:
        return "the grader's setup cell"
    first = master.nb.cells[role.master_cell].source.strip().split("\n", 1)[0]
    kind = "answer cell" if role.role == "answer" else "cell"
    return f"{kind} {role.master_cell} ({first[:60]!r})"


def _verdict_lines(printed: str) -> list[str]:
    return [line for line in printed.split("\n") if line.startswith(("[PASS] ", "[FAIL] "))]


def score_cell(role: CellRole, entry: dict | None, *, trust_expected: bool, limits: Limits) -> list[CheckGrade]:
    """The grades of the checks of one check cell from its recorder entry (see the module docstring)."""
    specs = [CheckSpec(info.check_id, info.points) for info in role.checks]
    seconds = float(entry["seconds"]) if entry else 0.0
    status = entry["status"] if entry else "not_run"
    if entry and status == "passed" and trust_expected:
        return [CheckGrade(i.check_id, i.points, i.points, i.hidden, "passed", seconds, "") for i in role.checks]
    printed = entry["printed"] if entry else ""
    lines = _verdict_lines(printed)
    clean = entry is not None and status in ("passed", "mismatch") and not entry["errors"]
    in_order = clean and [line.split(" ", 2)[1] for line in lines] == [s.check_id for s in specs]
    grades = []
    for info, spec, line in zip(role.checks, specs, lines if in_order else [""] * len(specs), strict=True):
        if in_order and line == pass_line(*spec):
            grades.append(CheckGrade(info.check_id, info.points, info.points, info.hidden, "passed", seconds, ""))
            continue
        outcome = read_outcome(printed, spec)
        check_status, message = "failed", outcome.message
        if status == "timeout":
            check_status, message = "timeout", f"the check cell hit the {limits.cell_timeout:g} s cell timeout"
        elif status == "crashed":
            check_status, message = "crashed", "the kernel died while this check ran"
        elif status == "not_run":
            check_status, message = "not_run", "the check cell did not run: " + (entry["detail"] if entry else "")
        elif clean and not in_order:
            message = "the check cell printed extra or missing verdict lines"
        elif entry and entry["errors"]:
            message = message or f"the check cell raised {entry['errors'][0]}"
        grades.append(CheckGrade(info.check_id, info.points, 0, info.hidden, check_status, seconds, message))
    return grades


def _fatal_fault(layout: Sequence[CellRole], run: RunResult) -> int | None:
    """The cell number after which the kernel was dead: a crash, or a timeout followed by cells that did not run."""
    numbers = sorted(run.entries)
    for position, number in enumerate(numbers):
        status = run.entries[number]["status"]
        later = [run.entries[n]["status"] for n in numbers[position + 1 :]]
        if status in _FATAL or (status == "timeout" and later and all(s == "not_run" for s in later)):
            return number
    return None


def _never_started(run: RunResult) -> bool:
    """True when no cell of the run executed: the notebook could not be run or its kernel did not start."""
    return bool(run.problem and not run.entries) or all(e["status"] == "not_run" for e in run.entries.values())


def _memory_trouble(entry: dict) -> bool:
    return any(e.startswith("MemoryError") for e in entry["errors"]) or "    MemoryError" in entry["printed"]


def grade_notebook(
    master: Master,
    answers: Mapping[int, str],
    limits: Limits,
    *,
    trust_expected: bool = True,
) -> NotebookGrade:
    """Run the graded notebook (several times if the kernel dies) and grade every check of ``master``."""
    start = time.monotonic()
    final: dict[str, CheckGrade] = {}
    skip: dict[int, str] = {}
    result = NotebookGrade(checks=[])
    status = "graded"
    for attempt in range(MAX_RUNS):
        left = limits.total_timeout - (time.monotonic() - start)
        if attempt and left < MIN_RERUN_SECONDS:
            break
        nb, layout = build_graded(master, answers, skip=skip)
        for _ in range(START_TRIES):  # a kernel that fails to start (a loaded machine) gets another chance
            run = run_nbval(nb, replace(limits, total_timeout=max(left, 1.0)))
            left = limits.total_timeout - (time.monotonic() - start)
            if not _never_started(run) or left < MIN_RERUN_SECONDS:
                break
        result.runs, result.isolation = attempt + 1, run.isolation
        if run.problem and not run.entries:
            result.faults.append(f"the notebook could not be run: {run.problem}")
            status = "error"
            break
        if all(entry["status"] == "not_run" for entry in run.entries.values()):
            first = run.entries[min(run.entries)]["detail"]
            result.faults.append(f"the kernel did not start: {first}")
            status = "error"
            break
        fatal = _fatal_fault(layout, run)
        last = fatal if fatal is not None else len(layout) - 1
        for number, role in enumerate(layout[: last + 1]):
            entry = run.entries.get(number)
            if entry is None:
                continue
            if entry["status"] in ("timeout", "crashed"):
                kind = f"hit the {limits.cell_timeout:g} s cell timeout"
                if entry["status"] == "crashed":
                    kind = f"crashed the kernel (os._exit, a segfault or the {limits.memory_mb} MiB memory limit)"
                note = f"{_label(master, role)} {kind}"
                if note not in result.faults:
                    result.faults.append(note)
                status = max(status, entry["status"], key=_SEVERITY.__getitem__)
            if _memory_trouble(entry):
                status = max(status, "memory", key=_SEVERITY.__getitem__)
                note = f"{_label(master, role)} ran out of memory (limit {limits.memory_mb} MiB)"
                if note not in result.faults:
                    result.faults.append(note)
            if role.checks:
                for grade in score_cell(role, entry, trust_expected=trust_expected, limits=limits):
                    final.setdefault(grade.check_id, grade)
            elif entry["errors"] and role.master_cell is not None and attempt == 0:
                first_line = master.nb.cells[role.master_cell].source.split("\n", 1)[0]
                result.cell_errors.append(f"cell {role.master_cell} ({first_line!r}): {entry['errors'][0]}")
        if run.total_timeout:
            status = "total_timeout"
            result.faults.append(f"grading stopped after the {limits.total_timeout:g} s total timeout")
            break
        if fatal is None or layout[fatal].master_cell is None:
            break
        skip[layout[fatal].master_cell] = "it hung or crashed the kernel in an earlier run"
    for info in master.checks:
        if info.check_id not in final:
            why = "grading stopped before this check ran" if status != "graded" else "the check cell did not run"
            final[info.check_id] = CheckGrade(info.check_id, info.points, 0, info.hidden, "not_run", 0.0, why)
    result.checks = [final[info.check_id] for info in master.checks]
    result.status = status
    result.seconds = round(time.monotonic() - start, 3)
    return result


def grade_student_notebook(master: Master, student: NotebookNode, limits: Limits) -> NotebookGrade:
    """Grade a student's notebook against ``master``: only its answer cells are used."""
    from odyssey_lessons.grading._graded import match_answers

    return grade_notebook(master, match_answers(master, student), limits)
