"""Shared fixtures: randomness always comes from a seeded generator; browser tests get a JupyterLab and a Chromium."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from odyssey_lessons.grading._provisioner import ipc_environ
from tests._lab import (
    REPO_ROOT,
    ConsoleLog,
    LabServer,
    artifacts_dir,
    browser_unavailable_reason,
    launch_chromium,
    running_lab,
    screenshot,
)


def pytest_configure(config: pytest.Config) -> None:
    """Every kernel the tests start (nbval runs, self-checks, JupyterLab's) connects over IPC, as ``odyssey`` starts
    them: kernels started in parallel by the two xdist workers cannot race for TCP ports."""
    os.environ.update(ipc_environ({}))


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, fresh for every test."""
    return np.random.default_rng(12345)


# ----- real-browser tests (tests/_lab.py has the helpers) -------------------------------------------------------------
_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report  # lets lab_page save a screenshot when the test body failed
    return report


def _require_browser() -> None:
    """Skip when Chromium or Playwright is missing; under CI=true that is a failure, so CI cannot go green silently."""
    reason = browser_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the browser tests cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lab_root() -> Path:
    """The directory JupyterLab serves; notebook paths in browser tests are relative to it."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def lab_server(lab_root: Path) -> Iterator[LabServer]:
    """One JupyterLab per test session (per xdist worker that runs browser tests)."""
    _require_browser()
    with running_lab(lab_root) as server:
        yield server


@dataclass
class LabPage:
    """A fresh Chromium page on the test JupyterLab, with its console log."""

    page: Any
    server: LabServer
    console: ConsoleLog


@pytest.fixture
def lab_page(request: pytest.FixtureRequest, lab_server: LabServer) -> Iterator[LabPage]:
    """A new headless Chromium page (fresh profile) logged into ``lab_server``; screenshots itself on failure."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    # Playwright lives only for the test, so its event loop never overlaps other tests on this worker.
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        failure_shot = artifacts_dir() / f"{request.node.name}-failure.png"
        failure_shot.unlink(missing_ok=True)  # a screenshot from an earlier failed run must not outlive a pass
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            yield LabPage(page, lab_server, ConsoleLog().attach(page))
            report = request.node.stash.get(_CALL_REPORT, None)
            if report is not None and report.failed:
                screenshot(page, f"{request.node.name}-failure")
        finally:
            browser.close()
            with contextlib.suppress(OSError):  # a dead server has no kernels left; report the test's own error
                lab_server.shutdown_kernels()
