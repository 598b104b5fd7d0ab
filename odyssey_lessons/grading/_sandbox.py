"""The kernel launcher of a graded submission: limits, hides, drops privileges, then execs the real kernel.

Run as a script by path (``python -I _sandbox.py CONFIG -- KERNEL_ARGV...``; standard library only, so it starts fast
and imports nothing a student could have touched). ``CONFIG`` is a JSON file written by the grader:

- ``work``: the kernel's own folder (with a uid, the only place it may write); the connection file is copied there.
  A kernel that connects over IPC (``_provisioner``) is also given its socket folder.
- ``cwd``: the kernel's working directory (default ``work``).
- ``uid``: a fresh user id for this submission, or null. With a uid (the grader runs as root) the launcher first
  enters a private mount namespace, mounts an empty unreadable tmpfs over every ``hide`` path (the grading master,
  solutions, submissions, the output folder), then drops to that uid: the kernel can read none of those, cannot undo
  the mounts, cannot signal the grader's processes and cannot write outside ``work`` and world-writable folders.
- ``expose``: paths the kernel needs (the Python installation, ``sys.path``). When one lies under a folder the uid may
  not enter (``/root`` holding a pyenv Python), that folder is covered by a tmpfs in which only the needed paths are
  bind-mounted back: the kernel can run Python but sees nothing else of that folder.
- ``memory_mb``, ``cpu_seconds``, ``max_file_mb``, ``max_processes``: resource limits (RLIMIT_AS, RLIMIT_CPU,
  RLIMIT_FSIZE, RLIMIT_NPROC -- the last only with a uid, since it counts every process of the user).
- ``env``: the kernel's whole environment.

Exit code 97 and a message on stderr when a step fails (the grader reports the kernel as not started).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x1000, 0x4000, 0x40000
_MB = 1024 * 1024


def _libc_call(name: str, *args: object) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}{args!r}: {os.strerror(errno)}")


def _hide(paths: list[str]) -> None:
    """A private mount namespace in which every path in ``paths`` is covered by an empty, unreadable mount."""
    _libc_call("unshare", CLONE_NEWNS)
    _libc_call("mount", b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    for path in paths:
        target = os.fsencode(path)
        if os.path.isdir(path):
            flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
            _libc_call("mount", b"tmpfs", target, b"tmpfs", flags, b"size=4k,mode=000")
        elif os.path.exists(path):
            _libc_call("mount", b"/dev/null", target, None, MS_BIND, None)


def _blocking_ancestor(path: str) -> str | None:
    """The top-most ancestor of ``path`` that other users may not enter, or None."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    for depth in range(1, len(parts)):
        folder = os.sep + os.path.join(*parts[:depth])
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def _expose(paths: list[str]) -> None:
    """Make each path reachable for another uid: cover its closed ancestor by a tmpfs and bind the path back in."""
    import tempfile

    blocked: dict[str, list[str]] = {}
    for path in sorted({os.path.realpath(p) for p in paths if os.path.exists(p)}):
        ancestor = _blocking_ancestor(path)
        if ancestor is not None and not any(path.startswith(kept + os.sep) for kept in blocked.get(ancestor, [])):
            blocked.setdefault(ancestor, []).append(path)
    for ancestor, inside in blocked.items():
        staged = []
        for path in inside:
            stage = tempfile.mkdtemp(prefix="odyssey-expose-")
            _libc_call("mount", os.fsencode(path), os.fsencode(stage), None, MS_BIND | MS_REC, None)
            staged.append((path, stage))
        _libc_call("mount", b"tmpfs", os.fsencode(ancestor), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=755")
        for path, stage in staged:
            if os.path.isdir(stage):
                os.makedirs(path, exist_ok=True)
            _libc_call("mount", os.fsencode(stage), os.fsencode(path), None, MS_BIND | MS_REC, None)
            _libc_call("umount2", os.fsencode(stage), 2)  # MNT_DETACH
            os.rmdir(stage)


def _own_ipc_folder(connection: dict, uid: int) -> None:
    """Give the kernel's IPC socket folder (made by the grader's ``odyssey-ipc`` provisioner, mode 0700) to ``uid``,
    so the kernel can create its sockets there while other submissions' uids cannot connect to them."""
    if connection.get("transport") != "ipc":
        return
    folder = os.path.dirname(connection["ip"])
    if not os.path.basename(folder).startswith("odyssey-ipc-") or os.stat(folder).st_uid != os.getuid():
        raise OSError(1, f"IPC socket folder {folder!r} was not made by the grader's provisioner")
    os.chown(folder, uid, uid)


def _limit(config: dict) -> None:
    limits = [
        (resource.RLIMIT_AS, config["memory_mb"] * _MB),
        (resource.RLIMIT_CPU, config["cpu_seconds"]),
        (resource.RLIMIT_FSIZE, config["max_file_mb"] * _MB),
        (resource.RLIMIT_CORE, 0),
    ]
    if config["uid"] is not None:
        limits.append((resource.RLIMIT_NPROC, config["max_processes"]))
    for which, value in limits:
        resource.setrlimit(which, (value, value))


def main(argv: list[str]) -> None:
    config_path, separator, *kernel = argv
    if separator != "--" or "-f" not in kernel:
        raise SystemExit(f"usage: _sandbox.py CONFIG -- KERNEL_ARGV (with -f CONNECTION_FILE), got {argv!r}")
    with open(config_path, encoding="utf-8") as file:
        config = json.load(file)
    work, uid = config["work"], config["uid"]
    try:
        connection = kernel[kernel.index("-f") + 1]
        with open(connection, encoding="utf-8") as file:
            text = file.read()
        copied = os.path.join(work, "kernel-connection.json")
        with open(copied, "w", encoding="utf-8") as file:
            file.write(text)
        kernel[kernel.index("-f") + 1] = copied
        if uid is not None:
            _own_ipc_folder(json.loads(text), uid)
            _hide(config["hide"])
            _expose(config["expose"])
            os.chown(copied, uid, uid)
            os.chmod(copied, 0o600)
        _limit(config)
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.chdir(config.get("cwd") or work)
    except OSError as exc:
        print(f"odyssey sandbox: {exc}", file=sys.stderr)
        os._exit(97)
    os.execve(kernel[0], kernel, config["env"])


if __name__ == "__main__":
    main(sys.argv[1:])
