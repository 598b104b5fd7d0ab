"""The feedback a student reads: every visible check with its message, hidden checks as passed/failed only.

Rendered from a gradebook row (``_gradebook``), never from the notebook: a hidden check's source, expected output and
failure message are not in what is rendered here.
"""

from __future__ import annotations

import html

_STATUS_TEXT = {
    "graded": "graded",
    "memory": "graded; your code ran out of memory",
    "timeout": "graded; a cell ran too long and was interrupted",
    "crashed": "graded; your code crashed the Python kernel",
    "total_timeout": "stopped: the whole notebook ran longer than allowed",
    "error": "not graded: the grader could not run your notebook",
}


def _status_line(row: dict) -> str:
    status = row["status"]
    return _STATUS_TEXT.get(status, f"not graded ({status})")


def _check_lines(row: dict) -> list[tuple[str, str, str]]:
    """(verdict, title, message) per check; hidden checks get no message."""
    lines = []
    hidden_number = 0
    for check in row["checks"]:
        verdict = "PASS" if check["earned"] == check["points"] else "FAIL"
        points = f"{check['earned']}/{check['points']} points"
        if check["hidden"]:
            hidden_number += 1
            lines.append((verdict, f"hidden check {hidden_number} ({points})", ""))
        else:
            lines.append((verdict, f"{check['check_id']} ({points})", check["message"]))
    return lines


def _student_faults(row: dict) -> list[str]:
    return [fault for fault in row.get("faults", []) if "hidden" not in fault] + (
        ["a hidden check cell hung or crashed"] if any("hidden" in f for f in row.get("faults", [])) else []
    )


def render_markdown(row: dict, assignment: str) -> str:
    """Feedback as Markdown."""
    out = [f"# Feedback: {assignment}", "", f"Student: `{row['student']}`  ", f"Submission: `{row['file']}`", ""]
    out += [f"**Score: {row['score']}/{row['max_score']}** ({_status_line(row)})", ""]
    if row.get("message"):
        out += [f"> {row['message']}", ""]
    faults = _student_faults(row)
    if faults:
        out += ["## What went wrong", ""] + [f"- {fault}" for fault in faults] + [""]
    out += ["## Checks", ""]
    for verdict, title, message in _check_lines(row):
        out.append(f"- **{verdict}** {title}")
        out += [f"    - {line}" for line in message.split("\n") if line]
    return "\n".join(out) + "\n"


def render_html(row: dict, assignment: str) -> str:
    """Feedback as a self-contained HTML page (everything escaped)."""
    e = html.escape
    body = [f"<h1>Feedback: {e(assignment)}</h1>", f"<p>Student: <code>{e(row['student'])}</code><br>"]
    body += [f"Submission: <code>{e(row['file'])}</code></p>"]
    body += [f"<p><strong>Score: {row['score']}/{row['max_score']}</strong> ({e(_status_line(row))})</p>"]
    if row.get("message"):
        body.append(f"<blockquote>{e(row['message'])}</blockquote>")
    faults = _student_faults(row)
    if faults:
        body += ["<h2>What went wrong</h2>", "<ul>", *[f"<li>{e(f)}</li>" for f in faults], "</ul>"]
    body += ["<h2>Checks</h2>", "<ul>"]
    for verdict, title, message in _check_lines(row):
        colour = "green" if verdict == "PASS" else "firebrick"
        detail = f"<pre>{e(message)}</pre>" if message else ""
        body.append(f'<li><strong style="color:{colour}">{verdict}</strong> {e(title)}{detail}</li>')
    body.append("</ul>")
    head = f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>{e(assignment)}</title></head>'
    return head + "\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
