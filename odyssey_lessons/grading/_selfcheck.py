"""``odyssey check``: a learner's self-check of an exercise notebook, on the driver of ``odyssey grade``.

The notebook runs top to bottom in a fresh kernel (``_score`` with ``checks_in_kernel``: a separate process, so a
crashing or hanging notebook cannot take the caller down, with the same timeouts, crash detection and restarts as
grading), in the notebook's own folder and without the grader's sandbox. Unlike grading, the check cells run in that
kernel, each against its oracles, and each check is scored from the lines its check cell printed in *this* run
(``[PASS] id (p/p points)`` or ``[FAIL] id ...: hint``), not from the stored outputs: a learner who saves the notebook
after a failing run overwrites those. Nothing here is evidence for a grade: the learner's code can reach the checks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import nbformat

from odyssey_lessons._validate import check_real
from odyssey_lessons.grading._cells import find_checks, is_check_cell

DEFAULT_TIMEOUT = 600
SELF_CHECK_MEMORY_MB = 1 << 20  # a learner's own machine: no memory limit to speak of


class CheckResult(NamedTuple):
    """One check's verdict; unpacks as ``check_id, points, passed, message``."""

    check_id: str
    points: int
    passed: bool
    message: str  # the hint and the exception line of a failure; "" when passed


@dataclass(frozen=True)
class SelfCheckReport:
    """The checks of one notebook run, in notebook order."""

    notebook: Path
    checks: list[CheckResult]
    cell_errors: list[str]  # other cells that raised, e.g. a stubbed answer: "cell 3 ('def f(x):'): NameError: ..."

    @property
    def score(self) -> int:
        """Points of the checks that passed."""
        return sum(c.points for c in self.checks if c.passed)

    @property
    def max_score(self) -> int:
        """Points of all checks."""
        return sum(c.points for c in self.checks)

    @property
    def passed(self) -> bool:
        """True when there are checks and all of them passed."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    def format(self) -> str:
        """The report as ``odyssey check`` prints it, ending with ``Score: X/Y``."""
        lines = [f"Self-check of {self.notebook}"]
        width = max((len(c.check_id) for c in self.checks), default=0)
        for c in self.checks:
            verdict = "PASS" if c.passed else "FAIL"
            lines.append(f"  {verdict}  {c.check_id:<{width}}  {c.points if c.passed else 0}/{c.points} points")
            lines += [f"        {line}" for line in c.message.split("\n") if line]
        if self.cell_errors:
            lines.append("Other cells raised an exception (fix the first one first):")
            lines += [f"  {error}" for error in self.cell_errors]
        if not self.checks:
            lines.append("This notebook has no check cells: nothing to score.")
        lines.append(f"Score: {self.score}/{self.max_score}")
        return "\n".join(lines)


def _master(nb: nbformat.NotebookNode, name: str):  # -> Master
    """The learner's notebook as its own master: every code cell that is not a check cell is an answer cell."""
    from odyssey_lessons.grading._master import CheckInfo, Master

    answers, checks = set(), []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if not is_check_cell(cell):
            answers.add(index)
            continue
        try:
            specs = find_checks(cell.source)
        except ValueError as exc:
            raise ValueError(f"cell {index} of the notebook: {exc}") from exc
        checks += [CheckInfo(spec.check_id, spec.points, False, index) for spec in specs]
        if not specs:
            answers.add(index)
    return Master(name, nb, frozenset(answers), tuple(checks))


def self_check(notebook_path: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT) -> SelfCheckReport:
    """Run an exercise notebook in a fresh kernel and score its checks.

    Args:
        notebook_path: The ``.ipynb`` to check, usually ``exercises/NN_name.ipynb``.
        timeout: Seconds each cell may run before it is interrupted (and its checks fail).

    Returns:
        The report: each check's verdict, other cells that raised, ``score`` and ``max_score``.

    Raises:
        FileNotFoundError: No such notebook.
        TypeError: ``timeout`` is not a number.
        ValueError: Not a ``.ipynb``, ``timeout`` not positive, or a check cell without literal ``points=N``.
        RuntimeError: The notebook could not be run at all (e.g. the kernel did not start).
    """
    from odyssey_lessons.grading._jail import Limits
    from odyssey_lessons.grading._score import grade_submission

    notebook = Path(notebook_path).resolve()
    if notebook.suffix != ".ipynb":
        raise ValueError(f"self_check needs a .ipynb notebook, got {notebook_path=}")
    if not notebook.is_file():
        raise FileNotFoundError(f"no such notebook: {notebook_path}")
    timeout = check_real("timeout", timeout, low=0, low_open=True, finite=False)
    nb = nbformat.read(notebook, as_version=4)
    master = _master(nb, notebook.stem)
    shown = Path(notebook_path)
    if not master.checks:
        return SelfCheckReport(shown, [], [])
    code_cells = sum(cell.cell_type == "code" for cell in nb.cells)
    limits = Limits(
        cell_timeout=timeout,
        total_timeout=timeout * code_cells + 120,
        memory_mb=SELF_CHECK_MEMORY_MB,
        sandbox=False,
        cwd=str(notebook.parent),
    )
    answers = {index: nb.cells[index].source for index in master.answers}
    result = grade_submission(master, answers, limits, checks_in_kernel=True)
    if result.status == "error":
        raise RuntimeError(f"could not run {notebook}: {'; '.join(result.faults)}")
    checks = [CheckResult(c.check_id, c.points, c.passed, c.message) for c in result.checks]
    return SelfCheckReport(shown, checks, result.cell_errors + [f"stopped: {f}" for f in result.faults])
