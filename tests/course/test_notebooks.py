"""The course's own notebooks: every lesson and solution runs under nbval, the solution scores full marks, the
untouched exercise scores zero (its checks can fail), and the generated notebooks are not stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from odyssey_lessons.grading import find_checks, self_check, stale_files

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
pytestmark = pytest.mark.notebook


def nbval(notebook: Path) -> subprocess.CompletedProcess[str]:
    """Run nbval (``--nbval-lax``: only cells marked ``# NBVAL_CHECK_OUTPUT`` compare outputs) in a fresh kernel."""
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider"]
    command += ["-o", "addopts=", "-q", str(notebook)]
    return subprocess.run(command, cwd=notebook.parent, capture_output=True, text=True, timeout=600)


def n_checks(notebook: Path) -> int:
    nb = nbformat.read(notebook, as_version=4)
    return sum(len(find_checks(cell.source)) for cell in nb.cells if cell.cell_type == "code")


def test_every_lesson_has_a_solution_and_an_exercise():
    assert LESSONS, "no lesson notebooks found"
    stems = [p.stem for p in LESSONS if p.stem != "00_start_here"]  # the start page has no exercise
    assert [p.stem for p in SOLUTIONS] == stems
    assert [p.stem for p in EXERCISES] == stems


@pytest.mark.parametrize("notebook", LESSONS + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_passes_nbval(notebook: Path):
    result = nbval(notebook)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("notebook", SOLUTIONS, ids=lambda p: p.name)
def test_solution_scores_full_marks(notebook: Path):
    report = self_check(notebook, timeout=300)
    assert report.checks and report.score == report.max_score, report.format()
    assert len(report.checks) == n_checks(notebook) >= 3


@pytest.mark.parametrize("notebook", EXERCISES, ids=lambda p: p.name)
def test_untouched_exercise_scores_zero_and_fails_nbval(notebook: Path):
    report = self_check(notebook, timeout=300)
    assert report.max_score > 0 and report.score == 0, report.format()
    assert all(not passed for _, _, passed, _ in report.checks)
    assert all(message for *_, message in report.checks), "every failed check shows its hint"
    result = nbval(notebook)
    assert result.returncode != 0
    assert f"{n_checks(notebook)} failed" in result.stdout.splitlines()[-1], result.stdout[-2000:]


def test_generated_notebooks_are_not_stale():
    """Regeneration is byte-identical every time (``odyssey assign`` records check outputs coalesced, so how the
    kernel happened to split printed text cannot show), so one regeneration decides."""
    stale = stale_files(ROOT, progress=False)
    assert stale == [], "run `odyssey assign` and commit: " + ", ".join(f"{s[0]} ({s[1]})" for s in stale)
