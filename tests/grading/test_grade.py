"""``odyssey grade``: the corpus in ``tests/grading/grade_corpus`` graded against the master of its tiny assignment.

One module-scoped run grades the whole corpus with ``jobs=2``; a serial run, a Dask run and a resumed run of a subset
must give the same rows. Expected grades come from ``tests/grading/grade_corpus/cases.py`` (which checks must pass,
and the status); points come from the master itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from odyssey_lessons import cli
from odyssey_lessons.grading import Limits, assign, grade
from odyssey_lessons.grading._jail import isolation_level
from odyssey_lessons.grading._master import Master, match_answers
from odyssey_lessons.grading._score import plan
from odyssey_lessons.grading._submissions import safe_name
from tests.grading.grade_corpus.cases import ALL, ANSWER_CASES, DOUBLE, NORM, RAW_CASES
from tests.oracles import require

CORPUS = Path(__file__).parent / "grade_corpus"
NAME = "97_grademe"
LIMITS = Limits(cell_timeout=3.0, total_timeout=120.0, memory_mb=2048)
SUBSET = ("correct", "partial", "exits", "broken_json")
DASK_SUBSET = ("correct", "partial", "broken_json")
ODD = "Zoë O'Brien (late)"
pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("grade")]


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grade") / "course"
    shutil.copytree(CORPUS / "course", root)
    assign(root, progress=False)
    return root


@pytest.fixture(scope="module")
def master(course: Path) -> Master:
    return Master.from_notebook(nbformat.read(course / "instructor" / f"{NAME}.ipynb", as_version=4), NAME)


def _paths(course: Path, submissions: Path, out: Path) -> dict[str, str]:
    return {
        "master": str(course / "instructor" / f"{NAME}.ipynb"),
        "solution_source": str(course / "solutions" / f"{NAME}.py"),
        "out": str(out),
        "submissions": str(submissions),
    }


def _submission(exercise: nbformat.NotebookNode, case: dict, paths: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(json.loads(json.dumps(exercise)))
    for cell in nb.cells:
        if cell.id in case["answers"]:
            cell.source = case["answers"][cell.id]
            for key, value in paths.items():
                cell.source = cell.source.replace(f"{{{key}!r}}", repr(value))
        cell.source = case.get("check_sources", {}).get(cell.id, cell.source)
        if case.get("drop_outputs") and cell.cell_type == "code":
            cell.outputs = []
    nb.cells = [cell for cell in nb.cells if cell.id not in case.get("delete", ())]
    for cell in nb.cells:
        cell.id = case.get("new_ids", {}).get(cell.id, cell.id)
    nb.cells += [nbformat.v4.new_code_cell(source) for source in case.get("extra_cells", [])]
    return nb


def _write_corpus(course: Path, folder: Path, out: Path, names: tuple[str, ...] | None = None) -> None:
    folder.mkdir(parents=True)
    exercise = nbformat.read(course / "exercises" / f"{NAME}.ipynb", as_version=4)
    paths = _paths(course, folder, out)
    for name, case in ANSWER_CASES.items():
        if names is None or name in names:
            nbformat.write(_submission(exercise, case, paths), folder / f"{name}.ipynb")
    for file in RAW_CASES:
        if names is None or Path(file).stem in names:
            shutil.copy(CORPUS / "raw" / f"{file}.raw", folder / file)


@pytest.fixture(scope="module")
def corpus(course: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The submissions folder (cases.py, raw/, and the file-system cases built here) and its output folder."""
    base = tmp_path_factory.mktemp("corpus")
    folder, out = base / "submissions", base / "out"
    _write_corpus(course, folder, out)
    correct = folder / "correct.ipynb"
    shutil.copy(correct, folder / f"{ODD}.ipynb")  # odd file name
    shutil.copy(CORPUS / "raw" / "broken_json.ipynb.raw", folder / "-rf.ipynb")
    (folder / "carol").mkdir()  # a folder without a notebook
    (folder / "carol" / "notes.txt").write_text("forgot to upload", encoding="utf-8")
    shutil.copy(correct, folder / "dave.ipynb")  # the same student twice
    (folder / "dave").mkdir()
    shutil.copy(correct, folder / "dave" / "homework.ipynb")
    (folder / "erin").mkdir()  # a folder: the notebook named like the assignment wins
    shutil.copy(correct, folder / "erin" / f"{NAME}.ipynb")
    shutil.copy(folder / "untouched.ipynb", folder / "erin" / "scratch.ipynb")
    nbformat.write(nbformat.convert(nbformat.read(correct, as_version=4), 3), folder / "old_v3.ipynb")
    (folder / "sneaky.ipynb").symlink_to(course / "instructor" / f"{NAME}.ipynb")  # would be full marks if followed
    text = correct.read_text(encoding="utf-8")  # benign variants of the correct submission: full marks each
    (folder / "crlf.ipynb").write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    (folder / "bom.ipynb").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    noisy = nbformat.read(correct, as_version=4)
    noisy.cells.reverse()  # cells in another order: answers are matched by cell id
    noisy.metadata.update(widgets={"state": {}}, kernelspec={"name": "python3", "display_name": "X"}, x={"y": [1]})
    for number, cell in enumerate(noisy.cells):
        cell.metadata.update(tags=["mine"], collapsed=True, scrolled=False, noise=number)
        if cell.cell_type == "code":
            cell.execution_count = 100 + number
            cell.outputs = [nbformat.v4.new_output("stream", text=f"old output {number}\n")]
    nbformat.write(noisy, folder / "reordered_noisy.ipynb")
    return folder, out


@pytest.fixture(scope="module")
def graded(course: Path, corpus: tuple[Path, Path]) -> dict[str, dict]:
    folder, out = corpus
    summary = grade(folder, assignment=NAME, out=out, root=course, jobs=2, limits=LIMITS, progress=False)
    assert summary.graded_now == len(summary.rows) and summary.skipped == 0
    return {row["student"]: row for row in summary.rows}


def _essence(row: dict) -> tuple:
    """A row without timings and run counts: what must not depend on how it was graded."""
    checks = [(c["check_id"], c["earned"], c["status"], c["message"]) for c in row["checks"]]
    return row["status"], row["score"], row["max_score"], row["message"], tuple(row["faults"]), tuple(checks)


def _passed(row: dict) -> set[str]:
    return {c["check_id"] for c in row["checks"] if c["earned"] == c["points"]}


# --- the corpus ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("student", sorted(ANSWER_CASES))
def test_answer_cases_get_their_expected_grade(graded: dict[str, dict], master: Master, student: str) -> None:
    case, row = ANSWER_CASES[student], graded[student]
    passes = set(case["passes"])
    if student == "snoop" and "bwrap(" not in isolation_level():
        pytest.skip(f"the file-system sandbox needs root and bubblewrap; isolation here is {isolation_level()}")
    assert (row["status"], _passed(row)) == (case["status"], passes), row
    points = {info.check_id: info.points for info in master.checks}
    assert row["score"] == sum(points[c] for c in passes) and row["max_score"] == master.max_score
    if "fault" in case:
        assert any(case["fault"] in fault for fault in row["faults"]), row["faults"]


@pytest.mark.parametrize(("file", "status"), sorted(RAW_CASES.items()))
def test_malformed_files_get_a_row_with_a_clear_status(graded: dict[str, dict], file: str, status: str) -> None:
    row = graded[Path(file).stem]
    assert (row["status"], row["score"]) == (status, 0) and row["message"]


def test_file_system_cases(graded: dict[str, dict], master: Master, corpus: tuple[Path, Path]) -> None:
    assert _essence(graded[ODD])[:2] == ("graded", master.max_score)
    assert graded["-rf"]["status"] == "invalid_json"
    assert graded["carol"]["status"] == "missing"
    assert graded["dave"]["status"] == "duplicate" and "dave/homework.ipynb" in graded["dave"]["message"]
    assert (graded["erin"]["file"], graded["erin"]["score"]) == (f"erin/{NAME}.ipynb", master.max_score)
    assert (graded["old_v3"]["status"], _passed(graded["old_v3"])) == ("graded", set(ALL))
    assert "nbformat 3" in graded["old_v3"]["message"]
    assert graded["sneaky"]["status"] == "not_notebook" and "symbolic link" in graded["sneaky"]["message"]
    for benign in ("crlf", "bom", "reordered_noisy"):
        assert (graded[benign]["status"], _passed(graded[benign])) == ("graded", set(ALL)), benign


def test_no_process_or_cgroup_of_a_submission_survives_the_batch(graded: dict[str, dict]) -> None:
    """Every kernel of the batch ran in a cgroup named after this process (``odyssey-PID-...``): afterwards no process
    is in one, and none is left."""
    if "cgroup-" not in isolation_level():
        pytest.skip(f"needs cgroups (root); isolation here is {isolation_level()}")
    assert any("cgroup-" in row.get("isolation", "") for row in graded.values())
    mine = f"/odyssey-{os.getpid()}-"
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if mine in Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8"):
                left.append(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
    assert not left
    assert not [p for p in Path("/sys/fs/cgroup").glob(f"*/**/odyssey-{os.getpid()}-*") if p.is_dir()]


def test_gradebook_files(graded: dict[str, dict], master: Master, corpus: tuple[Path, Path]) -> None:
    out = corpus[1]
    lines = (out / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    check_ids = [info.check_id for info in master.checks]
    assert lines[0].split(",") == ["student", "score", "max_score", "status", "message", *check_ids]
    assert len(lines) == 1 + len(graded)
    document = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))
    assert {row["student"] for row in document["students"]} == set(graded)
    for row in document["students"]:
        assert row["score"] == sum(c["earned"] for c in row["checks"])
        assert all({"check_id", "points", "earned", "seconds", "message", "status"} <= set(c) for c in row["checks"])
        assert json.loads((out / "results" / f"{safe_name(row['student'])}.json").read_text()) == row
    assert not (out / "pwned.txt").exists()


def test_feedback_shows_visible_checks_and_hides_hidden_ones(
    graded: dict[str, dict], corpus: tuple[Path, Path]
) -> None:
    out = corpus[1]
    hidden_ids = {c["check_id"] for c in graded["correct"]["checks"] if c["hidden"]}
    for student in graded:
        for suffix in (".md", ".html"):
            text = (out / "feedback" / f"{safe_name(student)}{suffix}").read_text(encoding="utf-8")
            assert "SECRET" not in text and not any(hidden in text for hidden in hidden_ids), student
            assert "hidden check 1" in text
    partial = (out / "feedback" / "partial.md").read_text(encoding="utf-8")
    assert "**Score: 3/6**" in partial and "norm(v) is the square root of the sum of squares." in partial
    assert "got 7.0, expected 5.0" in partial
    assert "hit the 3 s cell timeout" in (out / "feedback" / "loop.md").read_text(encoding="utf-8")
    odd = (out / "feedback" / f"{safe_name(ODD)}.html").read_text(encoding="utf-8")
    assert "Zoë O&#x27;Brien (late)" in odd


# --- same rows however they are graded --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def subset(course: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("subset") / "submissions"
    _write_corpus(course, folder, folder.parent / "out", SUBSET)
    return folder


@pytest.fixture(scope="module")
def serial(course: Path, subset: Path) -> Path:
    out = subset.parent / "serial"
    grade(subset, assignment=NAME, out=out, root=course, jobs=1, limits=LIMITS, progress=False)
    return out


def _rows(out: Path) -> dict[str, tuple]:
    document = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))
    return {row["student"]: _essence(row) for row in document["students"]}


def test_serial_equals_parallel(graded: dict[str, dict], serial: Path) -> None:
    assert _rows(serial) == {student: _essence(graded[student]) for student in SUBSET}


def test_dask_equals_serial(course: Path, subset: Path, serial: Path) -> None:
    distributed = require("distributed")
    out, few = subset.parent / "dask", subset.parent / "dask-submissions"
    few.mkdir()
    for student in DASK_SUBSET:
        shutil.copy(next(subset.glob(f"{student}.*")), few)
    # Workers as threads of this process (they start at once), reached over TCP on loopback like remote ones.
    cluster_options = {"processes": False, "protocol": "tcp", "host": "127.0.0.1", "dashboard_address": None}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, **cluster_options) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        grade(subset, assignment=NAME, out=out, root=course, limits=LIMITS, dask_scheduler=cluster.scheduler_address)
    assert _rows(out) == _rows(serial)


def test_resume_after_a_killed_run(course: Path, subset: Path, serial: Path) -> None:
    out = subset.parent / "killed"
    argv = [sys.executable, "-m", "odyssey_lessons.cli", "grade", str(subset), "--assignment", NAME, "--out", str(out)]
    argv += ["--root", str(course), "--timeout", "3", "--total-timeout", "120", "--memory-mb", "2048", "--quiet"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and len(list((out / "results").glob("*.json"))) < 2:
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    done = sorted((out / "results").glob("*.json"))
    done[0].write_text('{"student": "torn", "sco', encoding="utf-8")  # as if the disk lost the end of a write
    (out / "results" / ".correct.json.abc.tmp").write_text("{", encoding="utf-8")  # an unfinished atomic write
    summary = grade(subset, assignment=NAME, out=out, root=course, limits=LIMITS, resume=True, progress=False)
    assert (summary.skipped, summary.graded_now) == (len(done) - 1, len(SUBSET) - len(done) + 1)
    assert _rows(out) == _rows(serial)
    assert sorted(p.name for p in (out / "results").iterdir()) == sorted(f"{s}.json" for s in SUBSET)
    assert len((out / "gradebook.csv").read_text(encoding="utf-8").splitlines()) == 1 + len(SUBSET)
    again = grade(subset, assignment=NAME, out=out, root=course, limits=LIMITS, resume=True, progress=False)
    assert (again.graded_now, again.skipped) == (0, len(SUBSET)) and _rows(out) == _rows(serial)


def test_total_timeout_keeps_the_checks_before_it(course: Path, master: Master, tmp_path: Path) -> None:
    nb = nbformat.read(course / "exercises" / f"{NAME}.ipynb", as_version=4)
    slow = {"answers": {"cell-2": DOUBLE, "cell-5": NORM + "\nimport time\ntime.sleep(600)"}}
    (tmp_path / "subs").mkdir()
    nbformat.write(_submission(nb, slow, {}), tmp_path / "subs" / "slow.ipynb")
    limits = Limits(cell_timeout=300, total_timeout=12, memory_mb=2048)
    summary = grade(tmp_path / "subs", assignment=NAME, out=tmp_path / "out", root=course, limits=limits)
    (row,) = summary.rows
    assert row["status"] == "total_timeout" and _passed(row) == {"fix.double", "fix.double_array"}
    assert [c["status"] for c in row["checks"]][-1] == "not_run"


# --- building the graded notebook ------------------------------------------------------------------------------------


def test_the_student_kernel_runs_only_answer_and_context_cells(master: Master, course: Path) -> None:
    exercise = nbformat.read(course / "exercises" / f"{NAME}.ipynb", as_version=4)
    case = ANSWER_CASES["edits_checks"]
    answers = match_answers(master, _submission(exercise, case, {}))
    assert answers == {index: case["answers"][master.nb.cells[index].id] for index in master.answers}
    steps = plan(master, answers)
    checks = [step for step in steps if step.kind == "check"]
    assert [step.source for step in checks] == [master.nb.cells[step.master_cell].source for step in checks]
    assert sum(len(step.checks) for step in checks) == len(master.checks)
    assert [step.source for step in steps if step.kind == "answer"] == [answers[i] for i in sorted(answers)]


def test_no_check_text_reaches_a_row_or_feedback(graded: dict[str, dict], corpus: tuple[Path, Path]) -> None:
    """The check cells' code never runs in the student's kernel, so no submission can export it (``leak_hidden``
    tries through an exception's type name). Rows are the instructor's and may hold hidden checks' hints; feedback
    holds nothing of a hidden check."""
    out = corpus[1]
    for student, row in graded.items():
        feedback = (out / "feedback" / f"{safe_name(student)}.md").read_text(encoding="utf-8")
        for secret in ("SECRET-EXPECTATION", "test_double", "answers.double", "oracles"):
            assert secret not in json.dumps(row) + feedback, (student, secret)
        assert "SECRET" not in feedback, student


def test_a_real_lesson_grades_its_own_solution_full_marks(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    name = "01_number_formats"
    (tmp_path / "subs").mkdir()
    shutil.copy(root / "solutions" / f"{name}.ipynb", tmp_path / "subs" / "solution.ipynb")
    limits = Limits(cell_timeout=300, total_timeout=600)
    summary = grade(tmp_path / "subs", assignment=name, out=tmp_path / "out", root=root, limits=limits, progress=False)
    (row,) = summary.rows
    assert (row["status"], row["score"]) == ("graded", row["max_score"]), row


# --- command line ----------------------------------------------------------------------------------------------------


def test_grade_command(course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    for file in ("broken_json.ipynb", "essay.pdf"):
        shutil.copy(CORPUS / "raw" / f"{file}.raw", subs / file)
    out = tmp_path / "out"
    argv = ["grade", str(subs), "--assignment", NAME, "--out", str(out), "--root", str(course), "--quiet"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "2 submissions" in printed and "invalid_json 1, not_notebook 1" in printed
    assert (out / "gradebook.csv").exists() and (out / "feedback" / "essay.html").exists()
    assert cli.main([*argv[:2], "--assignment", "42_nope", "--out", str(out), "--root", str(course)]) == 2
    assert "no grading master" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([*argv, "--jobs", "0"])


def test_grade_help_runs_without_the_heavy_stack() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "odyssey_lessons.cli", "grade", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "--dask-scheduler" in done.stdout and "--memory-mb" in done.stdout


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell_timeout": 0}, "cell_timeout=0"),
        ({"total_timeout": -1}, "total_timeout=-1"),
        ({"memory_mb": 10}, "10"),
        ({"cpus": float("inf")}, "cpus=inf"),
    ],
)
def test_limits_validate(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Limits(**kwargs)


def test_safe_names_are_distinct_file_names() -> None:
    names = ["alice", ODD, "-rf", "a/b", "a_b", "..", "Alice"]
    safe = [safe_name(n) for n in names]
    assert safe[0] == "alice" and safe[-1] == "Alice" and len(set(safe)) == len(safe)
    assert all(s and "/" not in s and not s.startswith(("-", ".")) for s in safe)


def test_grading_runs_as_a_fresh_uid_when_root() -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        assert isolation_level().startswith("uid+") and isolation_level().endswith("+rlimits")
    else:
        assert isolation_level() == "rlimits"


def test_a_broken_solution_is_an_error_of_the_row_not_a_failed_check() -> None:
    """The reference (the worked solution) failing is the grading setup's fault: the row says ``error`` and why, and
    no check is scored as the student's failure."""
    from odyssey_lessons.grading._answers import LocalSide, SolutionFault
    from odyssey_lessons.grading._check import SESSION, Session, check
    from odyssey_lessons.grading._score import grade_submission

    class Broken:
        def request(self, request: dict) -> dict:
            raise SolutionFault("the worked solution gave no reply to a check's call: boom")

    session = Session(LocalSide({"f": lambda x: x}), Broken())
    token = SESSION.set(session)
    try:
        assert check("t.broken", lambda a: a.f(1), points=1, hint="h", oracles={}) is False
    finally:
        SESSION.reset(token)
    assert session.verdicts["t.broken"][0] == "error" and "boom" in session.verdicts["t.broken"][1]

    cells = [
        nbformat.v4.new_code_cell("from odyssey_lessons.grading import check"),
        nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    raise ValueError\n    ### END SOLUTION"),
        nbformat.v4.new_code_cell("f(1)"),
        nbformat.v4.new_code_cell(
            '# NBVAL_CHECK_OUTPUT\ncheck("t.f", lambda a: a.f(1), points=1, hint="h", oracles={"f": abs})'
        ),
    ]
    master = Master.from_notebook(nbformat.v4.new_notebook(cells=cells), "96_broken")
    result = grade_submission(master, {}, Limits(cell_timeout=10, total_timeout=60, memory_mb=1024))
    assert result.status == "error" and any("worked solution failed" in f for f in result.faults), result
    assert [c.status for c in result.checks] == ["not_run"]
