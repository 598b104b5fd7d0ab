"""Navigation: every lesson ends with links to its exercise and its neighbours, and every relative link in a lesson's
markdown points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
LINK = re.compile(r"\]\(([^)#\s]+\.ipynb)\)")


def _markdown(path: Path) -> str:
    """The markdown cells' text of a jupytext percent source (comment prefixes removed)."""
    cells = path.read_text().split("# %%")
    md = [c for c in cells if c.startswith(" [markdown]")]
    return "\n".join(line.removeprefix("# ").removeprefix("#") for c in md for line in c.splitlines())


def test_the_lessons_are_numbered_from_00_without_gaps():
    numbers = [int(p.name[:2]) for p in SOURCES]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 9


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_link_resolves(source: Path):
    links = LINK.findall(_markdown(source))
    assert links, f"{source.name} links to no other notebook"
    for link in links:
        assert (source.parent / link).resolve().exists(), f"{source.name} links to missing {link}"


@pytest.mark.parametrize("source", SOURCES[1:], ids=lambda p: p.stem)
def test_lesson_ends_with_its_exercise_and_neighbours(source: Path):
    last = source.read_text().rstrip().split("# %%")[-1]
    index = SOURCES.index(source)
    assert f"({SOURCES[index - 1].stem}.ipynb)" in last
    if index + 1 < len(SOURCES):
        assert f"({SOURCES[index + 1].stem}.ipynb)" in last
    assert f"(../exercises/{source.stem}.ipynb)" in last
