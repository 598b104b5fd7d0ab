"""Grading: the ``check`` call in check cells, the solution -> exercise pipeline, the self-check and ``odyssey grade``.

- :func:`check` -- run one graded test in a notebook and print ``[PASS] ...`` or ``[FAIL] ...: hint``; its test
  function calls the learner's code through :class:`Answers` with inputs (plain data, :class:`Rng`, :class:`Build`)
  and compares with a reference (:func:`exact`, :func:`close`).
- :func:`assign` / :func:`stale_files` -- generate ``notebooks/``, ``solutions/`` and ``exercises/`` notebooks from
  the jupytext sources (``odyssey assign [--check]``).
- :func:`self_check` -- run an exercise in a fresh kernel and score its checks (``odyssey check``).
- :func:`grade` -- grade a class against a grading master, sandboxed, in parallel or on Dask (``odyssey grade``).

How the modules fit, from the check outwards:

- ``_wire`` (plain-data encoding), ``_probe`` (the side that runs code: a kernel or this process), ``_answers`` (what
  a test function calls, comparisons), ``_check`` (``check``, and the grader's ``SESSION``), ``fixtures`` (objects
  checks make on both sides);
- ``_cells`` (answer blocks, check cells), ``_master`` (the grading master, answers matched to it), ``_assign``;
- ``_kernel`` (one kernel driven directly, bounded output), ``_jail`` / ``_launcher`` / ``_cgroup`` /
  ``_provisioner`` (the sandbox around a student's kernel), ``_reference`` (the solution's kernel);
- ``_score`` (one notebook: the student's kernel, checks in the grader's process, faults), ``_selfcheck``;
- ``_submissions`` (a folder of submissions), ``_batch`` (``grade``), ``_gradebook`` and ``_feedback`` (what is
  written).

Every lesson imports :func:`check`, so importing this package must stay cheap: the pipeline and the self-check need
nbformat, whose import takes seconds (jsonschema), and are loaded on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from odyssey_lessons.grading._answers import Answers, Comparison, Remote, close, exact
from odyssey_lessons.grading._cells import CheckSpec, find_checks, stub_solutions
from odyssey_lessons.grading._check import check
from odyssey_lessons.grading._wire import Build, Rng

if TYPE_CHECKING:
    from odyssey_lessons.grading._assign import AssignError, StaleFile, assign, assign_plan, stale_files
    from odyssey_lessons.grading._batch import GradeSummary, grade
    from odyssey_lessons.grading._jail import Limits
    from odyssey_lessons.grading._provisioner import ipc_environ
    from odyssey_lessons.grading._selfcheck import CheckResult, SelfCheckReport, self_check

_LAZY = {
    "AssignError": "_assign",
    "StaleFile": "_assign",
    "assign": "_assign",
    "assign_plan": "_assign",
    "ipc_environ": "_provisioner",
    "stale_files": "_assign",
    "GradeSummary": "_batch",
    "grade": "_batch",
    "Limits": "_jail",
    "CheckResult": "_selfcheck",
    "SelfCheckReport": "_selfcheck",
    "self_check": "_selfcheck",
}

__all__ = [
    "Answers",
    "AssignError",
    "Build",
    "Comparison",
    "Remote",
    "Rng",
    "close",
    "exact",
    "CheckResult",
    "CheckSpec",
    "GradeSummary",
    "Limits",
    "SelfCheckReport",
    "StaleFile",
    "assign",
    "assign_plan",
    "check",
    "find_checks",
    "grade",
    "ipc_environ",
    "self_check",
    "stale_files",
    "stub_solutions",
]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
