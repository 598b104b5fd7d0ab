"""The Binder / JupyterHub configuration (binder/) describes the same environment as pyproject.toml."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def _requirements() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_binder_requirements_equal_the_package_dependencies():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert sorted(_requirements()) == sorted(deps)


def test_runtime_matches_requires_python():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert runtime.startswith("python-3.")
    minor = int(runtime.removeprefix("python-3."))
    assert requires == ">=3.11" and minor >= 11


def test_post_build_installs_the_package_and_warms_the_cache():
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "repo2docker runs postBuild only when it is executable"
    text = post.read_text()
    assert "pip install" in text and "-e ." in text
    assert "binder/warm_cache.py" in text and (BINDER / "warm_cache.py").exists()
