"""One cgroup per graded submission: the memory, CPU time and process count of everything its kernel starts.

Per-process rlimits do not add up: a kernel that forks 64 busy children gets 64 CPUs' worth of time and 64 times its
memory limit. A cgroup counts the kernel and all its descendants together, and lets the grader kill all of them
(freezer) however they daemonise.

Works with cgroup v2 (one unified hierarchy whose ``cgroup.controllers`` offers memory, cpu and pids) and with v1 (a
hierarchy per controller, ``/sys/fs/cgroup/{memory,cpu,pids,freezer}``). Each run's cgroup is a child of the grader's
own cgroup in every hierarchy, so it also stays inside whatever the grader itself is limited to. Creating one needs
root; :func:`create` raises ``OSError`` when it cannot, and the caller runs without it.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_V1_CONTROLLERS = ("memory", "cpu", "pids", "freezer")  # freezer: to kill a run's processes without races
_V2_CONTROLLERS = ("memory", "cpu", "pids")
_PERIOD_US = 100_000  # the CFS period; cpus=1.0 means 100 ms of CPU time per 100 ms
_NEEDS_SWAP_ACCOUNTING = ("memory.memsw.limit_in_bytes", "memory.swap.max")  # absent without swap accounting
_MB = 1024 * 1024


@dataclass(frozen=True)
class Cgroup:
    """A run's cgroup: one folder per v1 controller, or a single v2 folder.

    Attributes:
        version: 1 or 2.
        folders: Controller name -> the run's folder in that controller's hierarchy (v2: the same folder for all).
    """

    version: int
    folders: dict[str, Path]

    @property
    def isolation(self) -> str:
        """E.g. ``"cgroup-v1(memory,cpu,pids,freezer)"``."""
        return f"cgroup-v{self.version}({','.join(self.folders)})"

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid to, to join the cgroup in every hierarchy."""
        return [str(folder / "cgroup.procs") for folder in dict.fromkeys(self.folders.values())]

    def pids(self) -> set[int]:
        """Every process in the cgroup (host pids)."""
        found: set[int] = set()
        for procs in self.procs_files:
            try:
                found.update(int(line) for line in Path(procs).read_text().split())
            except FileNotFoundError:
                continue
        return found

    def kill(self, timeout: float = 10.0) -> bool:
        """SIGKILL every process in the cgroup (frozen first, so none can fork meanwhile); True when none is left."""
        folder = next(iter(self.folders.values()))
        if self.version == 2 and (folder / "cgroup.kill").exists():
            (folder / "cgroup.kill").write_text("1")  # atomic, since Linux 5.14
        else:
            with self._frozen():
                _sigkill(self.pids())
        deadline = time.monotonic() + timeout
        while pids := self.pids():
            if time.monotonic() > deadline:
                return False
            _sigkill(pids)  # without a freezer: what was forked during the first round
            time.sleep(0.02)
        return True

    def remove(self) -> None:
        """Kill what is left and remove the cgroup's folders (a warning names any that stays, e.g. with a process
        stuck in the kernel)."""
        self.kill()
        for folder in dict.fromkeys(self.folders.values()):
            for attempt in range(250):  # a killed process leaves its cgroup a moment after it leaves cgroup.procs
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if attempt == 249:
                        warnings.warn(f"cgroup {folder} could not be removed: {exc}", RuntimeWarning, stacklevel=2)
                    time.sleep(0.02)

    @contextmanager
    def _frozen(self) -> Iterator[None]:
        """Freeze the cgroup's processes (v1 freezer or v2 cgroup.freeze) and thaw them afterwards, so that a
        SIGKILL sent meanwhile lands; nothing where neither is available."""
        if self.version == 2:
            folder = self.folders["pids"]
            switch, state, on, off = folder / "cgroup.freeze", folder / "cgroup.events", ("1", "frozen 1"), ("0", "")
        elif "freezer" in self.folders:
            switch = state = self.folders["freezer"] / "freezer.state"
            on, off = ("FROZEN", "FROZEN"), ("THAWED", "")
        else:
            yield
            return
        _switch(switch, *on, state)
        try:
            yield
        finally:
            _switch(switch, *off, state)


def _sigkill(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def _switch(path: Path, value: str, reached: str, state: Path) -> None:
    """Write ``value`` to ``path``, then wait briefly until ``state`` reads ``reached``."""
    path.write_text(value)
    for _ in range(250):
        if reached in state.read_text():
            return
        time.sleep(0.004)


def _own_cgroups() -> tuple[dict[str, Path], Path | None]:
    """The grader's own cgroup folders: v1 controller -> folder, and the v2 folder (None without a unified mount)."""
    own: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    v1: dict[str, Path] = {}
    v2 = None
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        tail = fields[fields.index("-") + 1 :]
        root, mountpoint, fstype, options = fields[3], fields[4], tail[0], tail[2].split(",")
        for controller in [""] if fstype == "cgroup2" else options if fstype == "cgroup" else []:
            path = own.get(controller)
            if path is None or not (path + "/").startswith(root.rstrip("/") + "/"):
                continue  # not the grader's hierarchy, or its cgroup lies outside this mount
            folder = Path(mountpoint) / path[len(root.rstrip("/")) :].lstrip("/")
            if controller:
                v1[controller] = folder
            else:
                v2 = folder
    return v1, v2


def _v2_offers(folder: Path | None) -> bool:
    try:
        offered = (folder / "cgroup.controllers").read_text().split() if folder is not None else []
    except OSError:
        return False
    return all(c in offered for c in _V2_CONTROLLERS)


def create(*, memory_mb: int, cpus: float, max_processes: int) -> Cgroup:
    """A fresh cgroup under the grader's own, limited to ``memory_mb`` MiB of memory in total (no swap beyond it),
    ``cpus`` CPUs' worth of time and ``max_processes`` processes and threads; v2 where the unified hierarchy offers
    the controllers, else v1.

    Raises:
        OSError: Not root, no usable cgroup hierarchy, or a limit could not be written (nothing is left behind).
    """
    v1, v2 = _own_cgroups()
    _reclaim({folder for folder in [*v1.values(), v2] if folder is not None})
    name = f"odyssey-{os.getpid()}-{_started(os.getpid())}-{secrets.token_hex(4)}"
    quota = max(int(cpus * _PERIOD_US), 1000)
    if _v2_offers(v2):
        (v2 / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in _V2_CONTROLLERS))  # EBUSY where the
        group = Cgroup(2, dict.fromkeys(_V2_CONTROLLERS, v2 / name))  # grader's own cgroup holds processes
        limits = [("memory", "memory.max", memory_mb * _MB), ("memory", "memory.swap.max", 0)]
        limits += [("cpu", "cpu.max", f"{quota} {_PERIOD_US}"), ("pids", "pids.max", max_processes)]
    else:
        present = [c for c in _V1_CONTROLLERS if c in v1]
        if not present:
            raise OSError("no cgroup hierarchy with the memory, cpu, pids or freezer controller is mounted")
        group = Cgroup(1, {c: v1[c] / name for c in present})
        limits = [("memory", "memory.limit_in_bytes", memory_mb * _MB)]
        limits += [("memory", "memory.memsw.limit_in_bytes", memory_mb * _MB), ("cpu", "cpu.cfs_period_us", _PERIOD_US)]
        limits += [("cpu", "cpu.cfs_quota_us", quota), ("pids", "pids.max", max_processes)]
    try:
        for folder in dict.fromkeys(group.folders.values()):
            folder.mkdir()
        for controller, file, value in limits:
            path = group.folders[controller] / file if controller in group.folders else None
            if path is not None and (path.exists() or file not in _NEEDS_SWAP_ACCOUNTING):
                path.write_text(str(value))
    except OSError:
        group.remove()
        raise
    return group


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks after boot), which tells it from a later process with its pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (FileNotFoundError, IndexError):
        return None


def _reclaim(parents: set[Path]) -> None:
    """Remove the cgroups that graders killed before closing their jails left behind (``odyssey-PID-START-*``
    whose creating process is gone), killing what is still in them."""
    for parent in parents:
        for folder in parent.glob("odyssey-*-*-*"):
            _, pid, start, _ = folder.name.split("-", 3)
            if pid.isdigit() and _started(int(pid)) != start:
                Cgroup(1, {"pids": folder}).remove()
