"""Write ``binder/requirements.txt``: the exact versions of the course's runtime dependencies in this environment.

Run it in the environment the test suite last passed in (``.venv/bin/python binder/lock.py``); commit the result.
It walks ``pyproject.toml``'s ``[project] dependencies`` and everything they require (markers evaluated for this
interpreter and platform, extras followed), and pins each distribution to the version installed here. Class images
(repo2docker: BinderHub, JupyterHub) then install exactly what was tested, while ``pip install -e .`` keeps taking
today's releases from the lower bounds in ``pyproject.toml``. ``tests/course/test_binder.py`` fails when the lock and
those lower bounds disagree. ``--check`` exits 1 instead of writing when the file would change.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "binder" / "requirements.txt"
HEADER = """\
# The course's runtime dependencies for repo2docker (BinderHub, The Littlest JupyterHub), locked to the exact versions
# the test suite last passed with (Python {python}, {system}). Regenerate with `.venv/bin/python binder/lock.py` in
# that environment; pyproject.toml keeps lower bounds, and tests/course/test_binder.py fails when the two disagree.
# postBuild then installs the package itself and fills numba's cache.
"""


def closure(requirements: list[str]) -> dict[str, str]:
    """Canonical name -> installed version of every distribution ``requirements`` need here, transitively."""
    pinned: dict[str, str] = {}
    todo = [(Requirement(r), "") for r in requirements]
    seen: set[tuple[str, str]] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        for wanted in ["", *sorted(req.extras)]:
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            try:
                dist = distribution(req.name)
            except PackageNotFoundError:
                raise SystemExit(f"lock.py: {req.name} is required but not installed here") from None
            if not req.specifier.contains(dist.version, prereleases=True):
                raise SystemExit(f"lock.py: {req.name} {dist.version} is installed but {req} is required")
            pinned[name] = dist.version
            todo += [(Requirement(r), wanted) for r in dist.requires or []]
    return pinned


def runtime_requirements(project: dict) -> list[str]:
    """What a class image needs: the dependencies and the ``engines`` extra (ONNX Runtime beside the course's
    kernels in lessons 6 and 8), as the README's setup command installs them."""
    return [*project["dependencies"], *project["optional-dependencies"]["engines"]]


def render() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = closure(runtime_requirements(project))
    python = ".".join(platform.python_version_tuple()[:2])
    header = HEADER.format(python=python, system=f"{platform.system()} {platform.machine()}")
    return header + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the lock would change, write nothing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        same = LOCK.read_text(encoding="utf-8") == text
        print("binder/requirements.txt is current" if same else "binder/requirements.txt differs from this venv")
        return 0 if same else 1
    LOCK.write_text(text, encoding="utf-8")
    print(f"wrote {LOCK.relative_to(ROOT)}: {text.count('==')} pinned distributions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
