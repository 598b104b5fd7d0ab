"""The ``odyssey`` command line: ``lab`` (start the course), ``check`` (self-check an exercise), ``assign`` (authors),
``grade`` (instructors: grade a class).

Imports of the heavy machinery (nbformat, nbclient, jupytext) happen inside the subcommands, so ``odyssey --help``
answers at once.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
LAB_HOST = "127.0.0.1"


def find_course_root(start: Path | None = None, *, package_root: Path = PACKAGE_ROOT) -> Path:
    """The course root: the folder holding ``notebooks/`` (and the ``pyproject.toml`` of a course checkout).

    Walks up from ``start`` (default: the working directory) to the first folder with both ``notebooks/`` and
    ``pyproject.toml``; otherwise falls back to the checkout the package was installed from (``pip install -e``).

    Raises:
        FileNotFoundError: Neither exists.
    """
    start = Path.cwd() if start is None else Path(start)
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "notebooks").is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    if (package_root / "notebooks").is_dir():
        return package_root
    raise FileNotFoundError(
        f"no course found: no folder above {start} holds notebooks/ and pyproject.toml, and the package at "
        f"{package_root} has no notebooks/ next to it. Run odyssey from inside the course checkout."
    )


def first_notebook(root: Path) -> Path | None:
    """The notebook the course opens on: the lowest-numbered ``notebooks/NN_name.ipynb`` (00, else 01, ...)."""
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return notebooks[0] if notebooks else None


def lab_argv(root: Path, *, port: int | None = None, open_browser: bool = True) -> list[str]:
    """The command that starts JupyterLab on localhost, rooted at the course, opening its first notebook.

    JupyterLab prints the URL (with its token) itself; with ``default_url`` pointing at the first notebook that URL
    opens the notebook directly, also when pasted into a browser by hand after ``--no-browser``. As root (a Docker
    container) JupyterLab refuses to start unless told ``allow_root``; the server only listens on localhost anyway.
    """
    argv = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.ip={LAB_HOST}", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--ServerApp.allow_root=True")
    if port is not None:
        argv.append(f"--ServerApp.port={port}")
    if not open_browser:
        argv.append("--ServerApp.open_browser=False")
    start = first_notebook(root)
    if start is not None:
        argv.append(f"--LabApp.default_url=/lab/tree/{start.relative_to(root).as_posix()}")
    return argv


def _number(name: str, convert: type[int] | type[float], **bounds: object) -> Callable[[str], int | float]:
    """An argparse ``type=`` for an option holding a number: the text converted by ``convert`` and checked by the
    package's ``check_int`` (``convert=int``) or ``check_real`` with ``bounds``. argparse prints a failure as
    ``argument --NAME: <message>`` and exits with status 2."""
    kind = "an integer" if convert is int else "a number"

    def parse(text: str) -> int | float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {kind}, got {text!r}") from None
        from odyssey_lessons._validate import check_int, check_real  # on use: numpy stays out of `odyssey --help`

        try:
            return (check_int if convert is int else check_real)(name, value, **bounds)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _seconds(name: str) -> Callable[[str], float]:
    return _number(name, float, low=0, low_open=True, finite=False)


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve() if args.root else find_course_root()


def _cmd_lab(args: argparse.Namespace) -> int:
    try:
        root = _root(args)
    except FileNotFoundError as exc:
        print(f"odyssey lab: error: {exc}", file=sys.stderr)
        return 1
    argv = lab_argv(root, port=args.port, open_browser=not args.no_browser)
    print("Starting JupyterLab; open the http://127.0.0.1:... URL it prints below. Stop it with Ctrl-C.", flush=True)
    from odyssey_lessons.grading import ipc_environ

    env = ipc_environ()  # the lessons' kernels connect over IPC, as in every kernel the course starts
    if os.name == "posix":
        os.execve(argv[0], argv, env)  # jupyter takes over this process, so Ctrl-C reaches it directly
    return subprocess.call(argv, env=env)


def _cmd_check(args: argparse.Namespace) -> int:
    from odyssey_lessons.grading import self_check

    print(f"Running {args.notebook} top to bottom in a fresh kernel...", file=sys.stderr, flush=True)
    try:
        report = self_check(args.notebook, timeout=args.timeout)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"odyssey check: error: {exc}", file=sys.stderr)
        return 2
    print(report.format())
    return 0 if report.passed else 1


def _cmd_assign(args: argparse.Namespace) -> int:
    from odyssey_lessons.grading import AssignError, assign, assign_plan, stale_files

    try:
        root = _root(args)
        if args.list:
            for task in assign_plan(root, args.names):
                print(f"{task.source} -> {', '.join(str(p) for p in task.outputs)}")
            return 0
        if args.check:
            stale = stale_files(root, names=args.names, timeout=args.timeout, progress=not args.quiet)
            if not stale:
                print("All generated notebooks are up to date.")
                return 0
            print("Stale generated notebooks (run `odyssey assign` and commit the result):")
            for path, reason in stale:
                print(f"  {path} ({reason})")
            return 1
        written = assign(root, names=args.names, timeout=args.timeout, progress=not args.quiet)
    except (AssignError, FileNotFoundError) as exc:
        print(f"odyssey assign: error: {exc}", file=sys.stderr)
        return 1
    print(f"Generated {len(written)} notebooks under {root}.")
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from odyssey_lessons.grading import Limits, grade

    try:
        limits = Limits(
            cell_timeout=args.timeout, total_timeout=args.total_timeout, memory_mb=args.memory_mb, cpus=args.cpus
        )
        root = None if args.master else _root(args)
        summary = grade(
            args.submissions,
            assignment=args.assignment,
            out=args.out,
            root=root,
            master=args.master,
            jobs=args.jobs,
            limits=limits,
            dask_scheduler=args.dask_scheduler,
            resume=args.resume,
            progress=not args.quiet,
        )
    except (OSError, ValueError) as exc:
        print(f"odyssey grade: error: {exc}", file=sys.stderr)
        return 2
    print(summary.format())
    print(f"Wrote {Path(args.out) / 'gradebook.csv'}, gradebook.json and feedback/ for each student.")
    return 0


_ROOT_HELP = "course folder (default: found from the working directory)"
_QUIET_HELP = "no progress bar"


def build_parser() -> argparse.ArgumentParser:
    """The ``odyssey`` argument parser, one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="odyssey",
        description="ML Odyssey Lessons: start the course, check your exercises, build the notebooks.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_lab, _add_check, _add_assign, _add_grade):
        add(commands)
    return parser


def _add_lab(commands: argparse._SubParsersAction) -> None:
    lab = commands.add_parser(
        "lab",
        help="start JupyterLab on the course",
        description="Start JupyterLab on 127.0.0.1 with the course folder as its root, opening the first lesson.",
    )
    lab.add_argument(
        "--port",
        type=_number("port", int, minimum=1, maximum=65535),
        default=None,
        help="port to serve on (default: JupyterLab's, 8888)",
    )
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser; open the printed URL yourself")
    lab.add_argument("--root", metavar="DIR", help=_ROOT_HELP)
    lab.set_defaults(handler=_cmd_lab)


def _add_check(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check",
        help="self-check an exercise notebook",
        description=(
            "Run an exercise notebook top to bottom in a fresh kernel (nbval) and score its check cells. "
            "Save the notebook first: the saved file is what runs. Exit code 0 when every check passes."
        ),
    )
    check.add_argument(
        "notebook", metavar="NOTEBOOK", help="the .ipynb to check, e.g. exercises/01_number_formats.ipynb"
    )
    check.add_argument(
        "--timeout",
        type=_seconds("timeout"),
        default=600.0,
        metavar="S",
        help="seconds each cell may run (default 600)",
    )
    check.set_defaults(handler=_cmd_check)


def _add_assign(commands: argparse._SubParsersAction) -> None:
    assign = commands.add_parser(
        "assign",
        help="generate lesson, solution and exercise notebooks from the sources (authors)",
        description=(
            "Convert notebooks/NN_name.py to notebooks/NN_name.ipynb; execute solutions/NN_name.py into "
            "solutions/NN_name.ipynb (outputs kept on check cells only) and stub its answers into "
            "exercises/NN_name.ipynb. Fails if a solution cell raises or a check does not pass."
        ),
    )
    assign.add_argument("names", nargs="*", metavar="NAME", help="only these sources, by stem (default: all)")
    assign.add_argument("--root", metavar="DIR", help=_ROOT_HELP)
    assign.add_argument(
        "--check", action="store_true", help="regenerate into a temporary folder and exit 1 listing stale files"
    )
    assign.add_argument("--list", action="store_true", help="list the sources and what each generates, then exit")
    assign.add_argument("--timeout", type=int, default=600, metavar="S", help="seconds each solution cell may run")
    assign.add_argument("--quiet", action="store_true", help=_QUIET_HELP)
    assign.set_defaults(handler=_cmd_assign)


def _add_grade(commands: argparse._SubParsersAction) -> None:
    grade = commands.add_parser(
        "grade",
        help="grade a folder of submissions (instructors)",
        description=(
            "Grade SUBMISSIONS/<student>.ipynb (or <student>/<any>.ipynb) against the assignment's grading master "
            "(instructor/NAME.ipynb, else solutions/NAME.ipynb): only each student's answer cells are used, each "
            "submission runs in its own sandboxed kernel with timeouts and a memory limit. Writes OUT/gradebook.csv, "
            "OUT/gradebook.json and OUT/feedback/<student>.md/.html."
        ),
    )
    grade.add_argument("submissions", metavar="SUBMISSIONS", help="folder with one notebook per student")
    grade.add_argument("--assignment", required=True, metavar="NAME", help="e.g. 01_number_formats")
    grade.add_argument("--out", required=True, metavar="OUT", help="output folder (created)")
    grade.add_argument(
        "--jobs", type=_number("jobs", int, minimum=1), default=1, metavar="N", help="submissions graded at once"
    )
    grade.add_argument(
        "--timeout", type=_seconds("timeout"), default=120.0, metavar="S", help="seconds one cell may run (default 120)"
    )
    grade.add_argument(
        "--total-timeout",
        type=_seconds("total_timeout"),
        default=900.0,
        metavar="S",
        help="seconds one submission may take in all (default 900)",
    )
    grade.add_argument(
        "--memory-mb",
        type=_number("memory_mb", int, minimum=1),
        default=4096,
        metavar="MB",
        help="memory limit of a kernel (default 4096)",
    )
    grade.add_argument(
        "--cpus",
        type=_number("cpus", float, low=0, low_open=True),
        default=1.0,
        metavar="N",
        help="CPU time one submission's processes may use together, in CPUs (default 1; enforced as root)",
    )
    grade.add_argument("--dask-scheduler", metavar="ADDRESS", help="grade on this Dask cluster, e.g. tcp://host:8786")
    grade.add_argument("--resume", action="store_true", help="keep results of an earlier run for unchanged submissions")
    grade.add_argument("--root", metavar="DIR", help=_ROOT_HELP)
    grade.add_argument("--master", metavar="PATH", help="grading master notebook (default: from --root)")
    grade.add_argument("--quiet", action="store_true", help=_QUIET_HELP)
    grade.set_defaults(handler=_cmd_grade)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``odyssey`` console script; returns the exit code. No command prints the help."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
