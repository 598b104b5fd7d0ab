"""Run one graded notebook under nbval, in its own processes, scratch folders and sandboxed kernel.

Per run: a private scratch folder (mode 0700, owned by the grader) holds the graded notebook and nbval's report; a
separate work folder is the kernel's cwd and only writable place. nbval (``pytest.main`` with the ``_nbval_report``
recorder) runs in a grader-owned runner process (``_runner``; a new session, a scrubbed environment, reused across
submissions so its slow imports are paid once) and starts a fresh kernel per run through ``_sandbox.py`` (resource
limits; as root also a private mount namespace hiding ``hide`` paths and a fresh uid). A run past the total timeout
kills the runner's whole session; afterwards, as root, every process of the run's uid is killed.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import secrets
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

from odyssey_lessons.grading._provisioner import ipc_environ

_PLUGIN = "odyssey_lessons.grading._nbval_report"
_SANDBOX = Path(__file__).with_name("_sandbox.py")
KERNEL_NAME = "odyssey-sandbox"
_UID_RANGE = (2_000_000, 3_000_000)  # far above any real account; one fresh uid per run
_RUNNER_START_SECONDS = 120.0
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT")


@dataclass(frozen=True)
class Limits:
    """What one submission may use.

    Args:
        cell_timeout: Seconds one cell may run before it is interrupted.
        total_timeout: Seconds the whole run (kernel start included) may take before everything is killed.
        memory_mb: Address-space limit of the kernel (RLIMIT_AS), in MiB.
        hide: Paths the kernel must not see (only enforced when the grader runs as root).
        max_file_mb: Largest file the kernel may write (RLIMIT_FSIZE), in MiB.
        max_processes: Processes and threads of the kernel's fresh uid (RLIMIT_NPROC; only as root).
        sandbox: Run the kernel as a fresh uid in a private mount namespace when the grader is root. False for a
            learner's self-check, which also runs the kernel in ``cwd``.
        cwd: The kernel's working directory when ``sandbox`` is False (default: a fresh scratch folder).
    """

    cell_timeout: float = 120.0
    total_timeout: float = 900.0
    memory_mb: int = 4096
    hide: tuple[str, ...] = ()
    max_file_mb: int = 256
    max_processes: int = 512
    sandbox: bool = True
    cwd: str | None = None

    def __post_init__(self) -> None:
        for name in ("cell_timeout", "total_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {name}={value!r}")
        if isinstance(self.memory_mb, bool) or not isinstance(self.memory_mb, int) or self.memory_mb < 256:
            raise ValueError(f"memory_mb must be an int of at least 256, got memory_mb={self.memory_mb!r}")


@dataclass
class RunResult:
    """The recorder's entries by nbval cell number, and how the run ended."""

    entries: dict[int, dict] = field(default_factory=dict)
    total_timeout: bool = False
    seconds: float = 0.0
    problem: str = ""  # pytest/nbval could not run: its exit code and output tail
    isolation: str = ""


_PROBE = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "sys.exit(0 if libc.unshare(0x00020000) == 0 and os.setgid(65534) is None and os.setuid(65534) is None else 1)\n"
)


@functools.cache
def isolation_level() -> str:
    """What the sandbox enforces here: ``"uid+mountns+rlimits"`` where a child can enter a mount namespace and drop
    to another uid (root on Linux, with the capabilities a container may withhold), else ``"rlimits"``."""
    if not (sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0):
        return "rlimits"
    probe = subprocess.run([sys.executable, "-I", "-c", _PROBE], capture_output=True, check=False, timeout=60)
    return "uid+mountns+rlimits" if probe.returncode == 0 else "rlimits"


def _kernel_env(work: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
    env.update(
        HOME=str(work),
        TMPDIR=str(work),
        XDG_CACHE_HOME=str(work / ".cache"),
        NUMBA_CACHE_DIR=str(work / ".numba"),
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(work / ".mpl"),
        PYTHONDONTWRITEBYTECODE="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        MALLOC_ARENA_MAX="2",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        NUMBA_NUM_THREADS="1",
    )
    return env


def _kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` (the sandboxed kernel and whatever it forked), a few rounds."""
    for _ in range(5):
        found = False
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    found = True
                    os.kill(int(pid), signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
        if not found:
            return
        time.sleep(0.05)


def _remove_ipc_folders(uid: int) -> None:
    """Remove the IPC socket folders given to ``uid`` (``_sandbox`` hands each kernel its folder). The provisioner
    removes its folder when nbval shuts the kernel down, but a kernel killed with its uid is not shut down by nbval."""
    tmp = Path(tempfile.gettempdir())
    for folder in tmp.glob("odyssey-ipc-*"):
        try:
            if folder.is_dir() and folder.stat().st_uid == uid:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            continue


def _kill_session(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Runner:
    """One ``_runner`` subprocess (a new session) with its own kernelspec folder; see ``_runner``."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="odyssey-runner-"))
        self.config = self.home / "sandbox.json"
        spec_dir = self.home / "jupyter" / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        argv = [sys.executable, "-I", str(_SANDBOX), str(self.config), "--"]
        argv += [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec = {"argv": argv, "display_name": "odyssey sandbox", "language": "python"}
        (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
        env = ipc_environ({k: os.environ[k] for k in _KEEP_ENV if k in os.environ})  # kernels start over IPC
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
    level = isolation_level() if limits.sandbox else "rlimits"
    uid = _UID_RANGE[0] + secrets.randbelow(_UID_RANGE[1] - _UID_RANGE[0]) if level.startswith("uid") else None
    scratch = Path(tempfile.mkdtemp(prefix="odyssey-grade-"))
    work = Path(tempfile.mkdtemp(prefix="odyssey-work-"))
    kernel_cwd = work if limits.sandbox or limits.cwd is None else Path(limits.cwd)
    result = RunResult(isolation=level)
    runner = None
    try:
        if uid is not None:
            os.chown(work, uid, uid)
        notebook = scratch / "graded.ipynb"
        nbformat.write(nb, notebook)
        report = scratch / "report.jsonl"
        config = {
            "work": str(work),
            "cwd": str(kernel_cwd),
            "uid": uid,
            "memory_mb": limits.memory_mb,
            "cpu_seconds": int(limits.total_timeout) + 5,
            "max_file_mb": limits.max_file_mb,
            "max_processes": limits.max_processes,
            "hide": [str(Path(p).resolve()) for p in limits.hide],
            "expose": sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, *(p for p in sys.path if p)}),
            "env": _kernel_env(work) if limits.sandbox else {**os.environ},
        }
        (scratch / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        argv = [str(notebook), "-p", "nbval.plugin", "-p", _PLUGIN, "-p", "no:cacheprovider", "--nbval-lax"]
        argv += [f"--nbval-kernel-name={KERNEL_NAME}", f"--nbval-cell-timeout={limits.cell_timeout:g}"]
        argv += [f"--odyssey-report={report}", "-c", str(scratch / "pytest.ini"), f"--rootdir={scratch}", "-q"]
        start = time.monotonic()
        runner = _take_runner()
        runner.config.write_text(json.dumps(config), encoding="utf-8")
        code = runner.run(argv, limits.total_timeout - (time.monotonic() - start))
        result.seconds = time.monotonic() - start
        if code is None:
            result.total_timeout = runner.proc.poll() is None
            runner.close()
            runner = None
            if not result.total_timeout:
                result.problem = "the nbval runner died"
        if uid is not None:
            _kill_uid(uid)
        if report.exists():
            for line in report.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                result.entries[entry["cell"]] = entry
        if code is not None and (code not in (0, 1) or not result.entries):
            result.problem = f"pytest exit code {code}"
    finally:
        if runner is not None:
            _give_back(runner)
        if uid is not None:
            _remove_ipc_folders(uid)
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return result
