"""The cell conventions lesson authors write against: answer blocks, check cells and the check calls in them.

- An *answer block* is the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` (inclusive) in a code or markdown
  cell; the exercise replaces it by a stub at the indentation of the BEGIN line.
- A *check cell* is a code cell whose first line is ``# NBVAL_CHECK_OUTPUT`` and which calls
  ``check("id", test, points=N, hint="...")`` with a literal id and literal points (they are read from the source).
- A *hidden check cell* is a check cell with a ``# HIDDEN_CHECK`` comment line: ``odyssey assign`` keeps it only in
  the instructor's grading master (``instructor/NN_name.ipynb``), never in the exercise or the solution notebook.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from odyssey_lessons.grading._check import DETAIL_INDENT, fail_prefix, pass_line

CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
HIDDEN_MARKER = "# HIDDEN_CHECK"
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
CODE_STUB = 'raise NotImplementedError("Write your solution here")'
MARKDOWN_STUB = "YOUR ANSWER HERE"

_CHECK_CALL = re.compile(r"""\bcheck\(\s*(?P<quote>["'])(?P<check_id>[A-Za-z0-9_.-]+)(?P=quote)""")
_POINTS = re.compile(r"\bpoints\s*=\s*(?P<points>\d+)")


class CheckSpec(NamedTuple):
    """A ``check(...)`` call as read from a check cell's source."""

    check_id: str
    points: int


class CheckOutcome(NamedTuple):
    """What a check cell's printed output says about one check."""

    passed: bool
    message: str  # the hint and the exception line of a failure; "" when passed or when the check printed nothing


def is_check_cell(cell: Mapping[str, object]) -> bool:
    """True for a code cell whose first line is ``# NBVAL_CHECK_OUTPUT``."""
    source = str(cell.get("source", ""))
    return cell.get("cell_type") == "code" and source.split("\n", 1)[0].strip() == CHECK_MARKER


def is_hidden_check(cell: Mapping[str, object]) -> bool:
    """True for a check cell with a ``# HIDDEN_CHECK`` comment line."""
    return is_check_cell(cell) and any(line.strip() == HIDDEN_MARKER for line in str(cell["source"]).split("\n"))


def find_checks(source: str) -> list[CheckSpec]:
    """The ``check("id", ..., points=N, ...)`` calls in a cell's source, in order.

    Commented-out lines are ignored. ``points=`` is looked for between a call's id and the next call.

    Raises:
        ValueError: A call has no literal ``points=N``.
    """
    code = "\n".join(line for line in source.split("\n") if not line.lstrip().startswith("#"))
    calls = list(_CHECK_CALL.finditer(code))
    specs = []
    for number, call in enumerate(calls):
        stop = calls[number + 1].start() if number + 1 < len(calls) else len(code)
        points = _POINTS.search(code, call.end(), stop)
        if points is None:
            raise ValueError(f"check({call['check_id']!r}, ...) has no literal points=N argument")
        specs.append(CheckSpec(call["check_id"], int(points["points"])))
    return specs


def has_answer_block(source: str) -> bool:
    """True when the source contains a ``### BEGIN SOLUTION`` line."""
    return any(line.strip() == BEGIN_SOLUTION for line in source.split("\n"))


def stub_solutions(source: str, *, markdown: bool = False) -> str:
    """Replace every answer block by a stub indented like its ``### BEGIN SOLUTION`` line.

    Args:
        source: A cell's source.
        markdown: Stub with ``YOUR ANSWER HERE`` (a markdown cell) instead of
            ``raise NotImplementedError("Write your solution here")`` (a code cell).

    Returns:
        The source with each block, markers included, replaced by one stub line.

    Raises:
        ValueError: A block is nested, not closed, or an END marker has no BEGIN; the message names the line.
    """
    stub = MARKDOWN_STUB if markdown else CODE_STUB
    kept: list[str] = []
    opened_at: int | None = None
    for number, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if opened_at is not None:
                raise ValueError(f"line {number}: {BEGIN_SOLUTION!r} inside the block opened on line {opened_at}")
            opened_at = number
            kept.append(line[: len(line) - len(line.lstrip())] + stub)
        elif marker == END_SOLUTION:
            if opened_at is None:
                raise ValueError(f"line {number}: {END_SOLUTION!r} without a {BEGIN_SOLUTION!r} before it")
            opened_at = None
        elif opened_at is None:
            kept.append(line)
    if opened_at is not None:
        raise ValueError(f"line {opened_at}: {BEGIN_SOLUTION!r} is never closed by {END_SOLUTION!r}")
    return "\n".join(kept)


def read_outcome(printed: str, spec: CheckSpec) -> CheckOutcome:
    """Read one check's verdict from the text a check cell printed.

    Passed means the exact line ``[PASS] {id} ({points}/{points} points)`` is there. A failure's message is the hint
    of its ``[FAIL]`` line, then the exception line below it.
    """
    lines = printed.split("\n")
    if pass_line(*spec) in lines:
        return CheckOutcome(True, "")
    prefix = fail_prefix(spec.check_id)
    for index, line in enumerate(lines):
        if line.startswith(prefix):
            message = line.split("): ", 1)[1] if "): " in line else line
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if following.startswith(DETAIL_INDENT):
                message += "\n" + following.strip()
            return CheckOutcome(False, message)
    return CheckOutcome(False, "")
