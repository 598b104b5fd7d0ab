"""The grading master, the student's answer cells matched to it, and the notebook a learner's self-check runs.

- :class:`Master` reads a grading master (``instructor/NN.ipynb``, or ``solutions/NN.ipynb`` when the assignment has
  no hidden checks): its answer cells (the cells with ``### BEGIN SOLUTION`` blocks) are stubbed, its check cells keep
  their expected outputs.
- :func:`match_answers` picks the student's source for each answer cell: the student cell with the same cell id, else
  (an old notebook without ids, a cell re-created by copy and paste) the first unclaimed student cell of the same type
  whose first line equals the master cell's first line. Everything else the student changed -- check cells, expected
  outputs, added or deleted cells, metadata -- is ignored; a missing answer keeps the master's stub.
- :func:`build_graded` assembles the notebook nbval runs for ``odyssey check`` (the learner's own kernel, check cells
  included: a self-check is only as trustworthy as the learner's machine). ``odyssey grade`` never runs check cells in
  the student's kernel (``_grader``). ``layout`` says what each code cell of it is.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import nbformat
from nbformat import NotebookNode

from odyssey_lessons.grading._cells import (
    CheckSpec,
    find_checks,
    has_answer_block,
    is_check_cell,
    is_hidden_check,
    stub_solutions,
)

Role = Literal["context", "answer", "check"]
SKIPPED_SOURCE = "# skipped by the grader: {reason}\npass"


@dataclass(frozen=True)
class CheckInfo:
    """One ``check(...)`` call of the master."""

    check_id: str
    points: int
    hidden: bool
    cell: int  # index of its cell in the master


@dataclass(frozen=True)
class CellRole:
    """What one code cell of the graded notebook is."""

    role: Role
    master_cell: int | None  # index in the master; None for the cells the grader adds
    checks: tuple[CheckInfo, ...] = ()


@dataclass(frozen=True)
class Master:
    """A grading master with its answer blocks stubbed."""

    name: str
    nb: NotebookNode
    answers: frozenset[int]
    checks: tuple[CheckInfo, ...]
    solution: NotebookNode | None = None  # the master as recorded, answer blocks included (the reference runs it)

    @property
    def key(self) -> str:
        """A hash of the solution's code cells: what the reference kernel and its cache are keyed by."""
        cells = (self.solution or self.nb).cells
        text = "\n\x00".join(cell.source for cell in cells if cell.cell_type == "code")
        return hashlib.sha256(f"{self.name}\n{text}".encode()).hexdigest()

    @classmethod
    def from_notebook(cls, nb: NotebookNode, name: str) -> Master:
        """Stub the answer cells of a recorded solution and read its checks.

        Raises:
            ValueError: A malformed answer block, a check cell without literal points, or a duplicate check id.
        """
        solution, nb = nb, copy.deepcopy(nb)
        answers, checks, seen = set(), [], set()
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "raw":
                continue
            if is_check_cell(cell):
                hidden = is_hidden_check(cell)
                for spec in find_checks(cell.source):
                    if spec.check_id in seen:
                        raise ValueError(f"master {name}: check {spec.check_id!r} appears twice")
                    seen.add(spec.check_id)
                    checks.append(CheckInfo(spec.check_id, spec.points, hidden, index))
            elif has_answer_block(cell.source):
                answers.add(index)
                cell.source = stub_solutions(cell.source, markdown=cell.cell_type == "markdown")
        if not checks:
            raise ValueError(f"master {name} has no check cells: nothing to grade")
        return cls(name, nb, frozenset(answers), tuple(checks), solution)

    @property
    def max_score(self) -> int:
        """Points of all checks, hidden ones included."""
        return sum(c.points for c in self.checks)


def _first_line(source: str) -> str:
    return source.strip().split("\n", 1)[0].strip()


def match_answers(master: Master, student: NotebookNode) -> dict[int, str]:
    """Master answer cell index -> the student's source for it (missing answers are left out)."""
    by_id = {cell.get("id"): cell for cell in student.cells if cell.get("id")}
    claimed: set[int] = set()
    found: dict[int, str] = {}
    position = {id(cell): k for k, cell in enumerate(student.cells)}
    for index in sorted(master.answers):
        cell = master.nb.cells[index]
        mine = by_id.get(cell.get("id"))
        if mine is not None and mine.cell_type == cell.cell_type and position[id(mine)] not in claimed:
            claimed.add(position[id(mine)])
            found[index] = mine.source
    for index in sorted(master.answers - set(found)):
        cell = master.nb.cells[index]
        head = _first_line(cell.source)
        for k, mine in enumerate(student.cells):
            if k in claimed or mine.cell_type != cell.cell_type or is_check_cell(mine):
                continue
            if head and _first_line(mine.source) == head:
                claimed.add(k)
                found[index] = mine.source
                break
    return found


def build_graded(
    master: Master,
    answers: Mapping[int, str],
    *,
    skip: Mapping[int, str] | None = None,
) -> tuple[NotebookNode, list[CellRole]]:
    """The notebook nbval runs for a learner's self-check, and the role of each of its code cells (nbval's
    ``cell_num`` indexes this list).

    Args:
        master: The notebook as its own master.
        answers: Master answer cell index -> the learner's source.
        skip: Master cell index -> why it is replaced by a no-op (a cell that hung or crashed an earlier run).
    """
    skip = skip or {}
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(master.nb.metadata))
    layout: list[CellRole] = []

    def add(source: str, role: Role, master_cell: int | None, checks: Sequence[CheckInfo] = (), expected=None):
        cell = nbformat.v4.new_code_cell(source)
        if expected is not None:
            cell.outputs = copy.deepcopy(expected.outputs)
            cell.execution_count = expected.execution_count
        nb.cells.append(cell)
        layout.append(CellRole(role, master_cell, tuple(checks)))

    by_cell: dict[int, list[CheckInfo]] = {}
    for info in master.checks:
        by_cell.setdefault(info.cell, []).append(info)
    for index, cell in enumerate(master.nb.cells):
        if cell.cell_type != "code":
            source = answers.get(index, cell.source)
            nb.cells.append(nbformat.v4.new_markdown_cell(source) if cell.cell_type == "markdown" else cell)
            continue
        if index in skip:
            add(SKIPPED_SOURCE.format(reason=skip[index]), "answer" if index in master.answers else "context", index)
            continue
        if index in master.answers:
            add(answers.get(index, cell.source), "answer", index)
        elif index in by_cell:
            add(cell.source, "check", index, by_cell[index], expected=cell)
        else:
            add(cell.source, "context", index)
    return nb, layout


def check_specs(layout: Sequence[CellRole]) -> list[CheckSpec]:
    """The checks of a layout in notebook order, as ``CheckSpec``."""
    return [CheckSpec(info.check_id, info.points) for role in layout for info in role.checks]
