"""Small HTML tables for notebooks (pandas is not a dependency of this course)."""

from __future__ import annotations

import html

from IPython.display import HTML


def html_table(headers: list[str], rows: list[list[object]]) -> HTML:
    """An HTML table with right-aligned cells; cell values are shown with ``str`` and escaped."""
    head = "".join(f"<th style='text-align:right'>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:right'>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return HTML(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def readout_table(rows: list[tuple[str, str]]) -> str:
    """A widget's readout: one row per ``(label, value)``, the label escaped, the value (trusted HTML) in bold."""
    body = "".join(f"<tr><td>{html.escape(k)}</td><td><b>{v}</b></td></tr>" for k, v in rows)
    return f"<table class='odyssey-readout-table'>{body}</table>"
