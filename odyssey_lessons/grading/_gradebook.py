"""The output folder of ``odyssey grade``: per-student results, the gradebook and the feedback, written atomically.

Layout of ``OUT``:

- ``results/<name>.json``: one student's row (the unit ``--resume`` trusts: written last for a student, atomically);
- ``feedback/<name>.md`` and ``feedback/<name>.html``: what the student reads;
- ``gradebook.csv`` (``student,score,max_score,status,message`` then one column per check with the points earned)
  and ``gradebook.json`` (every row with every check's result, points, time and message), rewritten after each
  student.

Every file is written to a temporary name in its folder and renamed over the target, so an interrupted run leaves
either the old or the new complete file. Only the grader's process writes here; student code never runs in it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from odyssey_lessons.grading._feedback import render_html, render_markdown
from odyssey_lessons.grading._submissions import safe_name

FIXED_COLUMNS = ("student", "score", "max_score", "status", "message")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)  # short: the target's name may be long
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cell(text: str) -> str:
    """A CSV text cell a spreadsheet shows as text: one starting with ``= + - @``, a tab or a carriage return would be
    read as a formula (CSV injection), so it gets a leading apostrophe, as OWASP recommends. gradebook.json keeps
    the text as it is."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class Gradebook:
    """The rows of one grading run, kept in memory and mirrored to ``out`` after every change."""

    def __init__(self, out: Path, assignment: str, check_ids: Iterable[str]) -> None:
        self.out = Path(out)
        self.assignment = assignment
        self.check_ids = list(check_ids)
        self.rows: dict[str, dict] = {}
        for folder in (self.out, self.out / "results", self.out / "feedback"):  # leftovers of an interrupted write
            for stray in folder.glob(".*.tmp") if folder.is_dir() else ():
                stray.unlink(missing_ok=True)

    def result_path(self, student: str) -> Path:
        """Where one student's row is stored."""
        return self.out / "results" / f"{safe_name(student)}.json"

    def previous(self, student: str) -> dict | None:
        """The row stored by an earlier run, or None (missing or unreadable: it is graded again)."""
        try:
            row = json.loads(self.result_path(student).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return row if isinstance(row, dict) and row.get("student") == student else None

    def record(self, row: dict, *, write_result: bool = True) -> None:
        """Add a row: feedback first, then the result file, then the gradebook files."""
        name = safe_name(row["student"])
        self.rows[row["student"]] = row
        if write_result:
            write_atomic(self.out / "feedback" / f"{name}.md", render_markdown(row, self.assignment))
            write_atomic(self.out / "feedback" / f"{name}.html", render_html(row, self.assignment))
            write_atomic(self.result_path(row["student"]), json.dumps(row, indent=1, sort_keys=True) + "\n")
        self.write_tables()

    def write_tables(self) -> None:
        """Rewrite ``gradebook.csv`` and ``gradebook.json`` from the rows so far, sorted by student."""
        rows = [self.rows[k] for k in sorted(self.rows)]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*FIXED_COLUMNS, *self.check_ids])
        for row in rows:
            earned = {c["check_id"]: c["earned"] for c in row["checks"]}
            message = " | ".join(filter(None, [row.get("message", ""), *row.get("faults", [])]))
            fixed = [_cell(row["student"]), row["score"], row["max_score"], row["status"], _cell(message)]
            writer.writerow([*fixed, *(earned.get(k, 0) for k in self.check_ids)])
        write_atomic(self.out / "gradebook.csv", buffer.getvalue())
        document = {"assignment": self.assignment, "checks": self.check_ids, "students": rows}
        write_atomic(self.out / "gradebook.json", json.dumps(document, indent=1, sort_keys=True) + "\n")
