"""The Binder / JupyterHub configuration (binder/) locks the environment pyproject.toml declares."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"


def _requirements() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _lock() -> dict[str, Version]:
    pins = {}
    for line in _requirements():
        req = Requirement(line)
        (spec,) = req.specifier  # exactly one ==version each
        assert spec.operator == "==" and not req.extras and req.marker is None, line
        pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def test_binder_lock_pins_every_dependency_within_its_lower_bound():
    """The class image's lock and the package's lower bounds agree: every dependency of pyproject.toml (and of the
    ``engines`` extra, which lessons 6 and 8 use) is pinned, to a version its specifier admits, so an image built
    from the lock runs the same code the package declares."""
    pins = _lock()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = [Requirement(d) for d in [*project["dependencies"], *project["optional-dependencies"]["engines"]]]
    for dep in deps:
        name = canonicalize_name(dep.name)
        assert name in pins, f"{dep} is not in binder/requirements.txt: run binder/lock.py"
        assert dep.specifier.contains(pins[name]), f"the lock pins {name}=={pins[name]}, outside {dep}"


def test_binder_lock_is_sorted_and_generated():
    text = (BINDER / "requirements.txt").read_text()
    assert "binder/lock.py" in text.splitlines()[1]
    names = list(_lock())
    assert names == sorted(names) and len(names) == len(set(names))


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
