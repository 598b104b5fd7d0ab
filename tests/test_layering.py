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
    "_validate": 0,
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


# ----- public names across package lines ------------------------------------------------------------------------------
# A subpackage's private modules (``_name.py``) are its own business: another subpackage, the CLI, a lesson or a
# solution uses what it exports from ``__init__.py``. The ground-floor modules at the top of the package
# (``_validate``, ``_threads``, ...) are shared by every layer of the package, but not by the lessons.
#
# Exceptions, each with its reason:
PRIVATE_IMPORTS_ALLOWED = {
    # numba kernels of one subpackage call @njit dispatchers (and their parameter tables) of another directly; a
    # public re-export would put raw kernels with many positional arguments into the learner's API.
    ("train", "formats._fast_kernels"),
    ("train", "formats._quantize"),
    ("quant", "native._vnni"),
}

LESSONS = sorted((PACKAGE.parent / "notebooks").glob("*.py")) + sorted((PACKAGE.parent / "solutions").glob("*.py"))


def imported_names(path: Path) -> list[tuple[str, str | None]]:
    """``(module, name)`` for each ``odyssey_lessons`` import in ``path`` (``name`` is None for ``import module``),
    plus ``("odyssey_lessons.<sub>", attribute)`` for an attribute read off an imported subpackage (``nn._kernels``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, str | None]] = []
    bound: dict[str, str] = {}  # local name -> odyssey_lessons module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "odyssey_lessons":
            for alias in node.names:
                found.append((node.module, alias.name))
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "odyssey_lessons":
                    found.append((alias.name, None))
                    if alias.asname:
                        bound[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
            found.append((bound[node.value.id], node.attr))
    return found


def private_parts(module: str, name: str | None) -> list[str]:
    """The private (leading underscore, not dunder) parts of ``module.name`` below ``odyssey_lessons``."""
    parts = module.split(".")[1:] + ([name] if name else [])
    return [p for p in parts if p.startswith("_") and not (p.startswith("__") and p.endswith("__"))]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_private_module_of_another_subpackage(path):
    me = owner(path)
    bad = []
    for module, name in imported_names(path):
        parts = module.split(".")
        if len(parts) < 2 or parts[1] == me or parts[1].startswith("_"):
            continue  # its own subpackage, or a ground-floor module
        private = [p for p in parts[2:] if p.startswith("_")]
        if name is not None and name.startswith("_") and not name.startswith("__"):
            private.append(name)
        if private and (me, ".".join(parts[1:3])) not in PRIVATE_IMPORTS_ALLOWED:
            bad.append(f"{module}{'' if name is None else ' : ' + name}")
    assert not bad, f"{path.relative_to(PACKAGE)} uses private names of another subpackage: {bad}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_lessons_and_solutions_use_public_names_only(path):
    bad = sorted({f"{m}{'' if n is None else '.' + n}" for m, n in imported_names(path) if private_parts(m, n)})
    assert not bad, f"{path.parent.name}/{path.name} uses private names of odyssey_lessons: {bad}"


def test_the_private_name_checks_catch_what_they_are_for(tmp_path):
    lesson = tmp_path / "lesson.py"
    lesson.write_text(
        "from odyssey_lessons import nn\nfrom odyssey_lessons._threads import single_threaded\n"
        "from odyssey_lessons.studies import _helper\nnn._kernels.im2col\nnn.Linear\n",
        encoding="utf-8",
    )
    found = sorted({f"{m}.{n}" for m, n in imported_names(lesson) if private_parts(m, n)})
    assert found == [
        "odyssey_lessons._threads.single_threaded",
        "odyssey_lessons.nn._kernels",
        "odyssey_lessons.studies._helper",
    ]
