"""The package's layers: no module imports a layer above its own (function-level imports included), so each layer can
be read, tested and reused without the ones above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "odyssey_lessons"

# Lower number = lower layer. A module may import its own subpackage and any lower layer.
LAYERS = {
    "_numba_cache": 0,
    "_threads": 0,
    "_interleave": 0,
    "_bitcast": 0,
    "evidence": 0,
    "measured": 0,
    "formats": 1,
    "native": 2,
    "data": 2,
    "nn": 2,
    "optim": 2,
    "schedules": 2,
    "quant": 3,
    "train": 4,
    "perf": 5,
    "studies": 6,
    "widgets": 7,
    "grading": 7,
    "cli": 8,
    "__init__": 8,
}


def imports(path: Path) -> set[str]:
    """The ``odyssey_lessons`` subpackages or modules that ``path`` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "odyssey_lessons" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def owner(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_every_part_of_the_package_has_a_layer():
    parts = {owner(p) for p in MODULES}
    assert parts <= set(LAYERS), f"give these a layer in tests/test_layering.py: {sorted(parts - set(LAYERS))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path):
    me = owner(path)
    upward = sorted(t for t in imports(path) - {me} if LAYERS.get(t, 0) >= LAYERS[me] and t in LAYERS)
    assert not upward, f"{path.relative_to(PACKAGE)} ({me}, layer {LAYERS[me]}) imports {upward}"
