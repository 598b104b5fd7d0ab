"""One kernel driven directly by the grader: run a cell, send a check's call, stop, with bounded memory.

:class:`Kernel` starts an ipykernel from a kernelspec -- a ``Jail``'s (the sandbox, ``_jail``) or :func:`plain_spec`
(the grader's own reference kernel, which runs the trusted solution) -- over IPC sockets, and talks to it with a
``jupyter_client`` blocking client whose sockets refuse messages over :data:`MAX_MESSAGE_BYTES` (a kernel that sends
more is cut off, and its cell ends as a timeout). A cell's printed text is kept as its first and last 32 KiB
(:class:`ClippedText`), so whatever a submission prints, the grader's memory stays bounded.

A cell past its timeout is interrupted (an interrupt *message*: a sandboxed kernel's PID namespace does not pass
signals on); a kernel that does not stop within :data:`INTERRUPT_GRACE` seconds is killed, and the outcome says so.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

import zmq

from odyssey_lessons.grading._probe import MIME
from odyssey_lessons.grading._provisioner import PROVISIONER_NAME, ipc_available

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_PRINTED = 64 * 1024  # characters of a cell's printed text that reach the grader
MAX_ERROR = 4096  # characters of one error line (``Name: message``) that reach the grader
INTERRUPT_GRACE = 5.0
START_TIMEOUT = 90.0
_POLL = 0.2
KERNEL_NAME = "odyssey-kernel"


def clip_text(text: str, limit: int = MAX_PRINTED) -> str:
    """``text`` if it has at most ``limit`` characters, else its first and last ``limit / 2`` or so, cut at line ends
    with a marker line between: a submission that prints a gigabyte cannot grow the grader's memory or a row.

    Only whole lines of ``text`` are kept, so the cut cannot join two fragments into a line that was never printed
    (a ``[PASS]`` line, say). The marker line names how much was cut.
    """
    clipped = ClippedText(limit)
    clipped.add(text)
    return clipped.text()


class ClippedText:
    """Text arriving in chunks, of which only the first and last ``limit / 2`` characters are kept (see
    :func:`clip_text`, which gives the same result for the whole text at once)."""

    def __init__(self, limit: int = MAX_PRINTED) -> None:
        self.half = limit // 2
        self.limit = limit
        self.head = ""
        self.tail = ""
        self.total = 0

    def add(self, chunk: str) -> None:
        self.total += len(chunk)
        if len(self.head) < self.limit:
            room = self.limit - len(self.head)
            self.head, chunk = self.head + chunk[:room], chunk[room:]
        if chunk:
            self.tail = (self.tail + chunk)[-self.half :]

    def text(self) -> str:
        if self.total <= self.limit:
            return self.head
        whole = self.head + self.tail  # the middle is gone: keep the first and last half, cut at line ends
        head_end = whole.rfind("\n", 0, self.half) + 1
        tail = whole[-self.half :] if len(self.tail) < self.half else self.tail
        newline = tail.find("\n")
        tail = tail[newline + 1 :] if newline >= 0 else ""
        kept_tail = len(tail)
        left_out = self.total - head_end - kept_tail
        return f"{whole[:head_end]}[... {left_out} characters not kept ...]\n{tail}"


@dataclass
class Outcome:
    """How one execute request ended.

    ``status``: ``ok``, ``error`` (the code raised), ``timeout`` (interrupted; ``alive`` says whether the kernel
    survived), ``crashed`` (the kernel died).
    """

    status: str
    printed: str = ""
    errors: list[str] = field(default_factory=list)
    reply: object = None  # the last display data of type MIME (a check call's reply), if any
    seconds: float = 0.0
    alive: bool = True


class Kernel:
    """A started kernel; see the module docstring. Use as a context manager, or call :meth:`close`."""

    def __init__(self, spec: dict, *, cwd: Path, env: dict[str, str]) -> None:
        """Start the kernel ``spec`` (a ``kernel.json`` dict: :func:`plain_spec`, or a ``Jail``'s) in ``cwd``."""
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        self.home = Path(tempfile.mkdtemp(prefix="odyssey-k-"))
        spec_dir = self.home / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.manager = KernelManager(
            kernel_name=KERNEL_NAME,
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(self.home / "kernels")]),
            context=self.context,
        )
        self.manager.connection_file = str(self.home / f"kernel-{secrets.token_hex(4)}.json")
        self.client = None
        try:
            self.manager.start_kernel(cwd=str(cwd), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.client = self.manager.client(context=self.context)
            self.client.start_channels()
            self.client.wait_for_ready(timeout=START_TIMEOUT)
        except Exception:
            self.close()
            raise

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def alive(self) -> bool:
        return self.manager.has_kernel and self.manager.is_alive()

    def execute(self, code: str, timeout: float) -> Outcome:
        """Run ``code``; never raises for what the code does (see :class:`Outcome`)."""
        start = time.monotonic()
        outcome = Outcome("ok")
        printed = ClippedText()
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        deadline, interrupted = start + timeout, False
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=_POLL)
            except Empty:
                if not self.alive():
                    outcome.status, outcome.alive = "crashed", False
                    break
                now = time.monotonic()
                if now >= deadline and not interrupted:
                    self.manager.interrupt_kernel()
                    interrupted, deadline = True, now + INTERRUPT_GRACE
                elif now >= deadline:
                    self.kill()
                    outcome.status, outcome.alive = "timeout", False
                    break
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                printed.add(str(content.get("text", "")))
            elif kind == "error":
                line = f"{content.get('ename', '')}: {content.get('evalue', '')}"[:MAX_ERROR]
                if len(outcome.errors) < 20:
                    outcome.errors.append(line)
            elif kind in ("display_data", "execute_result") and MIME in content.get("data", {}):
                outcome.reply = content["data"][MIME]
            elif kind == "status" and content.get("execution_state") == "idle":
                break
        if outcome.status == "ok" and interrupted:
            outcome.status = "timeout"
        elif outcome.status == "ok" and outcome.errors:
            outcome.status = "error"
        outcome.printed = printed.text()
        outcome.seconds = time.monotonic() - start
        return outcome

    def kill(self) -> None:
        """Stop the kernel at once (it is not asked)."""
        try:
            if self.manager.has_kernel:
                self.manager.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 - a kernel that is already gone is what we want
            pass

    def close(self) -> None:
        """Stop the client and the kernel and remove the kernel's folder."""
        if self.client is not None:
            self.client.stop_channels()
        self.kill()
        self.manager.cleanup_resources()
        self.context.destroy(linger=0)
        shutil.rmtree(self.home, ignore_errors=True)


def plain_spec() -> dict:
    """The kernelspec of a kernel outside the sandbox (the grader's reference kernel, which runs the solution)."""
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "odyssey",
        "language": "python",
        "interrupt_mode": "message",
    }
    if ipc_available():
        spec["metadata"] = {"kernel_provisioner": {"provisioner_name": PROVISIONER_NAME}}
    return spec
