"""Run one graded notebook under nbval, in its own processes, scratch folders and sandboxed kernel.

Per run: a private scratch folder (mode 0700, owned by the grader) holds the graded notebook and nbval's report; a
separate work folder is the kernel's cwd and only writable place. nbval (``pytest.main`` with the ``_nbval_report``
recorder) runs in a grader-owned runner process (``_runner``; a new session, a scrubbed environment, reused across
submissions so its slow imports are paid once) and starts a fresh kernel per run in a :class:`~._jail.Jail` (limits;
as root also bubblewrap, a fresh uid and a cgroup). A run past the total timeout kills the runner's whole session;
afterwards the jail kills every process of the run.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from odyssey_lessons.grading._jail import KEEP_ENV, Jail, Limits, isolation_level
from odyssey_lessons.grading._provisioner import ipc_environ

__all__ = ["Limits", "RunResult", "isolation_level", "run_nbval"]

_PLUGIN = "odyssey_lessons.grading._nbval_report"
KERNEL_NAME = "odyssey-sandbox"
_RUNNER_START_SECONDS = 120.0


@dataclass
class RunResult:
    """The recorder's entries by nbval cell number, and how the run ended."""

    entries: dict[int, dict] = field(default_factory=dict)
    total_timeout: bool = False
    seconds: float = 0.0
    problem: str = ""  # pytest/nbval could not run: its exit code and output tail
    isolation: str = ""


def _kill_session(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Runner:
    """One ``_runner`` subprocess (a new session) with its own kernelspec folder; see ``_runner``."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="odyssey-runner-"))
        self.spec = self.home / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json"  # each run's jail writes it
        self.spec.parent.mkdir(parents=True)
        env = ipc_environ({k: os.environ[k] for k in KEEP_ENV if k in os.environ})  # kernels start over IPC
        env.update(
            HOME=str(self.home),
            JUPYTER_PATH=str(self.home / "jupyter"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTER_CONFIG_DIR=str(self.home / "config"),
            JUPYTER_DATA_DIR=str(self.home / "data"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
            PYTHONDONTWRITEBYTECODE="1",
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "odyssey_lessons.grading._runner"],
            cwd=self.home,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
        )
        if self._read(_RUNNER_START_SECONDS) is None:
            self.close()
            raise RuntimeError("the nbval runner did not start")

    def _read(self, timeout: float) -> dict | None:
        ready, _, _ = select.select([self.proc.stdout], [], [], max(timeout, 0.0))
        line = self.proc.stdout.readline() if ready else ""
        return json.loads(line) if line else None

    def run(self, argv: list[str], timeout: float) -> int | None:
        """pytest's exit code, or None when the run took longer than ``timeout`` or the runner died."""
        try:
            self.proc.stdin.write(json.dumps({"argv": argv}) + "\n")
            self.proc.stdin.flush()
        except OSError:
            return None
        answer = self._read(timeout)
        return None if answer is None else answer["exit"]

    def close(self) -> None:
        """Kill the runner's whole session and remove its folder."""
        _kill_session(self.proc)
        self.proc.wait()
        shutil.rmtree(self.home, ignore_errors=True)


_IDLE: list[_Runner] = []
_IDLE_LOCK = threading.Lock()


def _take_runner() -> _Runner:
    with _IDLE_LOCK:
        while _IDLE:
            runner = _IDLE.pop()
            if runner.proc.poll() is None:
                return runner
            runner.close()
    return _Runner()


def _give_back(runner: _Runner) -> None:
    with _IDLE_LOCK:
        _IDLE.append(runner)


@atexit.register
def close_runners() -> None:
    """Stop every idle runner (they also stop by themselves when this process exits)."""
    with _IDLE_LOCK:
        runners, _IDLE[:] = list(_IDLE), []
    for runner in runners:
        runner.close()


def run_nbval(nb: NotebookNode, limits: Limits) -> RunResult:
    """Execute ``nb`` under nbval with ``limits``; never raises for anything the notebook does."""
    scratch = Path(tempfile.mkdtemp(prefix="odyssey-grade-"))
    work = Path(tempfile.mkdtemp(prefix="odyssey-work-"))
    result = RunResult()
    runner = None
    try:
        with Jail(limits, work) as jail:
            result.isolation = jail.isolation
            notebook = scratch / "graded.ipynb"
            nbformat.write(nb, notebook)
            report = scratch / "report.jsonl"
            (scratch / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
            argv = [str(notebook), "-p", "nbval.plugin", "-p", _PLUGIN, "-p", "no:cacheprovider", "--nbval-lax"]
            argv += [f"--nbval-kernel-name={KERNEL_NAME}", f"--nbval-cell-timeout={limits.cell_timeout:g}"]
            argv += [f"--odyssey-report={report}", "-c", str(scratch / "pytest.ini"), f"--rootdir={scratch}", "-q"]
            start = time.monotonic()
            runner = _take_runner()
            runner.spec.write_text(json.dumps(jail.kernel_spec()), encoding="utf-8")
            code = runner.run(argv, limits.total_timeout - (time.monotonic() - start))
            result.seconds = time.monotonic() - start
            if code is None:
                result.total_timeout = runner.proc.poll() is None
                runner.close()
                runner = None
                if not result.total_timeout:
                    result.problem = "the nbval runner died"
        if report.exists():
            for line in report.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                result.entries[entry["cell"]] = entry
        if code is not None and (code not in (0, 1) or not result.entries):
            result.problem = f"pytest exit code {code}"
    finally:
        if runner is not None:
            _give_back(runner)
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return result
