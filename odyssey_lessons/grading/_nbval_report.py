"""A pytest plugin the self-check loads into its nbval run: it records every notebook cell's verdict and printed text.

``odyssey check`` runs ``python -m pytest -p odyssey_lessons.grading._nbval_report --odyssey-report=PATH ...`` in a
subprocess and reads PATH afterwards. Items are nbval cells; ``cell`` is nbval's ``cell_num``, the index of the cell
among the notebook's *code* cells.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

_SEVERITY = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--odyssey-report", metavar="PATH", help="write each nbval cell's outcome and output to PATH")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("odyssey_report")
    if path:
        config.pluginmanager.register(_Recorder(Path(path)), "odyssey-report-recorder")


class _Recorder:
    """Collects one entry per nbval cell and writes them as a JSON list when the session ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cells: dict[int, dict[str, object]] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):  # -> pytest.TestReport
        report = yield
        cell_num = getattr(item, "cell_num", None)
        if cell_num is None:
            return report
        entry = self.cells.setdefault(cell_num, {"cell": cell_num, "outcome": "passed", "printed": "", "errors": []})
        outcome = "error" if report.failed and call.when != "call" else report.outcome
        if _SEVERITY[outcome] > _SEVERITY[str(entry["outcome"])]:
            entry["outcome"] = outcome
            if call.excinfo is not None:
                entry["detail"] = str(call.excinfo.value).split("\n", 1)[0]
        outputs = getattr(item, "test_outputs", None) or []
        if call.when == "call":
            entry["printed"] = "".join(out.get("text", "") for out in outputs if out.get("output_type") == "stream")
            entry["errors"] = [
                f"{out.get('ename', '')}: {out.get('evalue', '')}"
                for out in outputs
                if out.get("output_type") == "error"
            ]
        return report

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.path.write_text(json.dumps([self.cells[k] for k in sorted(self.cells)], indent=1), encoding="utf-8")
