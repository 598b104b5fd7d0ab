"""The sandbox of one graded kernel run: what the kernel may see, write and use, and the cleanup after it.

A :class:`Jail` is made per kernel run from :class:`Limits` and the kernel's work folder. It writes the launcher's
configuration (``_launcher.py``), gives the kernelspec that starts the kernel through the launcher, says what it
enforces (:attr:`Jail.isolation`), and on :meth:`Jail.close` kills every process of the run and removes its cgroup,
IPC folders and configuration. As root on Linux:

- the kernel runs under bubblewrap (``bwrap``) in its own network, PID, IPC and UTS namespaces, on a read-only view of
  only the system folders, the Python installation and the ``odyssey_lessons`` package (no repository, ``.git``,
  solutions, submissions or output folder), with a fresh ``/proc``, a minimal ``/dev``, tmpfs ``/tmp`` and its work
  folder as the only writable places; it is reached only through its IPC socket folder, bound in at the same path;
- it runs as a fresh unprivileged uid with no capabilities (``setpriv`` inside the sandbox);
- it and all its descendants share one cgroup (``_cgroup``): total memory, CPU time and process count.

rlimits apply everywhere (``RLIMIT_AS`` per process, ``RLIMIT_CPU``, ``RLIMIT_FSIZE``, no core files).
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import odyssey_lessons
from odyssey_lessons._validate import check_int, check_real
from odyssey_lessons.grading import _cgroup
from odyssey_lessons.grading._provisioner import PROVISIONER_NAME, ipc_available

_LAUNCHER = Path(__file__).with_name("_launcher.py")
_UID_RANGE = (2_000_000, 3_000_000)  # far above any real account; one fresh uid per run
KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT")
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group", "hosts", "ssl")
_NAMESPACES = ("net", "pid", "ipc", "uts")  # "net" only where kernels talk over IPC sockets (see _bwrap_argv)


@dataclass(frozen=True)
class Limits:
    """What one submission may use.

    Args:
        cell_timeout: Seconds one cell may run before it is interrupted.
        total_timeout: Seconds the whole run (kernel start included) may take before everything is killed.
        memory_mb: Memory of the kernel, in MiB: the address space of each process (RLIMIT_AS) and, as root, the
            memory of all the run's processes together (cgroup).
        hide: Paths the kernel must not see (only enforced when the grader runs as root).
        max_file_mb: Largest file the kernel may write (RLIMIT_FSIZE), in MiB.
        max_processes: Processes and threads of the run (as root: the cgroup's pids.max and RLIMIT_NPROC of its uid).
        cpus: CPU time of all the run's processes together, in CPUs (as root: the cgroup's CFS quota, like
            ``docker run --cpus``).
        sandbox: Run the kernel in the sandbox (see the module docstring) when the grader is root. False for a
            learner's self-check, which also runs the kernel in ``cwd``.
        cwd: The kernel's working directory when ``sandbox`` is False (default: its work folder).
    """

    cell_timeout: float = 120.0
    total_timeout: float = 900.0
    memory_mb: int = 4096
    hide: tuple[str, ...] = ()
    max_file_mb: int = 256
    max_processes: int = 512
    cpus: float = 1.0
    sandbox: bool = True
    cwd: str | None = None

    def __post_init__(self) -> None:
        # Stored as plain floats and ints: the sandbox's configuration is written as JSON (numpy scalars are not).
        for name in ("cell_timeout", "total_timeout"):
            object.__setattr__(self, name, check_real(name, getattr(self, name), low=0, low_open=True, finite=False))
        # a CPU share is a cgroup quota, a whole number of microseconds per period: finite
        object.__setattr__(self, "cpus", check_real("cpus", self.cpus, low=0, low_open=True))
        for name, least in (("memory_mb", 256), ("max_processes", 16), ("max_file_mb", 1)):
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum=least))


_PROBE_BWRAP = ["--unshare-pid", "--unshare-net", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--"]


@functools.cache
def isolation_level() -> str:
    """What the sandbox enforces here, e.g. ``"uid+bwrap(net,pid,ipc,uts,ro-root)+cgroup-v1(memory,cpu,pids,freezer)
    +rlimits"`` as root with bubblewrap and cgroups; parts drop out where a probe fails (no ``bwrap``, a container
    that withholds the capabilities, no cgroup hierarchy). Without root: ``"bwrap(user,net,pid,ipc,uts,ro-root)
    +rlimits"`` where the system lets bubblewrap make a user namespace, else ``"rlimits"``."""
    bwrap = shutil.which("bwrap")
    if not sys.platform.startswith("linux"):
        return "rlimits"
    if os.geteuid() != 0:  # bubblewrap in a user namespace, where the system allows them; no uid, no cgroup
        probe = [bwrap, "--unshare-user", *_PROBE_BWRAP, "true"] if bwrap else None
        works = probe is not None and subprocess.run(probe, capture_output=True, check=False).returncode == 0
        return f"{_bwrap_isolation()}+rlimits" if works else "rlimits"
    drop = _drop_argv(65534)
    if drop is None or subprocess.run([*drop, "true"], capture_output=True, check=False).returncode != 0:
        return "rlimits"
    parts = ["uid"]
    if bwrap and subprocess.run([bwrap, *_PROBE_BWRAP, *drop, "true"], capture_output=True).returncode == 0:
        parts.append(_bwrap_isolation())
    try:
        group = _cgroup.create(memory_mb=256, cpus=1.0, max_processes=16)
    except OSError:
        pass
    else:
        group.remove()
        parts.append(group.isolation)
    return "+".join([*parts, "rlimits"])


def _bwrap_isolation() -> str:
    namespaces = [n for n in _NAMESPACES if n != "net" or ipc_available()]
    if os.geteuid() != 0:
        namespaces.insert(0, "user")
    return f"bwrap({','.join(namespaces)},ro-root)"


def _drop_argv(uid: int) -> list[str] | None:
    """``setpriv`` arguments that run a command as ``uid`` with no groups, capabilities or way to regain them."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [
        setpriv,
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
    ]


def kernel_env(work: Path) -> dict[str, str]:
    """The whole environment of a kernel whose home and temporary folder are ``work``: nothing of the grader's,
    except that it imports the grader's own ``odyssey_lessons`` and runs single-threaded."""
    env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
    env.update(
        HOME=str(work),
        TMPDIR=str(work),
        PYTHONPATH=str(_package_dir().parent),  # the kernel imports the grader's own odyssey_lessons
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


def _package_dir() -> Path:
    return Path(odyssey_lessons.__file__).resolve().parent


@functools.cache
def _python_paths() -> tuple[Path, ...]:
    """What the kernel's Python needs to read: its installation and the ``sys.path`` it starts with (asked of it, with
    the kernel's ``PYTHONPATH``). A folder outside the installation that holds ``odyssey_lessons`` (a source checkout)
    contributes only the package, not its ``.git``, ``solutions/``, tests or anything else beside it."""
    package = _package_dir()
    show = "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path]))"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(package.parent)}
    probe = subprocess.run([sys.executable, "-c", show], env=env, cwd="/", capture_output=True, check=True, text=True)
    prefixes, entries = json.loads(probe.stdout)[:3], json.loads(probe.stdout)[3:]
    prefixes = {Path(p).resolve() for p in (*prefixes, sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths = {package, *prefixes}
    for path in (Path(entry).resolve() for entry in entries if entry):
        checkout = package.is_relative_to(path) and not any(path.is_relative_to(p) for p in prefixes)
        if path.exists() and path != Path("/") and not checkout:
            paths.add(path)
    outer = sorted(paths, key=lambda p: len(p.parts))
    kept = [p for i, p in enumerate(outer) if not any(p.is_relative_to(q) for q in outer[:i])]
    return tuple(p for p in kept if not any(p.is_relative_to(s) for s in _SYSTEM))


def _bwrap_argv(bwrap: str, work: Path, limits: Limits, empty: Path) -> list[str]:
    """bwrap's arguments up to the kernel's IPC folder and command, which the launcher adds. A hidden path inside
    what is exposed is covered by an empty tmpfs, or by ``empty`` (an empty file: a device node such as /dev/null
    cannot be opened on bwrap's nodev mounts)."""
    argv = [bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "odyssey"]
    if os.geteuid() != 0:  # without root, bwrap builds the sandbox in a user namespace
        argv.append("--unshare-user")
    if ipc_available():  # over TCP the grader could not reach a kernel in its own network namespace
        argv.append("--unshare-net")
    argv += ["--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for top in _SYSTEM[1:]:
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    for name in _ETC:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm"]
    argv += ["--perms", "1777", "--size", str(limits.memory_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    readable = _python_paths()
    fixed = [Path(p) for p in ("/dev", "/proc", *_SYSTEM)]  # read-only or made by bwrap: nothing is made inside
    parents = {a for p in [*readable, work] for a in p.parents if not any(a.is_relative_to(m) for m in fixed)}
    parents -= {Path("/"), Path("/tmp")}  # a checkout or venv under /tmp needs its folders made in the private /tmp
    for folder in sorted(parents, key=lambda p: len(p.parts)):  # bwrap would make them 0700
        argv += ["--perms", "0755", "--dir", str(folder)]
    for path in readable:
        argv += ["--ro-bind", str(path), str(path)]
    for hidden in (Path(p).resolve() for p in limits.hide):
        if any(hidden.is_relative_to(p) for p in readable) and hidden.exists():
            argv += ["--tmpfs", str(hidden)] if hidden.is_dir() else ["--ro-bind", str(empty), str(hidden)]
    return [*argv, "--bind", str(work), str(work)]


class Jail:
    """The sandbox of one kernel run (see the module docstring); a context manager that closes itself.

    Args:
        limits: What the run may use; ``limits.sandbox`` False gives only rlimits, in ``limits.cwd``.
        work: The kernel's work folder (its cwd, HOME and TMPDIR): made and removed by the caller; given to the
            run's uid here.

    Attributes:
        isolation: What is enforced, e.g. ``"uid+bwrap(net,pid,ipc,uts,ro-root)+cgroup-v1(memory,cpu,pids,freezer)
            +rlimits"``; a cgroup that could not be made for this run is named with the reason.
        uid: The run's fresh uid, or None.
        config: The launcher's configuration file.
    """

    def __init__(self, limits: Limits, work: Path) -> None:
        level = isolation_level() if limits.sandbox else "rlimits"
        self.uid = _UID_RANGE[0] + secrets.randbelow(_UID_RANGE[1] - _UID_RANGE[0]) if "uid" in level else None
        self.cgroup: _cgroup.Cgroup | None = None
        self._home = Path(tempfile.mkdtemp(prefix="odyssey-jail-"))
        self.config = self._home / "sandbox.json"
        parts = ["uid"] if self.uid is not None else []
        try:
            config = {
                "work": str(work),
                "cwd": str(work if limits.sandbox or limits.cwd is None else limits.cwd),
                "uid": self.uid,
                "memory_mb": limits.memory_mb,
                "cpu_seconds": int(limits.total_timeout) + 5,
                "max_file_mb": limits.max_file_mb,
                "max_processes": limits.max_processes,
                "env": kernel_env(work) if limits.sandbox else {**os.environ},
                "bwrap": None,
                "drop": None,
                "cgroup": [],
            }
            if self.uid is not None:
                os.chown(work, self.uid, self.uid)
                config["drop"] = _drop_argv(self.uid)
            if "bwrap(" in level:
                empty = self._home / "empty"
                empty.touch(mode=0o444)
                config["bwrap"] = _bwrap_argv(shutil.which("bwrap") or "bwrap", work, limits, empty)
                parts.append(_bwrap_isolation())
            if "cgroup-" in level:
                try:
                    self.cgroup = _cgroup.create(
                        memory_mb=limits.memory_mb, cpus=limits.cpus, max_processes=limits.max_processes
                    )
                    config["cgroup"] = self.cgroup.procs_files
                    parts.append(self.cgroup.isolation)
                except OSError as exc:
                    parts.append(f"no-cgroup({exc})")
            self.config.write_text(json.dumps(config), encoding="utf-8")
        except BaseException:
            self.close()
            raise
        self.isolation = "+".join([*parts, "rlimits"])

    def kernel_spec(self) -> dict:
        """A kernelspec (``kernel.json``) that starts ipykernel in this jail, over IPC where available, interrupted by
        message (a signal to the launcher does not reach a kernel in its own PID namespace)."""
        argv = [sys.executable, "-I", str(_LAUNCHER), str(self.config), "--"]
        argv += [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec = {"argv": argv, "display_name": "odyssey sandbox", "language": "python", "interrupt_mode": "message"}
        if ipc_available():
            spec["metadata"] = {"kernel_provisioner": {"provisioner_name": PROVISIONER_NAME}}
        return spec

    def close(self) -> None:
        """Kill every process of the run and remove its cgroup, IPC socket folders and configuration (idempotent)."""
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.uid is not None:
            _kill_uid(self.uid)  # without a cgroup; with one, a no-op
            _remove_ipc_folders(self.uid)
        shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self) -> Jail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
    """Remove the IPC socket folders given to ``uid`` (``_launcher`` hands each kernel its folder). The provisioner
    removes its folder when the kernel is shut down, but a kernel killed with its uid is not shut down."""
    for folder in Path(tempfile.gettempdir()).glob("odyssey-ipc-*"):
        try:
            if folder.is_dir() and folder.stat().st_uid == uid:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            continue
