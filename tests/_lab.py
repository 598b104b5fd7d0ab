"""Drive a real JupyterLab in Debian's Chromium: start a server, run a notebook, check what the learner would see.

The helpers know nothing about a particular lesson: a test opens a notebook with :func:`run_notebook_in_lab`, checks
it with :func:`assert_no_widget_errors` / :func:`assert_no_cell_errors`, then drives that lesson's widget through
ordinary Playwright locators. The server runs with its own config, settings, workspace and runtime directories, so a
developer's own JupyterLab setup cannot change what the tests see.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 120.0
RUN_ALL_TIMEOUT_S = 150.0
WIDGET_TIMEOUT_S = 60.0

# User settings written for the test server. Autosave is off: running a lesson must never write its outputs back into
# the repository's notebook. Windowing "none" keeps every cell in the DOM (the default virtualises cells scrolled out
# of view, so their prompts and outputs could not be read). News and update checks are off so no notification pops
# over the notebook and nothing tries to reach the internet.
_LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}

# Console errors that are not the lesson's fault: (pattern matched against the message text, why it is harmless).
# Empty on purpose: JupyterLab 4.6 with ipywidgets 8.1 logs no console error while running lesson 1 under the settings
# above. Add an entry only with the reason it cannot be the course's fault; a blanket "404" entry would hide a widget
# extension that failed to load. Every other console error, and every uncaught page exception, fails the test.
BENIGN_CONSOLE_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = ()


def artifacts_dir() -> Path:
    """Where screenshots go: ``$ODYSSEY_ARTIFACTS/browser``, by default ``<repo>/test-artifacts/browser``."""
    root = Path(os.environ.get("ODYSSEY_ARTIFACTS") or REPO_ROOT / "test-artifacts")
    path = root / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


def browser_unavailable_reason() -> str | None:
    """Why the real-browser tests cannot run here (``None`` when they can)."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found; install Debian's chromium package (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed; pip install -e '.[test]'"
    return None


# ----- the JupyterLab server ------------------------------------------------------------------------------------------
@dataclass
class LabServer:
    """A running JupyterLab: its URL, token, process and log file."""

    base_url: str
    token: str
    root_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    home: Path = field(repr=False)

    def url(self, path: str) -> str:
        """``base_url/path`` with the token appended (the first page load logs the browser in)."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        """Call the server's REST API and return the decoded JSON (``None`` for an empty body)."""
        request = urllib.request.Request(
            f"{self.base_url}/api/{path.lstrip('/')}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernel_state(self, path: str) -> str | None:
        """The execution state of the kernel of the notebook at ``path`` once a browser is connected to it
        (``"idle"``, ``"busy"``, ``"starting"``...), or ``None`` while the notebook has no connected kernel."""
        for session in self.api("sessions"):
            kernel = session.get("kernel") or {}
            if session.get("path") == path and kernel.get("connections", 0) > 0:
                return kernel.get("execution_state")
        return None

    def shutdown_kernels(self) -> None:
        """Stop every kernel the server runs (a finished test leaves no busy kernel on a 2-core machine)."""
        for kernel in self.api("kernels"):
            self.api(f"kernels/{kernel['id']}", method="DELETE")

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no server log>"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_lab(root_dir: Path, *, timeout_s: float = SERVER_START_TIMEOUT_S) -> Iterator[LabServer]:
    """Start ``python -m jupyter lab`` serving ``root_dir``; yield it once ``/api/status`` answers; stop it after."""
    home = Path(tempfile.mkdtemp(prefix="odyssey-lab-"))
    settings_dir = home / "settings"
    for name, values in _LAB_SETTINGS.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    token = secrets.token_hex(24)
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--ServerApp.allow_root=True",  # CI runs as root
        f"--FileCheckpoints.checkpoint_dir={home / 'checkpoints'}",  # no .ipynb_checkpoints/ left in the repository
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # the default "pypi" manager queries PyPI from the server
    ]
    log_path = home / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd, cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = LabServer(f"http://127.0.0.1:{port}", token, root_dir, process, log_path, home)
    try:
        _wait_for_status(server, timeout_s)
        yield server
    finally:
        _stop_lab(server)
        shutil.rmtree(home, ignore_errors=True)


def _wait_for_status(server: LabServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            server.api("status")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer /api/status within {timeout_s:.0f}s:\n{server.log_tail()}")


def _stop_lab(server: LabServer) -> None:
    """Shut the server down politely (it then stops its kernels, which live in their own process groups), then by
    signal to its process group."""
    process = server.process
    if process.poll() is None:
        try:
            server.api("shutdown", method="POST")
            process.wait(timeout=20)
        except (urllib.error.URLError, ConnectionError, TimeoutError, subprocess.TimeoutExpired):
            pass
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            pass


# ----- the browser ----------------------------------------------------------------------------------------------------
def launch_chromium(playwright: Any) -> Any:
    """Launch Debian's Chromium headless through Playwright (each launch gets a fresh temporary profile)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


@dataclass
class ConsoleLog:
    """Console errors and uncaught page exceptions seen on one page, split into failures and documented benign ones."""

    errors: list[str] = field(default_factory=list)
    benign: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> ConsoleLog:
        """Start recording ``page``'s console errors and uncaught exceptions; returns ``self``."""
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught exception: {exc}"))
        return self

    def _on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        text = message.text
        location = message.location or {}
        entry = f"{text} (at {location.get('url', '?')}:{location.get('lineNumber', '?')})"
        if any(pattern.search(text) for pattern, _why in BENIGN_CONSOLE_ERRORS):
            self.benign.append(entry)
        else:
            self.errors.append(entry)

    def assert_clean(self) -> None:
        """Fail listing every non-benign console error."""
        if self.errors:
            raise AssertionError("browser console errors:\n  " + "\n  ".join(self.errors))


def screenshot(target: Any, name: str) -> Path:
    """Save a screenshot of a page or a locator's element as ``<artifacts>/<name>.png`` and return its path."""
    path = artifacts_dir() / f"{name}.png"
    target.screenshot(path=str(path))
    return path


# ----- notebooks ------------------------------------------------------------------------------------------------------
# The execution prompts ("[ ]:", "[*]:", "[3]:") of the code cells of the notebook on screen, and whether each cell
# has source (Run All skips empty cells, which keep "[ ]").
_JS_PROMPTS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return [];
  return Array.from(panel.querySelectorAll('.jp-CodeCell')).map(cell => [
    (cell.querySelector('.jp-InputArea-prompt')?.textContent || '').trim(),
    (cell.querySelector('.jp-InputArea-editor')?.textContent || '').trim().length > 0,
  ]);
}
"""
# Run All has ended (finished, or stopped at an exception) once no cell is queued or running and at least one ran.
# Only meaningful after the outputs were cleared: then every prompt starts at "[ ]".
_JS_RUN_ALL_ENDED = f"""
() => {{
  const prompts = ({_JS_PROMPTS.strip()})().map(p => p[0]);
  return !prompts.some(p => p.includes('*')) && prompts.some(p => /\\[\\d+\\]/.test(p));
}}
"""
_JS_NONE_NUMBERED = f"() => !({_JS_PROMPTS.strip()})().some(p => /\\[\\d+\\]/.test(p[0]))"
_IDLE = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']"
# JupyterLab renders a traceback with the same mime type as stderr, so an error is told from a warning by its text.
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^[A-Za-z_][\w.]*(Error|Exception|Interrupt)(:|$)", re.M)


def click_menu(page: Any, menu: str, item: str) -> None:
    """Click ``menu`` in the menu bar, then its entry labelled exactly ``item``."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def open_notebook(page: Any, server: LabServer, path: str, *, timeout_s: float = WIDGET_TIMEOUT_S) -> None:
    """Open ``path`` (relative to the server's root) and wait until its kernel is connected and idle."""
    page.goto(server.url(f"lab/tree/{path}"), wait_until="domcontentloaded", timeout=timeout_s * 1000)
    wait_kernel_idle(page, server, path, timeout_s=timeout_s)


def wait_kernel_idle(page: Any, server: LabServer, path: str, *, timeout_s: float) -> None:
    """Wait until the notebook's kernel is idle, both in the page's toolbar and on the server.

    The toolbar indicator alone is not enough: it reads idle before any kernel exists. Accepts JupyterLab's "Select
    Kernel" dialog (shown when the notebook's kernelspec is not installed) with its default choice, should it appear.
    """
    dialog = page.locator(".jp-Dialog")
    idle = page.locator(_IDLE)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if dialog.count():
            if "Kernel" in dialog.first.inner_text():
                dialog.first.locator(".jp-mod-accept").click()
        elif idle.count() and server.kernel_state(path) == "idle":
            return
        time.sleep(0.25)
    raise TimeoutError(f"{path}: kernel not idle within {timeout_s:.0f}s; server log:\n{server.log_tail()}")


def run_all_cells(page: Any, server: LabServer, path: str, *, timeout_s: float = RUN_ALL_TIMEOUT_S) -> None:
    """Edit > Clear Outputs of All Cells, then Run > Run All Cells, as a learner would; wait until every cell has run.

    Raises:
        AssertionError: Run All stopped early (a cell raised); the message holds the tracebacks on the page.
    """
    click_menu(page, "Edit", "Clear Outputs of All Cells")  # saved prompts would otherwise look like finished runs
    page.wait_for_function(_JS_NONE_NUMBERED, timeout=30_000, polling=200)
    click_menu(page, "Run", "Run All Cells")
    page.wait_for_function(_JS_RUN_ALL_ENDED, timeout=timeout_s * 1000, polling=500)
    wait_kernel_idle(page, server, path, timeout_s=timeout_s)
    not_run = [i for i, (prompt, has_source) in enumerate(page.evaluate(_JS_PROMPTS)) if has_source and "[ ]" in prompt]
    if not_run:
        raise AssertionError(
            f"{path}: Run All stopped before code cell {not_run[0] + 1} "
            f"({len(not_run)} cells not run):\n" + "\n---\n".join(cell_errors(page))
        )


def run_notebook_in_lab(page: Any, server: LabServer, path: str, *, timeout_s: float = RUN_ALL_TIMEOUT_S) -> None:
    """Open ``path`` in JupyterLab, run all cells, and return once every cell has run and the kernel is idle."""
    open_notebook(page, server, path)
    assert_no_widget_errors(page)  # saved widget outputs without their state would show the error right away
    run_all_cells(page, server, path, timeout_s=timeout_s)


def cell_errors(page: Any) -> list[str]:
    """The text of every traceback shown in the notebook's outputs."""
    outputs = page.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'],"
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
    )
    return [text for text in outputs.all_inner_texts() if _TRACEBACK.search(text)]


def assert_no_cell_errors(page: Any) -> None:
    """Fail when any cell shows a traceback."""
    errors = cell_errors(page)
    if errors:
        raise AssertionError("cells raised:\n" + "\n---\n".join(errors))


def assert_no_widget_errors(page: Any) -> None:
    """Fail when a widget could not be displayed (ipywidgets' "Error displaying widget" placeholder)."""
    shown = page.get_by_text("Error displaying widget")
    if shown.count():
        raise AssertionError("the page shows:\n" + "\n".join(shown.all_inner_texts()))


def wait_for_text_change(
    locator: Any, before: str, *, timeout_s: float = WIDGET_TIMEOUT_S, text: Callable[[Any], str] | None = None
) -> str:
    """Wait until ``locator``'s inner text (or ``text(locator)``) differs from ``before``; return the new text."""
    read = text or (lambda loc: loc.inner_text())
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = read(locator)
        if now != before:
            return now
        time.sleep(0.2)
    raise AssertionError(f"text did not change within {timeout_s:.0f}s; still:\n{before[:2000]}")
