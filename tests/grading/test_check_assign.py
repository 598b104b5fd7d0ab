"""Grading: ``check``'s exact output and validation, the cell conventions, the assign pipeline and the self-check.

The pipeline tests run on the tiny course in ``tests/fixtures/course`` (one lesson, one worked solution with an answer
block in a code cell, one in a markdown cell and two check cells), copied to a temporary folder.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat
import pytest

from odyssey_lessons.grading import (
    AssignError,
    CheckResult,
    CheckSpec,
    SelfCheckReport,
    assign,
    check,
    find_checks,
    self_check,
    stub_solutions,
)
from odyssey_lessons.grading._assign import notebook_text, record_check_outputs
from odyssey_lessons.grading._cells import CODE_STUB, MARKDOWN_STUB, read_outcome
from odyssey_lessons.grading._check import MAX_MESSAGE_CHARS

FIXTURE_COURSE = Path(__file__).parents[1] / "fixtures" / "course"
DEMO = "99_demo"
ANSWER_CELL = 2  # cell ids are cell-{index}; see tests/fixtures/course/solutions/99_demo.py
MARKDOWN_ANSWER_CELL = 3
CHECK_CELLS = (4, 5)


def _copy_course(destination: Path) -> Path:
    shutil.copytree(FIXTURE_COURSE, destination)
    return destination


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture course with its notebooks generated once for the whole module."""
    root = _copy_course(tmp_path_factory.mktemp("grading") / "course")
    assign(root, progress=False)
    return root


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


# --- check() ---------------------------------------------------------------------------------------------------------


def test_check_pass_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert check("demo.ok", lambda answers: None, points=3, hint="unused", oracles={}) is True
    assert capsys.readouterr().out == "[PASS] demo.ok (3/3 points)\n"


def test_check_fail_prints_hint_and_exception(capsys: pytest.CaptureFixture[str]) -> None:
    def test(answers: object) -> None:
        raise AssertionError("arithmetic is broken")  # a plain raise: pytest rewrites asserts in this module

    assert check("demo.bad", test, points=2, hint="Look at the sum.", oracles={}) is False
    assert capsys.readouterr().out == (
        "[FAIL] demo.bad (0/2 points): Look at the sum.\n    AssertionError: arithmetic is broken\n"
    )


def test_check_fail_without_message_prints_type_alone(capsys: pytest.CaptureFixture[str]) -> None:
    def test(answers: object) -> None:
        raise AssertionError

    check("x", test, points=1, hint="h", oracles={})
    assert capsys.readouterr().out == "[FAIL] x (0/1 points): h\n    AssertionError\n"


def test_check_fail_message_is_one_truncated_line(capsys: pytest.CaptureFixture[str]) -> None:
    def test(answers: object) -> None:
        raise ValueError("first line\n\n   second   line " + "x" * 1000)

    check("x", test, points=1, hint="h", oracles={})
    first, detail, end = capsys.readouterr().out.split("\n")
    assert first == "[FAIL] x (0/1 points): h" and end == ""
    assert detail.startswith("    ValueError: first line second line xxx") and detail.endswith("...")
    assert len(detail) == len("    ValueError: ") + MAX_MESSAGE_CHARS


def test_check_lets_keyboard_interrupt_through() -> None:
    def test(answers: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check("x", test, points=1, hint="h", oracles={})


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"check_id": ""}, ValueError, "check_id"),
        ({"check_id": "has space"}, ValueError, "check_id='has space'"),
        ({"check_id": 7}, TypeError, "check_id=7"),
        ({"test": "not callable"}, TypeError, "test="),
        ({"points": 0}, ValueError, "points=0"),
        ({"points": -2}, ValueError, "points=-2"),
        ({"points": 1.5}, TypeError, "points=1.5"),
        ({"points": True}, TypeError, "points=True"),
        ({"hint": ""}, ValueError, "hint=''"),
        ({"hint": "two\nlines"}, ValueError, "hint="),
        ({"hint": None}, TypeError, "hint=None"),
        ({"oracles": None}, TypeError, "oracles=None"),
        ({"oracles": {"f": 3}}, TypeError, "oracles="),
        ({"compare": 1e-6}, TypeError, "compare=1e-06"),
    ],
)
def test_check_validates_arguments(
    kwargs: dict[str, object], error: type[Exception], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments: dict[str, object] = {"check_id": "ok", "test": lambda a: None, "points": 1, "hint": "h", "oracles": {}}
    arguments.update(kwargs)
    with pytest.raises(error, match=names.replace("(", r"\(")):
        check(arguments.pop("check_id"), arguments.pop("test"), **arguments)  # type: ignore[arg-type]
    assert capsys.readouterr().out == ""


# --- cell conventions ------------------------------------------------------------------------------------------------


def test_find_checks_reads_literal_ids_and_points() -> None:
    source = """# NBVAL_CHECK_OUTPUT
# check("commented.out", t, points=9, hint="ignored")
check("a.one", t1, points=2, hint="h")
check(
    'b-two',
    t2,
    hint="points come last",
    points=5,
)"""
    assert find_checks(source) == [CheckSpec("a.one", 2), CheckSpec("b-two", 5)]


def test_find_checks_needs_literal_points() -> None:
    with pytest.raises(ValueError, match="'a'.*points=N"):
        find_checks('check("a", t, points=POINTS, hint="h")\ncheck("b", t, points=1, hint="h")')


def test_stub_solutions_keeps_indentation_and_everything_else() -> None:
    source = """def f(x):
    y = x
    ### BEGIN SOLUTION
    return y + 1
    ### END SOLUTION

### BEGIN SOLUTION
answer = 42
### END SOLUTION
print(answer)"""
    assert stub_solutions(source) == f"def f(x):\n    y = x\n    {CODE_STUB}\n\n{CODE_STUB}\nprint(answer)"
    markdown = "Why?\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"
    assert stub_solutions(markdown, markdown=True) == f"Why?\n\n{MARKDOWN_STUB}"
    assert stub_solutions("no markers") == "no markers"


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("### BEGIN SOLUTION\nx\n### BEGIN SOLUTION\n### END SOLUTION", "line 3: .*opened on line 1"),
        ("x = 1\n### BEGIN SOLUTION\nx = 2", "line 2: .*never closed"),
        ("x = 1\n### END SOLUTION", "line 2: .*without"),
    ],
)
def test_stub_solutions_rejects_malformed_blocks(source: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        stub_solutions(source)


def test_read_outcome() -> None:
    spec = CheckSpec("a.b", 2)
    assert read_outcome("noise\n[PASS] a.b (2/2 points)\n", spec) == (True, "")
    printed = "[FAIL] a.b (0/2 points): The hint.\n    NameError: name 'f' is not defined\n"
    assert read_outcome(printed, spec) == (False, "The hint.\nNameError: name 'f' is not defined")
    assert read_outcome("[PASS] a.b (3/3 points)\n", spec) == (False, "")  # points changed: not this check's line
    assert read_outcome("", spec) == (False, "")


# --- assign ----------------------------------------------------------------------------------------------------------


@pytest.mark.notebook
def test_lesson_notebook_has_no_outputs_and_canonical_metadata(course: Path) -> None:
    nb = _read(course / "notebooks" / "98_lesson.ipynb")
    assert nb.metadata == {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    assert [cell.id for cell in nb.cells] == ["cell-0", "cell-1"]
    assert nb.cells[1].source == "total = sum(range(4))\nprint(total)"
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count is None


@pytest.mark.notebook
def test_solution_keeps_outputs_on_check_cells_only(course: Path) -> None:
    nb = _read(course / "solutions" / f"{DEMO}.ipynb")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if index in CHECK_CELLS:
            assert cell.execution_count is not None  # nbval does not compare cells without one
        else:
            assert cell.outputs == [] and cell.execution_count is None
        assert cell.metadata == {}
    printed = [[out.get("text") for out in nb.cells[i].outputs if out.output_type == "stream"] for i in CHECK_CELLS]
    assert printed == [
        ["[PASS] demo.double (2/2 points)\n"],
        ["checking negative inputs\n[PASS] demo.negative (3/3 points)\n"],
    ]
    assert "return 2 * x" in nb.cells[ANSWER_CELL].source


@pytest.mark.notebook
def test_exercise_stubs_answers_and_keeps_expected_outputs(course: Path) -> None:
    solution = _read(course / "solutions" / f"{DEMO}.ipynb")
    exercise = _read(course / "exercises" / f"{DEMO}.ipynb")
    assert exercise.cells[ANSWER_CELL].source == (
        f'def double(x: float) -> float:\n    """Twice ``x``."""\n    {CODE_STUB}'
    )
    assert exercise.cells[MARKDOWN_ANSWER_CELL].source == f"Why is doubling a float exact?\n\n{MARKDOWN_STUB}"
    text = (course / "exercises" / f"{DEMO}.ipynb").read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "2 * x\\n" not in text and "exponent" not in text
    for index in CHECK_CELLS:
        assert exercise.cells[index] == solution.cells[index]
    others = [i for i in range(len(solution.cells)) if i not in (ANSWER_CELL, MARKDOWN_ANSWER_CELL)]
    assert [exercise.cells[i] for i in others] == [solution.cells[i] for i in others]


def _write_solution(root: Path, stem: str, text: str) -> None:
    (root / "solutions").mkdir(parents=True, exist_ok=True)
    (root / "solutions" / f"{stem}.py").write_text(text, encoding="utf-8")


FAILING_CHECK = """# %%
from odyssey_lessons.grading import check

# %%
# NBVAL_CHECK_OUTPUT
def test_answer(answers) -> None:
    assert 1 == 2, "one is not two"


check("broken.answer", test_answer, points=1, hint="The worked solution is wrong.", oracles={})
"""


@pytest.mark.notebook
def test_assign_aborts_when_a_solution_check_fails(tmp_path: Path) -> None:
    _write_solution(tmp_path, "97_broken", FAILING_CHECK)
    with pytest.raises(
        AssignError, match=r"(?s)solutions/97_broken\.py: check 'broken\.answer' \(cell 1\).*one is not two"
    ):
        assign(tmp_path, progress=False)
    assert not (tmp_path / "exercises").exists()


@pytest.mark.notebook
def test_assign_aborts_when_a_solution_cell_raises(tmp_path: Path) -> None:
    _write_solution(tmp_path, "96_raises", "# %%\nx = 1\n\n# %%\nraise RuntimeError(f'boom {x}')\n")
    with pytest.raises(AssignError, match=r"96_raises\.py: cell 1 .*raised RuntimeError: boom 1"):
        assign(tmp_path, progress=False)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("# %%\n### BEGIN SOLUTION\nx = 1\n", r"95_bad\.py: cell 0: line 1: .*never closed"),
        (
            '# %%\n# NBVAL_CHECK_OUTPUT\ncheck("a", t, points=1, hint="h")\n\n'
            '# %%\n# NBVAL_CHECK_OUTPUT\ncheck("a", t, points=2, hint="h")\n',
            r"check 'a' in cell 1 is also in cell 0",
        ),
        ("# %%\n# NBVAL_CHECK_OUTPUT\nprint('no check call')\n", r"check cell 0 has no check"),
        ("# %%\n# NBVAL_CHECK_OUTPUT\n### BEGIN SOLUTION\n### END SOLUTION\n", r"must not contain an answer block"),
    ],
)
def test_assign_rejects_malformed_sources_before_executing(tmp_path: Path, text: str, match: str) -> None:
    _write_solution(tmp_path, "95_bad", text)
    with pytest.raises(AssignError, match=match):
        assign(tmp_path, progress=False)


def test_assign_rejects_unknown_names_and_empty_courses(tmp_path: Path) -> None:
    with pytest.raises(AssignError, match="no sources under"):
        assign(tmp_path, progress=False)
    _write_solution(tmp_path, "95_x", "# %%\nx = 1\n")
    with pytest.raises(AssignError, match="no source named '42_nope'"):
        assign(tmp_path, names=["42_nope"], progress=False)


def test_check_cells_may_not_write_to_stderr() -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('# NBVAL_CHECK_OUTPUT\ncheck("a", t, points=1, hint="h")', execution_count=1)
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="DeprecationWarning: ...\n"),
        nbformat.v4.new_output("stream", name="stdout", text="[PASS] a (1/1 points)\n"),
    ]
    nb.cells.append(cell)
    with pytest.raises(AssignError, match="nb: check cell 0 produced a stream:stderr output"):
        record_check_outputs(nb, "nb")
    cell.outputs = cell.outputs[1:]
    assert record_check_outputs(nb, "nb").cells[0].outputs == cell.outputs


def test_recorded_check_output_does_not_depend_on_how_the_kernel_split_the_text() -> None:
    """print() writes the text and the newline separately; a flush in between gives two stream outputs. The recorded
    notebook must be the same bytes either way (and equal to what nbval compares after coalescing)."""
    from nbval.plugin import coalesce_streams as nbval_coalesce

    def notebook(*chunks: str) -> nbformat.NotebookNode:
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell('# NBVAL_CHECK_OUTPUT\ncheck("a", t, points=1)', execution_count=3)
        cell.id = "cell-0"  # as assign names cells (new_code_cell picks a random id)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=c) for c in chunks]
        cell.outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": "True"}, execution_count=3))
        nb.cells.append(cell)
        return nb

    whole = notebook("[PASS] a (1/1 points)\n")
    texts = {notebook_text(record_check_outputs(nb, "nb")) for nb in (whole, notebook("[PASS] a (1/1 points)", "\n"))}
    assert len(texts) == 1
    split = notebook("[PASS] a", " (1/1 points)", "\n")
    recorded = record_check_outputs(split, "nb").cells[0].outputs
    assert split.cells[0].outputs[0].text == "[PASS] a"  # the executed notebook is left as it was
    assert recorded == nbval_coalesce(copy.deepcopy(split.cells[0].outputs)) == whole.cells[0].outputs


# --- self-check ------------------------------------------------------------------------------------------------------


@pytest.mark.notebook
def test_self_check_of_the_worked_solution_scores_full_marks(course: Path) -> None:
    report = self_check(course / "solutions" / f"{DEMO}.ipynb", timeout=120)
    assert report.checks == [("demo.double", 2, True, ""), ("demo.negative", 3, True, "")]
    assert (report.score, report.max_score, report.passed, report.cell_errors) == (5, 5, True, [])


@pytest.mark.notebook
def test_self_check_of_the_untouched_exercise_scores_zero(course: Path) -> None:
    report = self_check(course / "exercises" / f"{DEMO}.ipynb", timeout=120)
    stub_error = "raised NotImplementedError: Write your solution here"
    assert report.checks == [
        ("demo.double", 2, False, f"double(x) should return 2 * x.\nAssertionError: double(3) {stub_error}"),
        ("demo.negative", 3, False, f"Negative inputs double too.\nAssertionError: double(-1.5) {stub_error}"),
    ]
    assert (report.score, report.max_score, report.passed) == (0, 5, False)
    assert report.format().splitlines()[-1] == "Score: 0/5"


@pytest.mark.notebook
def test_self_check_scores_this_run_not_the_saved_outputs(course: Path, tmp_path: Path) -> None:
    """A half-right answer, saved after a failing run, with an extra cell that raises."""
    nb = _read(course / "exercises" / f"{DEMO}.ipynb")
    nb.cells[ANSWER_CELL].source = "def double(x):\n    return 2 * x if x > 0 else x"
    saved_failure = "[FAIL] demo.double (0/2 points): double(x) should return 2 * x.\n    NotImplementedError\n"
    nb.cells[CHECK_CELLS[0]].outputs = [nbformat.v4.new_output("stream", name="stdout", text=saved_failure)]
    nb.cells.insert(ANSWER_CELL + 1, nbformat.v4.new_code_cell("1 / 0"))
    path = tmp_path / f"{DEMO}.ipynb"
    nbformat.write(nb, path)

    report = self_check(path, timeout=120)
    assert report.checks == [
        ("demo.double", 2, True, ""),
        (
            "demo.negative",
            3,
            False,
            "Negative inputs double too.\nAssertionError: double(-1.5): result: got -1.5, expected -3.0 (exactly)",
        ),
    ]
    assert report.cell_errors == ["cell 3 ('1 / 0'): ZeroDivisionError: division by zero"]
    assert (report.score, report.max_score) == (2, 5)


def test_self_check_report_format() -> None:
    report = SelfCheckReport(
        Path("ex.ipynb"),
        [CheckResult("a", 2, True, ""), CheckResult("longer.id", 3, False, "The hint.\nValueError: bad")],
        ["cell 2 ('f()'): NameError: name 'f' is not defined"],
    )
    assert report.format() == (
        "Self-check of ex.ipynb\n"
        "  PASS  a          2/2 points\n"
        "  FAIL  longer.id  0/3 points\n"
        "        The hint.\n"
        "        ValueError: bad\n"
        "Other cells raised an exception (fix the first one first):\n"
        "  cell 2 ('f()'): NameError: name 'f' is not defined\n"
        "Score: 2/5"
    )


@pytest.mark.notebook
def test_self_check_validates_its_arguments(course: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such notebook"):
        self_check(tmp_path / "missing.ipynb")
    with pytest.raises(ValueError, match="needs a .ipynb"):
        self_check(course / "solutions" / f"{DEMO}.py")
    with pytest.raises(ValueError, match="timeout=0"):
        self_check(course / "solutions" / f"{DEMO}.ipynb", timeout=0)
