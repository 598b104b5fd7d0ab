"""The ``odyssey`` command line: help, ``assign`` (including ``--check`` for stale files), ``check`` and ``lab``.

``lab`` is tested through the argv it would exec, never by starting a server.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from odyssey_lessons import cli

FIXTURE_COURSE = Path(__file__).parent / "fixtures" / "course"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture course, generated once by ``odyssey assign``."""
    root = tmp_path_factory.mktemp("cli") / "course"
    shutil.copytree(FIXTURE_COURSE, root)
    assert cli.main(["assign", "--root", str(root), "--quiet"]) == 0
    return root


# --- help ------------------------------------------------------------------------------------------------------------


def test_help_runs_as_a_module_without_loading_the_heavy_stack() -> None:
    probe = (
        "import sys\n"
        "from odyssey_lessons import cli\n"
        "from odyssey_lessons.grading import check\n"
        "cli.build_parser().format_help()\n"
        "print(sorted(m for m in ('nbformat', 'nbclient', 'jupytext', 'numba') if m in sys.modules))\n"
    )
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "[]\n"
    done = subprocess.run([sys.executable, "-m", "odyssey_lessons.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "usage: odyssey" in done.stdout and all(name in done.stdout for name in ("lab", "check", "assign"))


@pytest.mark.parametrize("command", ["lab", "check", "assign"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: odyssey {command}")


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 0
    assert capsys.readouterr().out.startswith("usage: odyssey")


# --- assign ----------------------------------------------------------------------------------------------------------


@pytest.mark.notebook
def test_assign_check_passes_when_fresh_and_lists_stale_files(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli.main(["assign", "--root", str(course), "--check", "--quiet"]) == 0  # regenerates byte-identically
    assert "up to date" in capsys.readouterr().out

    lesson = course / "notebooks" / "98_lesson.py"
    original = lesson.read_text(encoding="utf-8")
    orphan = course / "exercises" / "42_gone.ipynb"
    try:
        lesson.write_text(original.replace("range(4)", "range(5)"), encoding="utf-8")
        assert cli.main(["assign", "--root", str(course), "--check", "--quiet", "98_lesson"]) == 1
        assert "notebooks/98_lesson.ipynb (differs)" in capsys.readouterr().out

        shutil.copy(course / "exercises" / "99_demo.ipynb", orphan)
        (course / "notebooks" / "98_lesson.ipynb").unlink()
        assert cli.main(["assign", "--root", str(course), "--check", "--quiet", "98_lesson"]) == 1
        assert "notebooks/98_lesson.ipynb (missing)" in capsys.readouterr().out
    finally:
        lesson.write_text(original, encoding="utf-8")
        orphan.unlink(missing_ok=True)
        assert cli.main(["assign", "--root", str(course), "--quiet", "98_lesson"]) == 0


def test_assign_check_reports_generated_files_without_a_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_a.py").write_text("# %%\nx = 1\n", encoding="utf-8")
    assert cli.main(["assign", "--root", str(tmp_path), "--quiet"]) == 0
    (tmp_path / "exercises").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "exercises" / "02_gone.ipynb")
    assert cli.main(["assign", "--root", str(tmp_path), "--check", "--quiet"]) == 1
    assert "exercises/02_gone.ipynb (no source)" in capsys.readouterr().out


@pytest.mark.notebook
def test_assign_list_and_errors(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli.main(["assign", "--root", str(course), "--list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "notebooks/98_lesson.py -> notebooks/98_lesson.ipynb",
        "solutions/99_demo.py -> solutions/99_demo.ipynb, exercises/99_demo.ipynb",
    ]
    assert cli.main(["assign", "--root", str(course), "--quiet", "42_nope"]) == 1
    assert "odyssey assign: error: no source named '42_nope'" in capsys.readouterr().err


# --- check -----------------------------------------------------------------------------------------------------------


@pytest.mark.notebook
def test_check_command(course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Scoring itself is tested in test_grading; here the exit codes of the cases that need no kernel."""
    assert cli.main(["check", str(tmp_path / "missing.ipynb")]) == 2
    assert "odyssey check: error: no such notebook" in capsys.readouterr().err

    assert cli.main(["check", str(course / "notebooks" / "98_lesson.ipynb")]) == 1
    out = capsys.readouterr().out
    assert "no check cells" in out and out.endswith("Score: 0/0\n")

    with pytest.raises(SystemExit):
        cli.main(["check", "x.ipynb", "--timeout", "-1"])


# --- lab -------------------------------------------------------------------------------------------------------------


def _course_root(path: Path, *notebooks: str) -> Path:
    (path / "notebooks").mkdir(parents=True)
    (path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    for name in notebooks:
        (path / "notebooks" / name).write_text("{}", encoding="utf-8")
    return path


def test_course_root_is_found_walking_up(tmp_path: Path) -> None:
    root = _course_root(tmp_path / "course")
    nested = root / "exercises" / "deeper"
    nested.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert cli.find_course_root(nested, package_root=elsewhere) == root
    assert cli.find_course_root(root, package_root=elsewhere) == root


def test_course_root_falls_back_to_the_package_checkout(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "notebooks").mkdir(parents=True)
    unrelated = tmp_path / "unrelated"
    unrelated.mkdir()
    assert cli.find_course_root(unrelated, package_root=checkout) == checkout
    with pytest.raises(FileNotFoundError, match="no course found"):
        cli.find_course_root(unrelated, package_root=unrelated)


def test_lab_argv(tmp_path: Path) -> None:
    root = _course_root(tmp_path, "02_c.ipynb", "01_b.ipynb", "00_a.ipynb", "notes.ipynb")
    argv = [arg for arg in cli.lab_argv(root, port=8899, open_browser=False) if arg != "--ServerApp.allow_root=True"]
    assert argv == [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port=8899",
        "--ServerApp.open_browser=False",
        "--LabApp.default_url=/lab/tree/notebooks/00_a.ipynb",
    ]
    (root / "notebooks" / "00_a.ipynb").unlink()
    assert cli.lab_argv(root)[-1] == "--LabApp.default_url=/lab/tree/notebooks/01_b.ipynb"
    assert not any("port" in arg or "open_browser" in arg for arg in cli.lab_argv(root))


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_lab_rejects_bad_ports(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["lab", "--port", port])
    assert exit_info.value.code == 2
    assert "port must be" in capsys.readouterr().err


def test_lab_parses_its_options() -> None:
    args = cli.build_parser().parse_args(["lab", "--port", "9000", "--no-browser"])
    assert (args.port, args.no_browser, args.handler) == (9000, True, cli._cmd_lab)


def test_grade_passes_its_limits_to_the_grader(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import odyssey_lessons.grading as grading

    seen = {}

    class Summary:
        def format(self) -> str:
            return "graded"

    def fake_grade(submissions, **kwargs):
        seen.update(kwargs)
        return Summary()

    monkeypatch.setattr(grading, "grade", fake_grade)
    argv = ["grade", str(tmp_path), "--assignment", "01_x", "--out", str(tmp_path / "out"), "--master", "m.ipynb"]
    argv += ["--timeout", "7", "--total-timeout", "70", "--memory-mb", "1024", "--cpus", "2.5", "--jobs", "3"]
    assert cli.main(argv) == 0
    limits = seen["limits"]
    assert (limits.cell_timeout, limits.total_timeout, limits.memory_mb, limits.cpus) == (7.0, 70.0, 1024, 2.5)
    assert seen["jobs"] == 3 and cli.main([*argv[:-4], "--jobs", "3"]) == 0 and seen["limits"].cpus == 1.0


@pytest.mark.parametrize("cpus", ["0", "-1", "inf", "lots"])
def test_grade_rejects_bad_cpus(cpus: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["grade", "subs", "--assignment", "01_x", "--out", "out", "--cpus", cpus])
    assert exit_info.value.code == 2
    assert "cpus must be" in capsys.readouterr().err
