"""The kernel launcher of a graded submission: joins its cgroup, sets limits, then execs the kernel inside bubblewrap.

Run as a script by path (``python -I _launcher.py CONFIG -- KERNEL_ARGV...``; standard library only, so it starts fast
and imports nothing a student could have touched). ``CONFIG`` is a JSON file written by the grader (``_jail.Jail``):

- ``work``: the kernel's own folder; the connection file is copied there. ``cwd``: its working directory.
- ``uid``: a fresh user id for this submission, or null. With a uid (the grader runs as root) the kernel's IPC socket
  folder (made by the grader's ``odyssey-ipc`` provisioner, mode 0700) and the copied connection file are given to it.
- ``cgroup``: the ``cgroup.procs`` files of the run's cgroup; the launcher joins it, so the kernel and everything it
  starts are counted together (``_cgroup``).
- ``memory_mb``, ``cpu_seconds``, ``max_file_mb``, ``max_processes``: rlimits (RLIMIT_AS, RLIMIT_CPU, RLIMIT_FSIZE,
  RLIMIT_NPROC -- the last only with a uid, since it counts every process of the user), inherited by all that follows.
- ``bwrap``: bubblewrap's arguments (namespaces and the read-only view, see ``_jail``), or null. The launcher adds the
  IPC socket folder, bound read-write at the same path, the working directory and the command.
- ``drop``: the ``setpriv`` command that becomes the uid inside the sandbox (bwrap runs as root to build it), or null;
  without ``bwrap`` the launcher drops to the uid itself.
- ``env``: the kernel's whole environment.

Exit code 97 and a message on stderr when a step fails (the grader reports the kernel as not started).
"""

from __future__ import annotations

import json
import os
import resource
import sys

_MB = 1024 * 1024


def _ipc_folder(connection: dict) -> str | None:
    """The kernel's IPC socket folder, checked to be one the grader's provisioner made; None over TCP."""
    if connection.get("transport") != "ipc":
        return None
    folder = os.path.dirname(connection["ip"])
    if not os.path.basename(folder).startswith("odyssey-ipc-") or os.stat(folder).st_uid != os.getuid():
        raise OSError(1, f"IPC socket folder {folder!r} was not made by the grader's provisioner")
    return folder


def _own_ipc_folder(connection: dict, uid: int) -> None:
    """Give the kernel's IPC socket folder to ``uid``, so the kernel can create its sockets there while other
    submissions' uids cannot connect to them."""
    folder = _ipc_folder(connection)
    if folder is not None:
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
        raise SystemExit(f"usage: _launcher.py CONFIG -- KERNEL_ARGV (with -f CONNECTION_FILE), got {argv!r}")
    with open(config_path, encoding="utf-8") as file:
        config = json.load(file)
    work, uid, cwd = config["work"], config["uid"], config.get("cwd") or config["work"]
    try:
        for procs in config["cgroup"]:  # before anything else starts: all that follows is counted
            with open(procs, "w", encoding="ascii") as file:
                file.write(str(os.getpid()))
        connection = kernel[kernel.index("-f") + 1]
        with open(connection, encoding="utf-8") as file:
            text = file.read()
        copied = os.path.join(work, "kernel-connection.json")
        with open(copied, "w", encoding="utf-8") as file:
            file.write(text)
        kernel[kernel.index("-f") + 1] = copied
        folder = _ipc_folder(json.loads(text))
        if uid is not None:
            if folder is not None:
                os.chown(folder, uid, uid)
            os.chown(copied, uid, uid)
            os.chmod(copied, 0o600)
        _limit(config)
        if config["bwrap"] is not None:
            bind = []
            if folder is not None:  # its parents open to the uid (bwrap would make them 0700; existing ones stay)
                parents = [folder]
                while (parent := os.path.dirname(parents[-1])) != os.sep:
                    parents.append(parent)
                for parent in reversed(parents[1:]):
                    bind += ["--perms", "0755", "--dir", parent]
                bind += ["--bind", folder, folder]
            kernel = [*config["bwrap"], *bind, "--chdir", cwd, "--", *(config["drop"] or []), *kernel]
        else:
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            os.chdir(cwd)
    except OSError as exc:
        print(f"odyssey sandbox: {exc}", file=sys.stderr)
        os._exit(97)
    os.execve(kernel[0], kernel, config["env"])


if __name__ == "__main__":
    main(sys.argv[1:])
