"""Submission names: exactly one row and one feedback file per submitted file, whatever its name."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import nbformat

from odyssey_lessons.grading._gradebook import Gradebook
from odyssey_lessons.grading._submissions import collect, safe_name

ODD = "Zoë O'Brien"


def _row(student: str, file: str) -> dict:
    row = {"student": student, "file": file, "sha256": "", "status": "missing", "message": "=HYPERLINK(1)"}
    return {**row, "score": 0, "max_score": 1, "checks": [], "faults": [], "cell_errors": [], "runs": 0}


def test_every_submitted_file_gets_its_own_row_and_files(tmp_path: Path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    notebook = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]))
    names = [
        "a" * 240,  # longer than a file name may be once a prefix and a suffix are added
        ODD,
        safe_name(ODD),  # a student literally named like another's safe form
        ".alice",  # hidden by a shell, still a submission
        "=cmd|' -C calc'!A0",  # a spreadsheet formula
        "+1",
        "bob",
        "Bob",
    ]
    for name in names:
        (folder / f"{name}.ipynb").write_text(notebook, encoding="utf-8")
    raw = [b"caf\xe9.ipynb", b"caf\xe8.ipynb"]  # two names that are not UTF-8 and differ only in that byte
    for name in raw:
        with open(os.path.join(os.fsencode(folder), name), "w", encoding="utf-8") as file:
            file.write(notebook)
    (folder / ".DS_Store").write_bytes(b"\0")  # junk that archivers and file systems leave: no row
    (folder / "__MACOSX").mkdir()
    (folder / "__MACOSX" / "._bob.ipynb").write_bytes(b"\0")
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "bob-checkpoint.ipynb").write_text(notebook, encoding="utf-8")

    jobs = collect(folder, "01_number_formats")
    assert len(jobs) == len(names) + len(raw)
    assert all(job.problem == "" for job in jobs), [(j.student, j.problem) for j in jobs]
    students = [job.student for job in jobs]
    assert len(set(students)) == len(students)
    assert {n for n in names} <= set(students)
    safe = [safe_name(s) for s in students]
    assert len(set(safe)) == len(safe)  # bob and Bob too (distinct on a case-sensitive file system only)
    assert max(len(s) for s in safe) <= 69

    out = tmp_path / "out"
    book = Gradebook(out, "01_number_formats", [])
    for job in jobs:
        book.record(_row(job.student, job.file))
    assert len(list((out / "feedback").glob("*.md"))) == len(jobs)
    assert len(list((out / "results").glob("*.json"))) == len(jobs)
    with open(out / "gradebook.csv", encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))[1:]
    assert len(rows) == len(jobs)
    for student, _, _, _, message in rows:
        assert student[:1] not in "=+-@" and message == "'=HYPERLINK(1)"
    assert "'=cmd|' -C calc'!A0" in {r[0] for r in rows} and "'+1" in {r[0] for r in rows}


def test_printed_text_reaching_the_grader_is_bounded_and_cut_at_line_ends():
    from odyssey_lessons.grading._kernel import MAX_PRINTED, clip_text

    assert clip_text("short\n") == "short\n"
    line = "[PASS] a (1/1 points)"
    text = line + "\n" + "x" * 10_000_000 + line + "junk\n" + "y" * 300 + "\n" + line + "\n"
    clipped = clip_text(text)
    assert len(clipped) <= MAX_PRINTED + 100
    lines = clipped.split("\n")
    assert lines[0] == line and lines[-2] == line and "characters not kept" in clipped
    assert set(lines) <= set(text.split("\n")) | {next(x for x in lines if "not kept" in x)}  # no line made up


def test_a_submission_printing_megabytes_reaches_the_grader_clipped(tmp_path: Path):
    from odyssey_lessons.grading._jail import kernel_env
    from odyssey_lessons.grading._kernel import MAX_PRINTED, Kernel, plain_spec

    code = "print('z' * 100, end='')\nfor _ in range(200_000): print('w' * 40)\nprint('end')"
    with Kernel(plain_spec(), cwd=tmp_path, env=kernel_env(tmp_path)) as kernel:
        printed = kernel.execute(code, timeout=120).printed
    assert len(printed) <= MAX_PRINTED + 100 and printed.endswith("end\n") and "not kept" in printed
