"""Modules and functions stay small enough to read, or say why not.

A module of the package over ``MODULE_LINES`` lines carries a ``# long module: <reason>`` comment among its first
lines; a function over ``FUNCTION_LINES`` lines (its docstring included) carries ``# long function: <reason>`` on the
line before its ``def`` (or its first decorator) or in its body. The reason is for the next reader: an unrolled
kernel, a table of command-line options, one linear procedure that reads worse cut in pieces.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "odyssey_lessons"
MODULE_LINES = 400
FUNCTION_LINES = 80
_MODULE_REASON = re.compile(r"#\s*long module:\s*\S")
_FUNCTION_REASON = re.compile(r"#\s*long function:\s*\S")
MODULES = sorted(PACKAGE.rglob("*.py"))


def _long_functions(source: str, limit: int) -> list[tuple[str, int, int]]:
    """``(name, first line, length)`` of each function longer than ``limit`` lines without a stated reason."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = node.end_lineno - node.lineno + 1
        if length <= limit:
            continue
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        text = "\n".join(lines[max(first - 2, 0) : node.end_lineno])
        if not _FUNCTION_REASON.search(text):
            found.append((node.name, node.lineno, length))
    return found


def _module_too_long(source: str, limit: int) -> bool:
    lines = source.splitlines()
    return len(lines) > limit and not any(_MODULE_REASON.search(line) for line in lines[:60])


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_short_or_says_why(path):
    source = path.read_text(encoding="utf-8")
    assert not _module_too_long(source, MODULE_LINES), (
        f"{path.relative_to(ROOT)} has {len(source.splitlines())} lines (over {MODULE_LINES}): split it, or say why "
        "in a '# long module: <reason>' comment near its top"
    )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_functions_are_short_or_say_why(path):
    found = _long_functions(path.read_text(encoding="utf-8"), FUNCTION_LINES)
    assert not found, (
        f"{path.relative_to(ROOT)}: functions over {FUNCTION_LINES} lines (name, line, length): {found}; split them, "
        "or say why in a '# long function: <reason>' comment on the line before the def or in the body"
    )


def test_the_size_rules_catch_what_they_are_for():
    body = "\n".join(f"    x{i} = {i}" for i in range(90))
    long_def = f"def f():\n{body}\n"
    assert _long_functions(long_def, FUNCTION_LINES) == [("f", 1, 91)]
    assert _long_functions(f"# long function: unrolled kernel\n{long_def}", FUNCTION_LINES) == []
    assert _long_functions(f"def f():\n    # long function: one procedure\n{body}\n", FUNCTION_LINES) == []
    assert _long_functions("def g():\n    return 1\n", FUNCTION_LINES) == []
    long_module = "\n".join(f"x{i} = {i}" for i in range(MODULE_LINES + 1))
    assert _module_too_long(long_module, MODULE_LINES)
    assert not _module_too_long("# long module: one registry\n" + long_module, MODULE_LINES)
