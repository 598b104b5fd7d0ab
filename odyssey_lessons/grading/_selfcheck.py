"""``odyssey check``: a learner's self-check of an exercise notebook.

The notebook runs top to bottom in a fresh kernel under nbval (``--nbval-lax``, in a subprocess so a crashing or
hanging notebook cannot take the caller down). Each check is then scored from the lines its check cell printed in
*this* run: ``[PASS] id (p/p points)`` or ``[FAIL] id ...: hint``. Scoring does not rest on nbval's diff against the
stored outputs alone because a learner who saves the notebook after a failing run overwrites those stored outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import nbformat

from odyssey_lessons.grading._cells import CheckSpec, find_checks, is_check_cell, read_outcome

DEFAULT_TIMEOUT = 600
_PLUGIN = "odyssey_lessons.grading._nbval_report"


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


def _check_cells(nb: nbformat.NotebookNode) -> dict[int, tuple[int, list[CheckSpec]]]:
    """nbval cell number (index among code cells) -> (notebook cell index, the checks the cell makes)."""
    cells = {}
    code_cells = (index for index, cell in enumerate(nb.cells) if cell.cell_type == "code")
    for number, index in enumerate(code_cells):
        cell = nb.cells[index]
        if is_check_cell(cell):
            try:
                specs = find_checks(cell.source)
            except ValueError as exc:
                raise ValueError(f"cell {index} of the notebook: {exc}") from exc
            if specs:
                cells[number] = (index, specs)
    return cells


def _run_nbval(notebook: Path, *, timeout: float) -> dict[int, dict]:
    """Run the notebook under nbval in a subprocess; return the recorder's entries by nbval cell number."""
    with tempfile.TemporaryDirectory(prefix="odyssey-check-") as tmp:
        report = Path(tmp, "report.json")
        ini = Path(tmp, "pytest.ini")
        ini.write_text("[pytest]\n", encoding="utf-8")  # ignore the project's addopts (-n, coverage, ...)
        argv = [
            sys.executable,
            "-m",
            "pytest",
            str(notebook),
            "-p",
            "nbval.plugin",
            "-p",
            _PLUGIN,
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--nbval-current-env",
            f"--nbval-cell-timeout={timeout}",
            f"--odyssey-report={report}",
            "-c",
            str(ini),
            f"--rootdir={notebook.parent}",
            "-q",
            "--color=no",
        ]
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only nbval and the recorder, loaded explicitly above
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=notebook.parent, check=False)
        if proc.returncode not in (0, 1) or not report.exists():
            tail = (proc.stdout + proc.stderr)[-3000:]
            raise RuntimeError(f"nbval could not run {notebook} (pytest exit code {proc.returncode}):\n{tail}")
        entries = json.loads(report.read_text(encoding="utf-8"))
    return {entry["cell"]: entry for entry in entries}


def _failure_message(entry: dict | None) -> str:
    """Why a check printed no verdict line: its cell raised, was skipped, or never ran."""
    if entry is None:
        return "the check cell did not run"
    if entry["errors"]:
        return f"the check cell raised {entry['errors'][0]}"
    if entry["outcome"] in ("skipped", "error"):
        return f"the check cell did not run: {entry.get('detail', entry['outcome'])}"
    return "the check printed no [PASS] line"


def self_check(notebook_path: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT) -> SelfCheckReport:
    """Run an exercise notebook in a fresh kernel and score its checks.

    Args:
        notebook_path: The ``.ipynb`` to check, usually ``exercises/NN_name.ipynb``.
        timeout: Seconds each cell may run before it is interrupted (and its checks fail).

    Returns:
        The report: each check's verdict, other cells that raised, ``score`` and ``max_score``.

    Raises:
        FileNotFoundError: No such notebook.
        ValueError: Not a ``.ipynb``, ``timeout`` not positive, or a check cell without literal ``points=N``.
        RuntimeError: pytest/nbval could not run at all (e.g. the kernel did not start).
    """
    notebook = Path(notebook_path).resolve()
    if notebook.suffix != ".ipynb":
        raise ValueError(f"self_check needs a .ipynb notebook, got {notebook_path=}")
    if not notebook.is_file():
        raise FileNotFoundError(f"no such notebook: {notebook_path}")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout=}")
    nb = nbformat.read(notebook, as_version=4)
    check_cells = _check_cells(nb)
    shown = Path(notebook_path)
    if not check_cells:
        return SelfCheckReport(shown, [], [])

    entries = _run_nbval(notebook, timeout=timeout)
    checks = []
    for number, (_, specs) in check_cells.items():
        entry = entries.get(number)
        for spec in specs:
            outcome = read_outcome(entry["printed"] if entry else "", spec)
            message = "" if outcome.passed else outcome.message or _failure_message(entry)
            checks.append(CheckResult(spec.check_id, spec.points, outcome.passed, message))

    code_index = [index for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    cell_errors = []
    for number, entry in sorted(entries.items()):
        if number in check_cells or not entry["errors"]:
            continue
        index = code_index[number]
        first_line = nb.cells[index].source.split("\n", 1)[0]
        cell_errors.append(f"cell {index} ({first_line!r}): {entry['errors'][0]}")
    return SelfCheckReport(shown, checks, cell_errors)
