"""Kernels that start without racing for TCP ports: a jupyter_client kernel provisioner that connects over IPC.

With the default TCP transport, jupyter_client picks five free ports (bind to port 0, close), writes them into the
connection file, and only then does the kernel bind them. Two kernels started at the same moment by different
processes (``pytest -n 2``, ``odyssey grade --jobs 2``) can pick the same port in that gap, and one of them dies with
``ZMQError: Address already in use``. Unix-domain (IPC) sockets have no such gap: each kernel's sockets are files in a
folder of its own that nobody else creates, and the folder's mode (0700) also keeps other users out.

:class:`IpcProvisioner` is jupyter_client's :class:`LocalProvisioner` with only the transport changed. It is registered
as the entry point ``odyssey-ipc`` (group ``jupyter_client.kernel_provisioners``, in ``pyproject.toml``) and selected
in one of two ways:

- by a kernel spec's metadata (``{"kernel_provisioner": {"provisioner_name": "odyssey-ipc"}}``), for the kernel
  managers the package creates itself (:func:`with_ipc_provisioner`, used by ``odyssey assign``);
- by the environment variable ``JUPYTER_DEFAULT_PROVISIONER_NAME``, for kernels that other programs start (nbval under
  ``odyssey check``, the test suite, JupyterLab in the browser tests): :func:`ipc_environ`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

PROVISIONER_NAME = "odyssey-ipc"
"""The entry-point name of :class:`IpcProvisioner`."""

DEFAULT_PROVISIONER_ENV = "JUPYTER_DEFAULT_PROVISIONER_NAME"
"""jupyter_client's environment variable naming the provisioner of kernel specs that name none."""

_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux (104 on macOS); the kernel appends "-<port>"


class IpcProvisioner(LocalProvisioner):
    """:class:`LocalProvisioner` whose kernels listen on IPC sockets in a private temporary folder."""

    _ipc_dir: str | None = None

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km = self.parent
        if km is not None and self._ipc_dir is None:  # a restart keeps the first launch's folder and paths
            self._ipc_dir = tempfile.mkdtemp(prefix="odyssey-ipc-")  # mode 0700
            prefix = os.path.join(self._ipc_dir, "kernel")
            if len(prefix) + 6 > _MAX_SOCKET_PATH:
                folder, self._ipc_dir = self._ipc_dir, None
                os.rmdir(folder)
                raise RuntimeError(
                    f"IPC socket paths under {folder!r} are too long for a Unix socket "
                    f"({len(prefix) + 6} > {_MAX_SOCKET_PATH} bytes); set TMPDIR to a shorter folder"
                )
            km.cache_ports = False  # the TCP port cache does not apply to IPC "ports" (file-name suffixes)
            km.transport = "ipc"
            km.ip = prefix
        return await super().pre_launch(**kwargs)

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        if not restart and self._ipc_dir is not None:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
            self._ipc_dir = None


@cache
def ipc_available() -> bool:
    """Whether kernels can start over IPC here: a POSIX system (zmq has no IPC transport on Windows) and the
    ``odyssey-ipc`` entry point installed (an install from before it was added lacks it until ``pip install -e .``)."""
    if os.name != "posix":
        return False
    return any(ep.name == PROVISIONER_NAME for ep in entry_points(group="jupyter_client.kernel_provisioners"))


def ipc_environ(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default ``os.environ``) in which kernels whose spec names no provisioner start over IPC
    (unchanged where :func:`ipc_available` is false: those kernels keep TCP)."""
    out = dict(os.environ if env is None else env)
    if ipc_available():
        out[DEFAULT_PROVISIONER_ENV] = PROVISIONER_NAME
    return out


def with_ipc_provisioner(spec: Any) -> Any:
    """``spec`` (a jupyter_client ``KernelSpec``) with its metadata naming :class:`IpcProvisioner`, where
    :func:`ipc_available`."""
    if ipc_available():
        spec.metadata = {**(spec.metadata or {}), "kernel_provisioner": {"provisioner_name": PROVISIONER_NAME}}
    return spec
