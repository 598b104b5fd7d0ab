"""The grading master and the student's answer cells matched to it.

- :class:`Master` reads a grading master (``instructor/NN.ipynb``, or ``solutions/NN.ipynb`` when the assignment has
  no hidden checks): its answer cells (the cells with ``### BEGIN SOLUTION`` blocks) are stubbed, its check cells keep
  their expected outputs.
- :func:`match_answers` picks the student's source for each answer cell: the student cell with the same cell id, else
  (an old notebook without ids, a cell re-created by copy and paste) the first unclaimed student cell of the same type
  whose first line equals the master cell's first line. Everything else the student changed -- check cells, expected
  outputs, added or deleted cells, metadata -- is ignored; a missing answer keeps the master's stub.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass

from nbformat import NotebookNode

from odyssey_lessons.grading._cells import (
    find_checks,
    has_answer_block,
    is_check_cell,
    is_hidden_check,
    stub_solutions,
)


@dataclass(frozen=True)
class CheckInfo:
    """One ``check(...)`` call of the master."""

    check_id: str
    points: int
    hidden: bool
    cell: int  # index of its cell in the master


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
