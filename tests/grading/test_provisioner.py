"""Kernels the course starts connect over IPC sockets in a private folder: no TCP port to race for."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from odyssey_lessons.grading._assign import execute
from odyssey_lessons.grading._provisioner import (
    DEFAULT_PROVISIONER_ENV,
    PROVISIONER_NAME,
    ipc_available,
    ipc_environ,
)

pytestmark = pytest.mark.skipif(not ipc_available(), reason="IPC kernels need POSIX and the installed entry point")

PROBE = """\
import json, os, stat, ipykernel.connect
info = json.load(open(ipykernel.connect.get_connection_file()))
folder = os.path.dirname(info["ip"])
print(json.dumps({"transport": info["transport"], "folder": folder, "mode": stat.S_IMODE(os.stat(folder).st_mode),
                  "sockets": sorted(os.listdir(folder))}))
"""


def test_assign_kernels_listen_on_ipc_sockets_in_a_private_folder(tmp_path: Path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
    out = execute(nb, cwd=tmp_path, name="probe")
    seen = json.loads(out.cells[0].outputs[0].text)
    assert seen["transport"] == "ipc"
    assert os.path.basename(seen["folder"]).startswith("odyssey-ipc-") and seen["mode"] == 0o700
    assert len(seen["sockets"]) == 5  # shell, iopub, stdin, control, heartbeat
    assert not os.path.exists(seen["folder"]), "the socket folder is removed when the kernel shuts down"


def test_ipc_environ_names_the_provisioner_for_kernels_others_start():
    env = ipc_environ({"PATH": "/usr/bin"})
    assert env == {"PATH": "/usr/bin", DEFAULT_PROVISIONER_ENV: PROVISIONER_NAME}
    assert os.environ.get(DEFAULT_PROVISIONER_ENV) == PROVISIONER_NAME  # set for the whole suite by conftest


def test_sandbox_gives_away_only_the_provisioners_folder(tmp_path: Path):
    from odyssey_lessons.grading import _launcher

    _launcher._own_ipc_folder({"transport": "tcp", "ip": "127.0.0.1"}, uid=12345)  # nothing to do
    foreign = tmp_path / "somebody-else"
    foreign.mkdir()
    with pytest.raises(OSError, match="was not made by the grader's provisioner"):
        _launcher._own_ipc_folder({"transport": "ipc", "ip": str(foreign / "kernel")}, uid=12345)
    assert foreign.stat().st_uid == os.getuid()  # left alone
