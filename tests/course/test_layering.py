"""The package's layers: no module imports a layer above its own (function-level imports included), so each layer can
be read, tested and reused without the ones above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "odyssey_lessons"

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
    assert parts <= set(LAYERS), f"give these a layer in tests/course/test_layering.py: {sorted(parts - set(LAYERS))}"


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


# ----- no import cycles inside a subpackage ---------------------------------------------------------------------------
# Between subpackages the layers above already forbid a cycle (a module imports strictly lower layers only). Inside
# one, a cycle makes import order matter and hides which module a concept lives in; function-level imports count too.


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """The nodes of ``tree`` outside ``if TYPE_CHECKING:`` blocks (imports for type names only never run)."""
    skipped = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
        for n in ast.walk(block)
    }
    return [n for n in ast.walk(tree) if id(n) not in skipped]


def module_imports(path: Path, known: set[str]) -> set[str]:
    """The package modules ``path`` imports at run time: ``from pkg import sub`` counts as the submodule when ``sub``
    is one."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = set()
    for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known and m != me}


def package_graph() -> dict[str, set[str]]:
    known = {module_name(p): p for p in MODULES}
    return {m: module_imports(p, set(known)) for m, p in known.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle of ``graph`` restricted to one subpackage, as a list of module names (empty: none)."""
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt.split(".")[:2] != node.split(".")[:2]:
                continue  # another subpackage: the layer test governs those edges
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    return cycles


def test_no_import_cycles_inside_a_subpackage():
    graph = package_graph()
    assert graph["odyssey_lessons.quant"] >= {"odyssey_lessons.quant._affine"}  # the graph sees package imports
    assert import_cycles(graph) == [], "import cycles (break each by moving what both need into a lower module)"


def test_the_cycle_check_catches_what_it_is_for():
    graph = {"p.a._x": {"p.a._y"}, "p.a._y": {"p.a._z"}, "p.a._z": {"p.a._x"}, "p.b": {"p.a._x"}, "p.a._w": {"p.b"}}
    assert import_cycles(graph) == [["p.a._x", "p.a._y", "p.a._z", "p.a._x"]]


# ----- tests mirror the package ---------------------------------------------------------------------------------------
TESTS = PACKAGE.parent / "tests"
WHOLE_REPOSITORY = {"course", "fixtures"}  # tests of the repository as a whole, and the tiny course they grade


def test_tests_mirror_the_package():
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert folders - WHOLE_REPOSITORY <= subpackages, f"test folders with no subpackage: {folders - subpackages}"
    assert subpackages <= folders, f"subpackages with no test folder: {sorted(subpackages - folders)}"
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    loose = {p.stem.removeprefix("test_") for p in TESTS.glob("test_*.py")}
    assert loose <= {m.lstrip("_") for m in modules}, f"top-level tests of no top-level module: {loose}"


# ----- the slow references share no code with the package ------------------------------------------------------------
REFERENCES = sorted(TESTS.glob("reference*.py"))


def runtime_package_imports(path: Path) -> list[str]:
    """``odyssey_lessons`` modules imported by ``path`` outside ``if TYPE_CHECKING:`` blocks."""
    found = []
    for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "odyssey_lessons":
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "odyssey_lessons"]
    return found


@pytest.mark.parametrize("path", REFERENCES, ids=lambda p: p.name)
def test_slow_references_share_no_code_with_the_package(path):
    assert len(REFERENCES) >= 4
    assert runtime_package_imports(path) == [], f"tests/{path.name} runs package code: an oracle must not"


def test_the_reference_check_catches_what_it_is_for(tmp_path):
    ref = tmp_path / "reference_x.py"
    ref.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from odyssey_lessons.formats import FloatFormat\n"
        "def f():\n    from odyssey_lessons.quant._affine import fake_quantize\n    import odyssey_lessons.nn\n",
        encoding="utf-8",
    )
    assert sorted(runtime_package_imports(ref)) == ["odyssey_lessons.nn", "odyssey_lessons.quant._affine"]


# ----- presentation stays out of compute ------------------------------------------------------------------------------
# Compute functions return data; bars, plots and widgets call them, never the reverse. These modules may draw:
PRESENTATION = {"widgets", "perf._plot", "train._progress", "grading._assign", "grading._batch"}
DRAWING = {"tqdm", "matplotlib", "ipywidgets"}


def draws(path: Path) -> list[str]:
    """The drawing libraries ``path`` imports, anywhere in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        found += [n for n in names if n.split(".")[0] in DRAWING]
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_presentation_modules_draw(path):
    rel = path.relative_to(PACKAGE).with_suffix("")
    if rel.parts[0] in PRESENTATION or ".".join(rel.parts) in PRESENTATION or rel.parts[0] == "cli":
        return
    assert draws(path) == [], f"{rel} is compute but imports {draws(path)}: report progress through a callback"
