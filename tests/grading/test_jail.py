"""The grading sandbox (``_jail``): what a kernel started in a :class:`Jail` can and cannot do.

The kernels run as ``odyssey grade`` runs them (the jail's kernelspec, over IPC, through ``_launcher.py``) and are
driven directly with jupyter_client. The sandbox tests need bubblewrap (without root: one that can make user
namespaces), some also root and cgroups (CI runs as root and installs bubblewrap); elsewhere they skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from odyssey_lessons.grading import _cgroup
from odyssey_lessons.grading._jail import Jail, Limits, _python_paths, isolation_level, kernel_env
from odyssey_lessons.grading._kernel import Kernel

REPO = Path(__file__).resolve().parents[2]
LIMITS = Limits(cell_timeout=10, total_timeout=120, memory_mb=1024, max_processes=64)
pytestmark = pytest.mark.notebook


def needs(*parts: str) -> pytest.MarkDecorator:
    level = isolation_level()
    missing = [part for part in parts if part not in level]
    reason = f"needs {', '.join(missing)} (bubblewrap; cgroups need root); isolation here is {level!r}"
    return pytest.mark.skipif(bool(missing), reason=reason)


@contextmanager
def kernel(jail: Jail) -> Iterator[Callable[[str], str]]:
    """A kernel started by the grader's driver from ``jail``'s kernelspec; yields ``run(code) -> what it printed`` (an
    exception shows as ``ERROR Name: value``)."""
    work = Path(json.loads(jail.config.read_text(encoding="utf-8"))["work"])
    with Kernel(jail.kernel_spec(), cwd=work, env=kernel_env(work)) as started:

        def run(code: str) -> str:
            outcome = started.execute(code, timeout=60)
            return (outcome.printed + "".join(f"ERROR {e}" for e in outcome.errors)).strip()

        yield run


HIDDEN_IN_PACKAGE = REPO / "odyssey_lessons" / "grading" / "_gradebook.py"  # exposed with the package, then hidden


@pytest.fixture(scope="module")
def jailed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Jail, Callable[[str], str], Path]]:
    """A jail and its kernel, shared by the module's read-only probes; and a secret file the jail hides."""
    work = Path(tempfile.mkdtemp(prefix="odyssey-work-"))
    secret = tmp_path_factory.mktemp("secret") / "answer.txt"
    secret.write_text("42", encoding="utf-8")
    limits = Limits(**{**LIMITS.__dict__, "hide": (str(secret.parent), str(HIDDEN_IN_PACKAGE))})
    try:
        with Jail(limits, work) as jail, kernel(jail) as run:
            yield jail, run, secret
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the caller removes its work folder


@needs("bwrap(")
def test_kernel_cannot_reach_the_hosts_loopback(jailed: tuple[Jail, Callable[[str], str], Path]) -> None:
    _, run, _ = jailed
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # reachable from the host
        seen = run(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)")
    assert seen.startswith("ERROR ConnectionRefusedError"), seen


@needs("bwrap(")
def test_kernel_sees_only_its_own_processes_and_ipc_folder(jailed: tuple[Jail, Callable[[str], str], Path]) -> None:
    jail, run, _ = jailed
    seen = json.loads(
        run(
            "import json, os\n"
            "procs = {p: open(f'/proc/{p}/cmdline').read() for p in os.listdir('/proc') if p.isdigit()}\n"
            "status = dict(line.split(':\\t', 1) for line in open('/proc/self/status').read().splitlines())\n"
            "print(json.dumps({'procs': procs, 'tmp': sorted(os.listdir('/tmp')), 'uid': os.getuid(),"
            " 'caps': status['CapEff'], 'nnp': status['NoNewPrivs']}))"
        )
    )
    assert len(seen["procs"]) <= 3 and not any("pytest" in cmd for cmd in seen["procs"].values()), seen["procs"]
    assert seen["uid"] == _kernel_uid(jail) != 0 and (int(seen["caps"], 16), seen["nnp"]) == (0, "1")
    work = json.loads(jail.config.read_text(encoding="utf-8"))["work"]
    shown = {p.relative_to("/tmp").parts[0] for p in _python_paths() if p.is_relative_to("/tmp")}  # a checkout in /tmp
    kept = sorted(os.path.join("/tmp", n) for n in seen["tmp"] if not n.startswith("odyssey-ipc-") and n not in shown)
    assert kept == [work]
    assert sum(name.startswith("odyssey-ipc-") for name in seen["tmp"]) == 1  # its own socket folder, no other's


@needs("bwrap(")
def test_kernel_sees_only_the_package_of_the_repository(jailed: tuple[Jail, Callable[[str], str], Path]) -> None:
    jail, run, _ = jailed
    paths = [REPO / ".git", REPO / "solutions", REPO / "tests", REPO / "exercises", REPO / "README.md", "/var", "/home"]
    paths += [Path(p) for p in ("/etc/shadow", "/root/.bashrc", "/sys")]
    seen = json.loads(
        run(
            "import json, os, odyssey_lessons\n"
            f"print(json.dumps({{'exists': [os.path.exists(p) for p in {[str(p) for p in paths]!r}],"
            " 'package': odyssey_lessons.__file__, 'root': sorted(os.listdir('/root'))}))"
        )
    )
    assert not any(seen["exists"]), dict(zip(map(str, paths), seen["exists"], strict=True))
    assert seen["package"] == str(REPO / "odyssey_lessons" / "__init__.py")
    assert seen["root"] in ([], [".pyenv"])  # at most the way to a Python installed under /root


@needs("bwrap(")
def test_kernel_cannot_read_hidden_paths(jailed: tuple[Jail, Callable[[str], str], Path]) -> None:
    _, run, secret = jailed
    assert run(f"open({str(secret)!r}).read()").startswith("ERROR FileNotFoundError")
    assert run(f"print(repr(open({str(HIDDEN_IN_PACKAGE)!r}).read()))") == "''"  # covered by /dev/null


@needs("bwrap(")
def test_kernel_writes_only_its_work_folder(jailed: tuple[Jail, Callable[[str], str], Path]) -> None:
    jail, run, _ = jailed
    targets = [REPO / "odyssey_lessons" / "planted.py", Path("/usr/planted"), Path("/etc/planted"), Path("/planted")]
    code = "import os\nfor path in {!r}:\n    try:\n        open(path, 'w').write('x')\n        print('wrote', path)\n"
    code += "    except OSError as exc:\n        print(type(exc).__name__)\nopen('mine.txt', 'w').write('ok')"
    seen = run(code.format([str(t) for t in targets])).split()
    assert "wrote" not in seen and len(seen) == len(targets), seen
    work = Path(json.loads(jail.config.read_text(encoding="utf-8"))["work"])
    assert (work / "mine.txt").read_text(encoding="utf-8") == "ok"
    assert (work / "mine.txt").stat().st_uid == _kernel_uid(jail)
    assert not any(t.exists() for t in targets)


@needs("cgroup-")
def test_memory_limit_counts_all_children_together(jailed: tuple[Jail, Callable[[str], str], Path]) -> None:
    _, run, _ = jailed
    half = int(LIMITS.memory_mb * 0.6)  # each child fits its own RLIMIT_AS; both together exceed the cgroup
    code = f"import subprocess, sys\nchild = \"import time; b = b'x' * ({half} << 20); time.sleep(3)\"\n"
    code += "ps = [subprocess.Popen([sys.executable, '-c', child]) for _ in range(2)]\nprint([p.wait() for p in ps])"
    assert -9 in json.loads(run(code))  # the OOM killer took one of them
    assert "ERROR MemoryError" in run(f"b = b'x' * ({LIMITS.memory_mb} << 20)")  # RLIMIT_AS: one process alone


@needs("cgroup-")
def test_process_limit_holds(jailed: tuple[Jail, Callable[[str], str], Path]) -> None:
    _, run, _ = jailed
    code = "import subprocess\nprocs, error = [], None\ntry:\n    for _ in range(200):\n"
    code += "        procs.append(subprocess.Popen(['sleep', '60']))\nexcept OSError as exc:\n    error = repr(exc)\n"
    code += "for p in procs:\n    p.kill()\n    p.wait()\nprint(len(procs), error)"
    started, error = run(code).split(" ", 1)
    assert 0 < int(started) < LIMITS.max_processes and "BlockingIOError" in error, (started, error)


@needs("bwrap(", "cgroup-")
def test_close_kills_every_process_and_removes_the_cgroup() -> None:
    work = Path(tempfile.mkdtemp(prefix="odyssey-work-"))
    try:
        with Jail(LIMITS, work) as jail, kernel(jail) as run:
            daemon = (
                "import os, signal, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                "        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n        time.sleep(600)\n    os._exit(0)\n"
                "os.waitpid(pid, 0)\nprint('daemonised')"
            )
            assert run(daemon) == "daemonised"
            group = jail.cgroup
            pids = group.pids()
            assert len(pids) >= 4  # bwrap outside and inside the PID namespace, the kernel, the daemon
            jail.close()  # before the kernel manager shuts the kernel down: the jail alone kills them all
            assert all(_dead(pid) for pid in pids) and not _uid_processes(jail.uid)
            assert not any(folder.exists() for folder in group.folders.values())
            assert not jail.config.exists() and jail.cgroup is None
    finally:
        shutil.rmtree(work, ignore_errors=True)


@needs("cgroup-")
def test_a_new_cgroup_reclaims_those_of_dead_graders() -> None:
    first = _cgroup.create(memory_mb=256, cpus=1, max_processes=16)
    first.remove()
    parents = {folder.parent for folder in first.folders.values()}
    orphans = [parent / "odyssey-999999999-1-gone" for parent in parents]  # a pid above any pid_max: its grader died
    for folder in orphans:
        folder.mkdir()
    group = _cgroup.create(memory_mb=256, cpus=1, max_processes=16)
    group.remove()
    assert not any(folder.exists() for folder in [*orphans, *group.folders.values()])


def _kernel_uid(jail: Jail) -> int:
    """The run's fresh uid as root; without root, the kernel runs as the grader's user (in a user namespace)."""
    return jail.uid if jail.uid is not None else os.getuid()


def _dead(pid: int) -> bool:
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


def _uid_processes(uid: int) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid and not _dead(int(pid)):
                found.append(int(pid))
        except FileNotFoundError:
            continue
    return found


@needs("bwrap(")
def test_cell_timeout_interrupts_a_busy_kernel_and_a_deaf_one_is_killed() -> None:
    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="odyssey-work-"))  # not under pytest's 0700 folders: the run's uid enters it
    with Jail(Limits(cell_timeout=2, total_timeout=60, memory_mb=1024), work) as jail:
        with Kernel(jail.kernel_spec(), cwd=work, env=kernel_env(work)) as started:
            uid = int(started.execute("import os\nprint(os.getuid())", 30).printed)
            busy = started.execute("while True: pass", 2)
            assert (busy.status, busy.errors, busy.alive) == ("timeout", ["KeyboardInterrupt: "], True)
            assert started.execute("print('after')", 30).printed == "after\n"
            deaf = started.execute("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass", 2)
            assert (deaf.status, deaf.alive) == ("timeout", False)
            assert not started.alive()
        isolation = jail.isolation
    shutil.rmtree(work, ignore_errors=True)
    assert time.monotonic() - start < 45
    if "uid" in isolation:  # a fresh uid: none of its processes is left
        assert not _uid_processes(uid)


def test_jail_without_sandbox_or_cgroup_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with Jail(Limits(sandbox=False, cwd=str(tmp_path)), tmp_path) as jail:
        assert (jail.isolation, jail.uid, jail.cgroup) == ("rlimits", None, None)
        assert jail.kernel_spec()["interrupt_mode"] == "message"
    if "cgroup-" in isolation_level():

        def refuse(**kwargs: object) -> None:
            raise OSError("cgroups refused")

        monkeypatch.setattr(_cgroup, "create", refuse)
        with Jail(LIMITS, tmp_path) as jail:
            assert "no-cgroup(cgroups refused)" in jail.isolation and jail.cgroup is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"cpus": 0}, ValueError, "cpus=0"),
        ({"max_processes": 4}, ValueError, "max_processes=4"),
        ({"max_processes": "many"}, TypeError, "max_processes='many'"),
        ({"max_file_mb": 0.5}, TypeError, "max_file_mb=0.5"),
    ],
)
def test_limits_validate_the_sandbox_fields(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Limits(**kwargs)
