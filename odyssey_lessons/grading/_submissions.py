"""Find the students' notebooks in a submissions folder and turn each one into a grading job, bad input included.

``SUBMISSIONS/<student>.ipynb`` or ``SUBMISSIONS/<student>/<anything>.ipynb``; the student is the file or folder name.
Nothing here raises for a bad submission: each becomes a :class:`Job` whose ``problem`` is a status such as
``missing`` or ``duplicate``, and content problems (``invalid_json``, ``not_notebook`` ...) are found by
:func:`parse_notebook` in the worker.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

MAX_BYTES = 50 * 1024 * 1024
# What archivers, file systems and Jupyter leave beside submissions: never a student. Anything else gets a row, a
# name starting with a dot included (".alice.ipynb" is alice's notebook, hidden by her shell, not junk).
_JUNK = frozenset({".DS_Store", ".git", ".ipynb_checkpoints", ".Trashes", ".Spotlight-V100", ".fseventsd", "Thumbs.db"})
_JUNK_FOLDERS = frozenset({"__MACOSX", "__pycache__"})
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_HASHED = re.compile(r"-[0-9a-f]{8}$")  # the suffix safe_name adds
_MAX_SAFE = 60  # characters of a safe name before its hash suffix: far below any file system's 255-byte limit


@dataclass(frozen=True)
class Job:
    """One student's submission, ready to send to a worker (plain data, picklable)."""

    student: str
    file: str  # relative to the submissions folder; "" when there is none
    data: bytes | None
    problem: str = ""  # a status when the submission cannot be graded at all
    message: str = ""

    @property
    def sha256(self) -> str:
        """Hash of the submitted bytes ("" when there are none)."""
        return hashlib.sha256(self.data).hexdigest() if self.data is not None else ""


def _digest(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def safe_name(student: str) -> str:
    """A file name for ``student``, distinct for distinct students: letters, digits, ``._-``, at most 69 characters.

    A name that is already safe, short and not shaped like a hashed name stays as it is; any other gets its cleaned
    first 60 characters plus ``-`` and 8 hex digits of its SHA-1. So "Zoë O'Brien" and a student literally named
    like its safe form get two files, and a 240-character name does not overflow a file name.
    """
    cleaned = _SAFE.sub("_", student).strip("._-") or "student"
    if cleaned == student and len(student) <= _MAX_SAFE and not _HASHED.search(student):
        return student
    return f"{cleaned[:_MAX_SAFE]}-{_digest(student)}"


def _printable(name: str) -> str:
    """A file name as text, one per name: bytes that are not UTF-8 (kept by Python as surrogates) become U+FFFD, and
    then a hash of the original bytes tells apart two names that differ only there."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text if text == name else f"{text} [{_digest(name)}]"


def _ignored(path: Path) -> bool:
    parts = path.parts
    return (
        path.name in _JUNK
        or path.name.startswith("._")  # macOS resource forks
        or any(p in _JUNK_FOLDERS or p == ".ipynb_checkpoints" for p in parts)
    )


def _read(path: Path, root: Path) -> tuple[bytes | None, str, str]:
    relative = str(path.relative_to(root))
    if path.is_symlink():
        return None, "not_notebook", f"{relative} is a symbolic link; submit the notebook file itself"
    size = path.stat().st_size
    if size > MAX_BYTES:
        return None, "too_large", f"{relative} has {size} bytes, more than the {MAX_BYTES} allowed"
    return path.read_bytes(), "", ""


def collect(submissions: Path, assignment: str) -> list[Job]:
    """One job per student found in ``submissions``, sorted by student.

    Raises:
        FileNotFoundError: ``submissions`` is not a folder.
    """
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise FileNotFoundError(f"submissions must be a folder of notebooks, got {str(submissions)!r}")
    found: dict[str, list[Job]] = {}
    for entry in sorted(submissions.iterdir()):
        if _ignored(entry):
            continue
        if entry.is_dir() and not entry.is_symlink():
            notebooks = sorted(p for p in entry.rglob("*.ipynb") if not _ignored(p.relative_to(submissions)))
            if len(notebooks) > 1:
                named = [p for p in notebooks if p.stem == assignment]
                notebooks = named if len(named) == 1 else notebooks
            if not notebooks:
                job = Job(entry.name, entry.name + "/", None, "missing", f"the folder {entry.name}/ has no .ipynb")
            elif len(notebooks) > 1:
                listed = ", ".join(str(p.relative_to(submissions)) for p in notebooks)
                job = Job(entry.name, entry.name + "/", None, "ambiguous", f"several notebooks: {listed}")
            else:
                data, problem, message = _read(notebooks[0], submissions)
                job = Job(entry.name, str(notebooks[0].relative_to(submissions)), data, problem, message)
        elif entry.suffix == ".ipynb":
            data, problem, message = _read(entry, submissions)
            job = Job(entry.stem, entry.name, data, problem, message)
        else:
            message = f"{entry.name} is not a .ipynb notebook"
            job = Job(entry.stem or entry.name, entry.name, None, "not_notebook", message)
        job = replace(job, student=_printable(job.student), file=_printable(job.file))
        found.setdefault(job.student, []).append(job)
    jobs = []
    for student, candidates in sorted(found.items()):
        notebooks = [job for job in candidates if job.problem != "not_notebook"] or candidates
        if len(notebooks) > 1:
            listed = ", ".join(job.file for job in notebooks)
            jobs.append(Job(student, listed, None, "duplicate", f"more than one submission for {student!r}: {listed}"))
        else:
            jobs.append(notebooks[0])
    return jobs


def parse_notebook(data: bytes):  # -> tuple[NotebookNode | None, str, str]
    """Read submitted bytes as a v4 notebook: ``(nb, "", note)`` or ``(None, status, message)``.

    Statuses: ``empty_file``, ``invalid_json``, ``not_notebook``, ``unsupported_nbformat``, ``invalid_notebook``,
    ``empty_notebook``. nbformat 3 notebooks are converted (``note`` says so); cells are matched without ids then.
    """
    import nbformat

    if not data.strip():
        return None, "empty_file", "the file is empty"
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, "invalid_json", f"the file is not valid JSON: {exc}"
    if not isinstance(raw, dict) or "nbformat" not in raw or not ({"cells", "worksheets"} & set(raw)):
        return None, "not_notebook", "the file is JSON but not a Jupyter notebook"
    major = raw.get("nbformat")
    if not isinstance(major, int) or not 3 <= major <= 4:
        return None, "unsupported_nbformat", f"nbformat {major!r} is not supported (3 and 4 are)"
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as exc:  # nbformat raises many types for damaged notebooks; any of them is a bad submission
        return None, "invalid_notebook", f"the notebook cannot be read: {type(exc).__name__}: {exc}"
    if not nb.cells:
        return None, "empty_notebook", "the notebook has no cells"
    note = f"converted from nbformat {major}" if major < 4 else ""
    return nb, "", note
