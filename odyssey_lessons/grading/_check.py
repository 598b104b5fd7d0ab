"""The ``check`` call that every check cell makes, and the exact lines it prints.

A check is a test function of one argument, the learner's answers (``_answers.Answers``): it calls them with inputs
it chooses and gets back plain data compared with a reference. In the notebook the reference is the check's
``oracles``; under ``odyssey grade`` the grader runs the check cell in its own process with :data:`SESSION` set, so
the same test function calls the learner's code in a sandboxed kernel and the solution in another, and the verdict
is recorded in the session instead of printed. The check's code and its expected values never enter the learner's
kernel.

A check cell's printed lines are its *expected output*: ``odyssey assign`` records them from the worked solution and
nbval compares a learner's run against them. So everything printed here must be deterministic: no timings, no
addresses, no tracebacks (their file paths differ between machines).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from odyssey_lessons._validate import check_positive_int
from odyssey_lessons.grading._answers import Answers, Comparison, KernelFault, LocalSide, Side, SolutionFault, exact

CHECK_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
MAX_MESSAGE_CHARS = 300
DETAIL_INDENT = "    "


def pass_line(check_id: str, points: int) -> str:
    """The line ``check`` prints when the test passes: ``[PASS] {check_id} ({points}/{points} points)``."""
    return f"[PASS] {check_id} ({points}/{points} points)"


def fail_line(check_id: str, points: int, hint: str) -> str:
    """The first line ``check`` prints when the test fails: ``[FAIL] {check_id} (0/{points} points): {hint}``."""
    return f"[FAIL] {check_id} (0/{points} points): {hint}"


def fail_prefix(check_id: str) -> str:
    """What every failure line of ``check_id`` starts with, whatever its points and hint."""
    return f"[FAIL] {check_id} ("


def describe_exception(exc: BaseException) -> str:
    """One deterministic line naming the exception: ``{DETAIL_INDENT}{Type}: {message}``.

    Whitespace runs (numpy's multi-line assertion messages) collapse to single spaces and the message is cut to
    :data:`MAX_MESSAGE_CHARS` characters so the line stays one readable line. An empty message prints the type alone,
    as Python's own traceback does.
    """
    message = " ".join(str(exc).split())
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 3] + "..."
    name = type(exc).__name__
    return f"{DETAIL_INDENT}{name}: {message}" if message else f"{DETAIL_INDENT}{name}"


def validate_check_id(check_id: object) -> str:
    """Return ``check_id`` if it is a non-empty string of letters, digits, ``_``, ``.`` and ``-``.

    Raises:
        TypeError: ``check_id`` is not a string.
        ValueError: ``check_id`` is empty or has another character.
    """
    if not isinstance(check_id, str):
        raise TypeError(f"check_id must be a str, got {check_id=} of type {type(check_id).__name__}")
    if not CHECK_ID_PATTERN.fullmatch(check_id):
        raise ValueError(f"check_id must be non-empty and match {CHECK_ID_PATTERN.pattern}, got {check_id=}")
    return check_id


@dataclass
class Session:
    """The grader's side of a run: where calls go, and the verdicts of the checks run so far (by check id)."""

    student: Side
    reference: Side
    verdicts: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (status, message)


SESSION: ContextVar[Session | None] = ContextVar("odyssey_grading_session", default=None)


def _validate(check_id: object, test: object, points: object, hint: object, oracles: object, compare: object) -> None:
    validate_check_id(check_id)
    if not callable(test):
        raise TypeError(f"test must be a callable taking the learner's answers, got {test=}")
    check_positive_int("points", points)
    if not isinstance(hint, str):
        raise TypeError(f"hint must be a str, got {hint=} of type {type(hint).__name__}")
    if not hint.strip() or "\n" in hint or "\r" in hint:
        raise ValueError(f"hint must be one non-empty line, got {hint=}")
    if not isinstance(oracles, Mapping) or not all(isinstance(k, str) and callable(v) for k, v in oracles.items()):
        raise TypeError(f"oracles must map names to callables, got {oracles=}")
    if not isinstance(compare, Comparison):
        raise TypeError(f"compare must be exact() or close(...), got {compare=}")


def check(
    check_id: str,
    test: Callable[[Answers], object],
    *,
    points: int,
    hint: str,
    oracles: Mapping[str, Callable[..., Any]],
    compare: Comparison | None = None,
) -> bool:
    """Run one graded test and print its verdict as exactly the lines nbval compares.

    ``test(answers)`` calls the learner's functions through ``answers`` (``answers.f(x)`` calls the learner's ``f``
    and the reference ``f`` with the same ``x`` and compares). On success prints
    ``[PASS] {check_id} ({points}/{points} points)``; when ``test`` raises any ``Exception``, prints
    ``[FAIL] {check_id} (0/{points} points): {hint}`` and then ``    {ExceptionType}: {message}``. The exception never
    propagates, so one failing check does not stop the notebook; ``KeyboardInterrupt`` still does. Under
    ``odyssey grade`` nothing is printed: the grader records the verdict.

    Args:
        check_id: Stable name of the check, e.g. ``"formats.bf16_max"``; letters, digits, ``_``, ``.`` and ``-``.
        test: Called with the learner's answers; it passes by returning and fails by raising.
        points: What the check is worth, a positive int.
        hint: One line telling the learner what to look at when the check fails.
        oracles: Name -> the reference for that name in the learner's notebook (package code with the same
            signature as the learner's function or class). The grader uses the worked solution instead.
        compare: How results must match the reference (default :func:`exact`).

    Returns:
        True when the test passed. (As a cell's last expression this also displays ``True``/``False``; that is
        deterministic, so it is part of the expected output like the printed lines.)

    Raises:
        TypeError: An argument has the wrong type (``test`` not callable, ``points`` not an int, ...).
        ValueError: ``check_id`` is malformed, ``points`` is not positive or ``hint`` is empty or multi-line.
    """
    compare = exact() if compare is None else compare
    _validate(check_id, test, points, hint, oracles, compare)
    session = SESSION.get()
    if session is None:
        student: Side = LocalSide(sys._getframe(1).f_globals)
        reference: Side = LocalSide(oracles)
    else:
        student, reference = session.student, session.reference
    answers = Answers(student, reference, compare)
    status, message = "passed", ""
    try:
        test(answers)
    except KernelFault as fault:
        status, message = fault.status, str(fault)
    except SolutionFault as fault:  # the grading setup failed, not the learner: the row says so
        status, message = "error", str(fault)
    except Exception as exc:  # a check reports every failure of the learner's code; it never raises
        status, message = "failed", describe_exception(exc).strip()
    if session is None:
        answers.reset()
    elif status not in ("timeout", "crashed", "error"):
        try:
            answers.reset()
        except KernelFault as fault:
            status, message = fault.status, str(fault)
        except SolutionFault as fault:
            status, message = "error", str(fault)
    if session is not None:
        session.verdicts[check_id] = (status, message if status == "passed" else f"{hint}\n{message}")
        return status == "passed"
    if status == "passed":
        print(pass_line(check_id, points))
        return True
    print(fail_line(check_id, points, hint))
    print(describe_exception(AssertionError(message)) if status != "failed" else DETAIL_INDENT + message)
    return False
