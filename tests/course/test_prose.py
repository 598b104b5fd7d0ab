"""Prose cannot drift from its numbers: a lesson's markdown may not state a measured result as typed text.

A sentence that gives a timing, a throughput or a measured speed-up comes out of a code cell, formatted from the value
it states (README, "For authors"). Markdown keeps definitions, formulas, sourced facts and the seed material's quoted
claims, so the scan skips quoted text ("..."), code (`...`), LaTeX ($...$) and sentences that name their source
(measured elsewhere, a datasheet, a paper). What it looks for is what went stale before: "a whole 2 ms step", "0.3 s
each", "about 20 s", "a few seconds each", "0.69-0.74x", "12 GB/s".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")) + sorted((ROOT / "solutions").glob("[0-9][0-9]_*.py"))

NUMBER = r"\d+(?:[.,]\d+)?(?:\s*[–-]\s*\d+(?:[.,]\d+)?)?"
MEASURED = [
    ("a timing", re.compile(rf"(?<![\w.^/]){NUMBER}\s*(?:ns|µs|us|ms|s|secs?|seconds?|mins?|minutes?)\b")),
    ("a throughput", re.compile(rf"(?<![\w.^/]){NUMBER}\s*(?:[KMGT]i?B/s|[GTP]FLOP/s|G?op/s)")),
    ("a measured speed-up", re.compile(rf"(?<![\w.^/]){NUMBER}\s*[×x]\s+(?:faster|slower|the speed|speed-?up)")),
    ("a typed duration", re.compile(r"\b(?:a few|several|about an?|under an?|in about an?)\s+(?:seconds?|minutes?)\b")),
]
SOURCED = re.compile(
    r"measured elsewhere|datasheet|\bpaper\b|published|\(source|provenance|according to|seed material|typed in|"
    r"design target|estimate",
    re.I,
)
SKIP = [re.compile(p) for p in (r'"[^"]*"', r"“[^”]*”", r"`[^`]*`", r"\$[^$]*\$", r"\[[^\]]*\]\([^)]*\)")]


def markdown_cells(path: Path) -> list[tuple[int, str]]:
    """(first line number, text) of each markdown cell of a Jupytext percent script, comment markers removed."""
    cells, current, start, in_md = [], [], 0, False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("# %%"):
            if in_md and current:
                cells.append((start, "\n".join(current)))
            in_md, current, start = "[markdown]" in line, [], number + 1
        elif in_md:
            current.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    if in_md and current:
        cells.append((start, "\n".join(current)))
    return cells


def typed_results(text: str) -> list[str]:
    """The sentences of ``text`` that state a measured result as typed text."""
    hits = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n\s*\n", text):
        sentence = " ".join(sentence.split())  # a quote or a formula may wrap across lines
        if SOURCED.search(sentence):
            continue
        bare = sentence
        for pattern in SKIP:
            bare = pattern.sub(" ", bare)
        for kind, pattern in MEASURED:
            for m in pattern.finditer(bare):
                if re.search(r"(?:at least|at most|every|each sample lasts)\s*$", bare[: m.start()]):
                    continue  # a setting of the measurement ("samples of at least 50 ms"), not a result
                hits.append(f"{kind} '{m.group(0)}' in: {' '.join(sentence.split())[:160]}")
                break
    return hits


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_markdown_states_no_measured_result(path):
    found = [f"line {start}: {hit}" for start, text in markdown_cells(path) for hit in typed_results(text)]
    assert not found, "print these from the code that measures them:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("A whole 2 ms step goes to the convolution.", True),
        ("Each run takes 0.3 s each on this machine.", True),
        ("The sweep takes about 20 s.", True),
        ("It takes a few seconds each.", True),
        ("Rounding runs at 12 GB/s.", True),
        ("INT8 ran 0.69-0.74x the speed of fp32.", True),
        ('The seed claims "FP16 2-3x faster".', False),
        ("The H200 does 989 TFLOP/s (datasheet).", False),
        ("Set `timeout=30 s` in the call.", False),
        ("The bound is $2^{-9}$ and a step is 10 ms on a GPU measured elsewhere.", False),
        ("A 3x3 kernel has 9 taps; 4× fewer bytes per weight.", False),
        ('The seed material typed "Conv2D 15.2 ms".', False),
        ("A design target: each lesson runs in about a minute.", False),
        ("Each sample lasts at least 50 ms.", False),
    ],
)
def test_the_scan_itself(text, flagged):
    assert bool(typed_results(text)) is flagged, typed_results(text)
