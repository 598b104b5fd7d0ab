"""A pytest plugin loaded into the grader's nbval run: it records every notebook cell's verdict and printed text.

The grading engine runs ``python -m pytest -p odyssey_lessons.grading._nbval_report --odyssey-report=PATH ...`` in a
subprocess. Each cell's entry is appended to PATH as one JSON line as soon as the cell has run, so a run killed by the
total timeout still reports the cells before it. Items are nbval cells; ``cell`` is nbval's ``cell_num``, the index of
the cell among the notebook's *code* cells. ``status`` is one of:

- ``passed``: the cell ran and its output matched (or was not compared);
- ``mismatch``: the cell ran but its output differs from the expected output;
- ``error``: the cell raised;
- ``timeout``: the cell hit ``--nbval-cell-timeout``;
- ``crashed``: the kernel died while the cell ran (``os._exit``, a segfault, the memory limit);
- ``not_run``: the kernel was already dead, or did not start (``detail`` says which).

This process runs outside the student's sandbox, so the student's code cannot write the report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from queue import Empty

import pytest

POLL_SECONDS = 0.25


class KernelDiedError(RuntimeError):
    """The kernel process exited while a cell was running."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--odyssey-report", metavar="PATH", help="append each nbval cell's outcome to PATH (JSON lines)")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("odyssey_report")
    if path:
        config.pluginmanager.register(_Recorder(Path(path)), "odyssey-report-recorder")


def _watch_for_death(kernel: object) -> None:
    """Make nbval's wait for a cell's reply notice a dead kernel at once instead of after the whole cell timeout.

    nbval blocks on the shell channel for up to the cell timeout; a kernel killed by ``os._exit`` or a segfault never
    replies. The wait is split into short slices and the kernel process is polled between them. This wraps the
    method of this one kernel object; nbval's class is left alone.
    """
    if getattr(kernel, "_odyssey_watched", False) or not hasattr(kernel, "await_reply"):
        return
    original = kernel.await_reply

    def await_reply(msg_id: str, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - time.monotonic())
            try:
                return original(msg_id, timeout=max(left, 0.001))
            except Empty:
                if not kernel.is_alive():
                    raise KernelDiedError("the kernel died while the cell was running") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    kernel.await_reply = await_reply
    kernel._odyssey_watched = True


def _status(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[str, str]:
    if report.passed:
        return "passed", ""
    if report.skipped:
        return "not_run", "skipped"
    exc = call.excinfo.value if call.excinfo is not None else None
    detail = str(exc).split("\n", 1)[0] if exc is not None else report.outcome
    if isinstance(exc, KernelDiedError):
        return "crashed", detail
    if call.when != "call" or detail.startswith("Kernel dead on test start"):
        return "not_run", detail
    if detail.startswith("Timeout of"):
        return "timeout", detail
    if detail.startswith("Cell outputs differ"):
        return "mismatch", detail
    return "error", detail


MAX_PRINTED = 64 * 1024  # characters of a cell's printed text that reach the grader
MAX_ERROR = 4096  # characters of one error line (``Name: message``) that reach the grader


def clip_text(text: str, limit: int = MAX_PRINTED) -> str:
    """``text`` if it has at most ``limit`` characters, else its first and last ``limit / 2`` or so, cut at line ends
    with a marker line between: a submission that prints a gigabyte cannot grow the grader's memory or the report.

    Only whole lines of ``text`` are kept, so the cut cannot join two fragments into a line that was never printed
    (a ``[PASS]`` line, say). The marker line names how much was cut.
    """
    if len(text) <= limit:
        return text
    head_end = text.rfind("\n", 0, limit // 2) + 1
    tail_start = text.find("\n", len(text) - limit // 2)
    tail_start = len(text) if tail_start < 0 else tail_start + 1
    return f"{text[:head_end]}[... {tail_start - head_end} characters not kept ...]\n{text[tail_start:]}"


class _Recorder:
    """Appends one JSON line per nbval cell to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started: dict[int, float] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        kernel = getattr(getattr(item, "parent", None), "kernel", None)
        if kernel is not None:
            _watch_for_death(kernel)
        cell_num = getattr(item, "cell_num", None)
        if cell_num is not None:
            self.started[cell_num] = time.monotonic()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):  # -> pytest.TestReport
        report = yield
        cell_num = getattr(item, "cell_num", None)
        final = call.when == "call" or (call.when == "setup" and not report.passed)
        if cell_num is None or not final:
            return report
        status, detail = _status(report, call)
        outputs = getattr(item, "test_outputs", None) or []
        entry = {
            "cell": cell_num,
            "status": status,
            "detail": detail,
            "seconds": round(call.duration, 3) if call.when == "call" else 0.0,
            "printed": clip_text("".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")),
            "errors": [
                f"{out.get('ename', '')}: {out.get('evalue', '')}"[:MAX_ERROR]
                for out in outputs
                if out.get("output_type") == "error"
            ],
        }
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry) + "\n")
        return report
