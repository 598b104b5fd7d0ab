"""Grade one submission with every check decided in the grader's process.

The student's kernel (sandboxed: ``_jail``) runs the master's code cells in order with the student's answer
cells put in; check cells never run there. At each check cell the grader runs the cell's code in its own process
(``SESSION`` set, see ``_check``), in a namespace holding what the master's first code cell binds (its imports) and
what earlier check cells defined. The check's test function calls the student's code in the kernel and the solution
in the reference kernel (``_reference``) with the same inputs, and compares the plain data that comes back here.

Faults: a call or cell past the cell timeout is interrupted; a kernel that dies (a crash, ``os._exit``, the memory
limit, a timeout it ignored) is started again and the cells run so far are replayed, without a cell that killed it
(at most :data:`MAX_RESTARTS` times, within the total timeout). The row says which cell or check caused each fault.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from odyssey_lessons.grading._answers import KernelFault, SolutionFault
from odyssey_lessons.grading._cells import CheckSpec, is_check_cell, read_outcome
from odyssey_lessons.grading._check import SESSION, Session, describe_exception, pass_line
from odyssey_lessons.grading._jail import Jail, Limits, kernel_env
from odyssey_lessons.grading._kernel import Kernel, Outcome
from odyssey_lessons.grading._master import CheckInfo, Master
from odyssey_lessons.grading._reference import probe_code, reference_for

MAX_RESTARTS = 2
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


@dataclass(frozen=True)
class Step:
    """One code cell of the master as the grader runs it."""

    kind: str  # context, answer, check
    master_cell: int
    source: str
    checks: tuple[CheckInfo, ...] = ()


def plan(master: Master, answers: Mapping[int, str]) -> list[Step]:
    """The master's code cells in order, answer cells holding the student's source (or the stub)."""
    by_cell: dict[int, list[CheckInfo]] = {}
    for info in master.checks:
        by_cell.setdefault(info.cell, []).append(info)
    steps = []
    for index, cell in enumerate(master.nb.cells):
        if cell.cell_type != "code":
            continue
        if index in by_cell:
            steps.append(Step("check", index, cell.source, tuple(by_cell[index])))
        elif index in master.answers:
            steps.append(Step("answer", index, answers.get(index, cell.source)))
        elif not is_check_cell(cell):
            steps.append(Step("context", index, cell.source))
    return steps


class StudentSide:
    """The student's kernel as a side of every check call (``_answers.Side``)."""

    def __init__(self, run: _Run) -> None:
        self.run = run

    def request(self, request: dict) -> dict:
        run = self.run
        if run.kernel is None or not run.kernel.alive():
            raise KernelFault("crashed", "the kernel had died before this call")
        timeout = max(min(run.limits.cell_timeout, run.left()), 0.5)
        outcome = run.kernel.execute(probe_code(request), timeout)
        if outcome.status == "crashed" or not outcome.alive:
            run.kernel_lost()
        if outcome.status == "crashed":
            raise KernelFault("crashed", "the kernel died during this check")
        if outcome.status == "timeout":
            raise KernelFault("timeout", f"a call hit the {run.limits.cell_timeout:g} s cell timeout")
        if outcome.reply is None:
            why = (outcome.errors or ["no reply"])[0]
            return {"raised": "ProtocolError", "message": f"the call sent no reply ({why[:200]})"}
        return outcome.reply


class _Run:
    """The state of grading one submission: its kernel, in a fresh jail (``_jail``) for every start."""

    def __init__(self, master: Master, limits: Limits) -> None:
        self.master, self.limits = master, limits
        self.start = time.monotonic()
        self.kernel: Kernel | None = None
        self.jail: Jail | None = None
        self.work = Path(tempfile.mkdtemp(prefix="odyssey-work-"))
        self.grade = NotebookGrade(checks=[])
        self.status = "graded"
        self.verdicts: dict[str, CheckGrade] = {}
        self.done: list[Step] = []  # context and answer cells run so far, in order (replayed after a restart)
        self.skipped: set[int] = set()  # master cells that hung or crashed the kernel

    def fault(self, note: str, status: str) -> None:
        """Record what went wrong (once) and raise the submission's status to ``status`` if that is worse."""
        if note not in self.grade.faults:
            self.grade.faults.append(note)
        self.status = max(self.status, status, key=_SEVERITY.__getitem__)

    def left(self) -> float:
        return self.limits.total_timeout - (time.monotonic() - self.start)

    def start_kernel(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(mode=0o700)
        self.jail = Jail(self.limits, self.work)
        self.grade.isolation = self.jail.isolation
        self.grade.runs += 1
        self.kernel = Kernel(self.jail.kernel_spec(), cwd=self.work, env=kernel_env(self.work))

    def kernel_lost(self) -> None:
        """Stop the kernel and everything it started (the jail kills the whole run)."""
        if self.kernel is not None:
            self.kernel.close()
        if self.jail is not None:
            self.jail.close()
        self.kernel = self.jail = None

    def close(self) -> None:
        self.kernel_lost()
        shutil.rmtree(self.work, ignore_errors=True)


def _label(master: Master, step: Step) -> str:
    if step.checks:
        if any(info.hidden for info in step.checks):
            return "a hidden check cell"
        return "the check cell of " + ", ".join(info.check_id for info in step.checks)
    first = step.source.strip().split("\n", 1)[0] if step.kind == "context" else _first_master_line(master, step)
    kind = "answer cell" if step.kind == "answer" else "cell"
    return f"{kind} {step.master_cell} ({first[:60]!r})"


def _first_master_line(master: Master, step: Step) -> str:
    return master.nb.cells[step.master_cell].source.strip().split("\n", 1)[0]


def _check_namespace(master: Master) -> dict:
    """What check cells see: the names the master's first code cell binds (run here, in the grader)."""
    namespace: dict = {"__name__": "__odyssey_checks__"}
    first = next(cell for cell in master.nb.cells if cell.cell_type == "code")
    if not is_check_cell(first):
        exec(compile(first.source, "<master setup cell>", "exec"), namespace)
    return namespace


def _run_check_cell(run: _Run, step: Step, namespace: dict, reference) -> dict[str, tuple[str, str]]:
    session = Session(StudentSide(run), reference)
    token = SESSION.set(session)
    try:
        exec(compile(step.source, f"<check cell {step.master_cell}>", "exec"), namespace)
    except KernelFault as fault:
        for info in step.checks:
            session.verdicts.setdefault(info.check_id, (fault.status, str(fault)))
    except SolutionFault as fault:
        for info in step.checks:
            session.verdicts.setdefault(info.check_id, ("error", str(fault)))
    except Exception as exc:  # an error in the check cell itself, outside check(): its checks fail
        line = describe_exception(exc).strip()
        for info in step.checks:
            session.verdicts.setdefault(info.check_id, ("failed", f"the check cell raised {line}"))
    finally:
        SESSION.reset(token)
    return session.verdicts


def _verdict_lines(printed: str) -> list[str]:
    return [line for line in printed.split("\n") if line.startswith(("[PASS] ", "[FAIL] "))]


def _score_printed(step: Step, outcome: Outcome, limits: Limits) -> dict[str, tuple[str, str]]:
    """A self-check's verdicts of one check cell run in the learner's kernel, from the lines it printed: a check
    passes only if the cell raised nothing and printed exactly one verdict line per check, in order, and this
    check's line is its ``[PASS]`` line."""
    specs = [CheckSpec(info.check_id, info.points) for info in step.checks]
    lines = _verdict_lines(outcome.printed)
    clean = outcome.status == "ok"
    in_order = clean and [line.split(" ", 2)[1] for line in lines] == [spec.check_id for spec in specs]
    found = {}
    for spec, line in zip(specs, lines if in_order else [""] * len(specs), strict=True):
        if in_order and line == pass_line(*spec):
            found[spec.check_id] = ("passed", "")
            continue
        message = read_outcome(outcome.printed, spec).message
        if outcome.status == "timeout":
            found[spec.check_id] = ("timeout", f"the check cell hit the {limits.cell_timeout:g} s cell timeout")
        elif outcome.status == "crashed":
            found[spec.check_id] = ("crashed", "the kernel died while this check ran")
        elif clean and not in_order:
            found[spec.check_id] = ("failed", "the check cell printed extra or missing verdict lines")
        else:
            found[spec.check_id] = ("failed", message or f"the check cell raised {(outcome.errors or ['?'])[0]}")
    return found


def _cell_timeout(run: _Run) -> float:
    return max(min(run.limits.cell_timeout, run.left()), 0.5)


def _restart(run: _Run) -> bool:
    """A new kernel with the cells run so far replayed (without those that hung or crashed it); False when the
    submission has used up its kernels."""
    if run.grade.runs > MAX_RESTARTS:
        run.fault("the kernel died too often: grading stopped", "crashed")
        return False
    run.start_kernel()
    for old in run.done:
        if old.master_cell not in run.skipped:
            run.kernel.execute(old.source, _cell_timeout(run))
    return True


def _run_cell(run: _Run, step: Step) -> None:
    """A context or answer cell in the student's kernel."""
    limits = run.limits
    outcome: Outcome = run.kernel.execute(step.source, _cell_timeout(run))
    if outcome.errors and run.grade.runs == 1:
        first_line = _first_master_line(run.master, step)
        run.grade.cell_errors.append(f"cell {step.master_cell} ({first_line!r}): {outcome.errors[0]}")
    if any(e.startswith("MemoryError") for e in outcome.errors):
        run.fault(f"{_label(run.master, step)} ran out of memory (limit {limits.memory_mb} MiB)", "memory")
    if outcome.status == "timeout":
        run.fault(f"{_label(run.master, step)} hit the {limits.cell_timeout:g} s cell timeout", "timeout")
    elif outcome.status == "crashed":
        why = f"crashed the kernel (os._exit, a segfault or the {limits.memory_mb} MiB memory limit)"
        run.fault(f"{_label(run.master, step)} {why}", "crashed")
    if outcome.status in ("timeout", "crashed"):
        run.skipped.add(step.master_cell)  # a replay after a restart must not run it again
    if not outcome.alive or outcome.status == "crashed":
        run.kernel_lost()
    run.done.append(step)


def _run_checks(run: _Run, step: Step, grader: tuple | None) -> None:
    """A check cell: in the grader's process (``grader`` = (namespace, reference)), or for a self-check in the
    learner's kernel."""
    began = time.monotonic()
    if grader is None:
        outcome = run.kernel.execute(step.source, _cell_timeout(run))
        found = _score_printed(step, outcome, run.limits)
        if not outcome.alive or outcome.status == "crashed":
            run.kernel_lost()
    else:
        found = _run_check_cell(run, step, *grader)
    seconds = round(time.monotonic() - began, 3)
    label = _label(run.master, step)
    for info in step.checks:
        status, message = found.get(info.check_id, ("not_run", "the check did not run"))
        if status == "timeout":
            run.fault(f"{label} hit the {run.limits.cell_timeout:g} s cell timeout", "timeout")
        elif status == "crashed":
            run.fault(f"{label} crashed the kernel (os._exit, a segfault or the memory limit)", "crashed")
        if "MemoryError" in message:
            run.fault(f"{label} ran out of memory (limit {run.limits.memory_mb} MiB)", "memory")
        if status == "error":
            run.fault(f"{label} could not be graded: {message.splitlines()[-1]}", "error")
        earned = info.points if status == "passed" else 0
        run.verdicts[info.check_id] = CheckGrade(
            info.check_id, info.points, earned, info.hidden, status, seconds, message
        )


def grade_submission(
    master: Master, answers: Mapping[int, str], limits: Limits, *, checks_in_kernel: bool = False
) -> NotebookGrade:
    """Grade the student's ``answers`` to ``master`` (see the module docstring); never raises for the submission.

    ``checks_in_kernel``: the learner's self-check (``odyssey check``): check cells run in the learner's own kernel
    against their oracles, and their printed verdict lines are read. Never for grading.
    """
    run = _Run(master, limits)
    try:
        grader = None
        if not checks_in_kernel:
            grader = (_check_namespace(master), reference_for(master.solution, master.key, limits.cell_timeout * 4))
        run.start_kernel()
        for step in plan(master, answers):
            if run.left() <= 0:
                run.fault(f"grading stopped after the {limits.total_timeout:g} s total timeout", "total_timeout")
                break
            if run.kernel is None and not _restart(run):
                break
            if step.kind == "check":
                _run_checks(run, step, grader)
            else:
                _run_cell(run, step)
    except (Exception, SolutionFault) as exc:  # could not grade (a kernel that never started, a broken solution)
        run.fault(f"the submission could not be graded: {exc}", "error")
    finally:
        run.close()
    for info in master.checks:
        if info.check_id not in run.verdicts:
            why = "grading stopped before this check ran" if run.status != "graded" else "the check did not run"
            run.verdicts[info.check_id] = CheckGrade(info.check_id, info.points, 0, info.hidden, "not_run", 0.0, why)
    run.grade.checks = [run.verdicts[info.check_id] for info in master.checks]
    run.grade.status = run.status
    run.grade.seconds = round(time.monotonic() - run.start, 3)
    return run.grade
