"""``odyssey assign``: turn the jupytext sources into the committed notebooks.

For every source ``NN_name.py`` (jupytext "py:percent"):

- ``notebooks/NN_name.py`` -> ``notebooks/NN_name.ipynb``, no outputs.
- ``solutions/NN_name.py`` -> executed (kernel in this interpreter's environment, cwd = ``solutions/``) ->
  ``solutions/NN_name.ipynb`` with outputs and execution counts kept on check cells only (nbval compares those; it
  skips cells without an execution count) -> ``exercises/NN_name.ipynb``: the same notebook with every answer block
  stubbed, so its check cells carry the worked solution's output as the expected output.
- A solution with hidden check cells (``# HIDDEN_CHECK``) also gets ``instructor/NN_name.ipynb``, the grading
  master: the recorded solution *with* the hidden checks and their expected outputs. Those cells are removed from the
  solution and exercise notebooks. ``odyssey grade`` uses the master when there is one, else the solution notebook.

Generated files are a pure function of the sources: canonical metadata, cell ids ``cell-{index}``, no timestamps.
That is what lets ``stale_files`` (``odyssey assign --check``) regenerate and compare bytes.
"""

from __future__ import annotations

import copy
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import nbformat
from nbformat import NotebookNode

from odyssey_lessons.grading._cells import (
    CheckSpec,
    find_checks,
    has_answer_block,
    is_check_cell,
    is_hidden_check,
    read_outcome,
    stub_solutions,
)

LESSONS_DIR = "notebooks"
SOLUTIONS_DIR = "solutions"
EXERCISES_DIR = "exercises"
INSTRUCTOR_DIR = "instructor"
DEFAULT_TIMEOUT = 600
SOURCE_NAME = re.compile(r"\d{2}_[A-Za-z0-9_]+")
_HIDDEN_LINE = re.compile(r"^[ \t]*# HIDDEN_CHECK[ \t]*$", re.MULTILINE)
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Cell metadata jupytext uses to round-trip the text file; meaningless (and noisy) in the generated notebooks.
_TEXT_ONLY_METADATA = frozenset(
    {"cell_marker", "lines_to_next_cell", "lines_to_end_of_cell_marker", "skipline", "noskipline", "title"}
)


class AssignError(RuntimeError):
    """A source cannot be turned into its notebooks; the message names the notebook, cell and check."""


@dataclass(frozen=True)
class Task:
    """One source and the notebooks generated from it (paths relative to the course root)."""

    kind: Literal["lesson", "solution"]
    source: Path
    outputs: tuple[Path, ...]


class StaleFile(NamedTuple):
    """A generated file that does not match what its source generates now."""

    path: Path  # relative to the course root
    reason: Literal["differs", "missing", "no source"]


def assign_plan(root: Path, names: Sequence[str] | None = None) -> list[Task]:
    """The tasks for every source under ``root``, or for the sources whose stem is in ``names``.

    A name may be a stem (``01_number_formats``) or a path to a source or generated file; only its stem counts.

    Raises:
        AssignError: A name matches no source, or there are no sources at all.
    """
    root = Path(root)
    sources = {
        kind: {p.stem: p for p in sorted((root / folder).glob("*.py")) if SOURCE_NAME.fullmatch(p.stem)}
        for kind, folder in (("lesson", LESSONS_DIR), ("solution", SOLUTIONS_DIR))
    }
    stems = sorted(set(sources["lesson"]) | set(sources["solution"]))
    if names:
        wanted = [Path(name).stem for name in names]
        for name, stem in zip(names, wanted, strict=True):
            if stem not in stems:
                raise AssignError(
                    f"no source named {name!r}: looked for {LESSONS_DIR}/{stem}.py and {SOLUTIONS_DIR}/{stem}.py "
                    f"under {root}"
                )
        stems = sorted(set(wanted))
    if not stems:
        raise AssignError(f"no sources under {root}: expected {LESSONS_DIR}/NN_name.py or {SOLUTIONS_DIR}/NN_name.py")
    tasks = []
    for stem in stems:
        if stem in sources["lesson"]:
            tasks.append(Task("lesson", Path(LESSONS_DIR, f"{stem}.py"), (Path(LESSONS_DIR, f"{stem}.ipynb"),)))
        if stem in sources["solution"]:
            outputs = (Path(SOLUTIONS_DIR, f"{stem}.ipynb"), Path(EXERCISES_DIR, f"{stem}.ipynb"))
            if _HIDDEN_LINE.search(sources["solution"][stem].read_text(encoding="utf-8")):
                outputs += (Path(INSTRUCTOR_DIR, f"{stem}.ipynb"),)
            tasks.append(Task("solution", Path(SOLUTIONS_DIR, f"{stem}.py"), outputs))
    return tasks


def read_source(path: Path) -> NotebookNode:
    """Read a py:percent source as a canonical notebook: fixed kernelspec, ids ``cell-{i}``, no jupytext metadata."""
    import jupytext

    text_nb = jupytext.read(path, fmt="py:percent")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})
    nb.nbformat_minor = 5
    for index, text_cell in enumerate(text_nb.cells):
        source = text_cell.source.strip("\n").rstrip()
        metadata = {k: v for k, v in text_cell.metadata.items() if k not in _TEXT_ONLY_METADATA}
        if text_cell.cell_type == "code":
            cell = nbformat.v4.new_code_cell(source, metadata=metadata)
        elif text_cell.cell_type == "markdown":
            cell = nbformat.v4.new_markdown_cell(source, metadata=metadata)
        else:
            cell = nbformat.v4.new_raw_cell(source, metadata=metadata)
        cell.id = f"cell-{index}"
        nb.cells.append(cell)
    return nb


def exercise_sources(nb: NotebookNode, name: str) -> list[str]:
    """Each cell's source with its answer blocks stubbed.

    Raises:
        AssignError: Malformed markers, or an answer block inside a check cell.
    """
    sources = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "raw":
            sources.append(cell.source)
            continue
        if is_check_cell(cell) and has_answer_block(cell.source):
            raise AssignError(f"{name}: cell {index} is a check cell and must not contain an answer block")
        try:
            sources.append(stub_solutions(cell.source, markdown=cell.cell_type == "markdown"))
        except ValueError as exc:
            raise AssignError(f"{name}: cell {index}: {exc}") from exc
    return sources


def _check_specs(nb: NotebookNode, name: str) -> dict[int, list[CheckSpec]]:
    """Cell index -> the checks it makes, validated: literal ids and points, every id used once."""
    specs: dict[int, list[CheckSpec]] = {}
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        if not is_check_cell(cell):
            continue
        try:
            cell_specs = find_checks(cell.source)
        except ValueError as exc:
            raise AssignError(f"{name}: check cell {index}: {exc}") from exc
        if not cell_specs:
            raise AssignError(f'{name}: check cell {index} has no check("id", ..., points=N, ...) call')
        for spec in cell_specs:
            if spec.check_id in seen:
                raise AssignError(
                    f"{name}: check {spec.check_id!r} in cell {index} is also in cell {seen[spec.check_id]}"
                )
            seen[spec.check_id] = index
        specs[index] = cell_specs
    return specs


def _current_env_kernel_manager():  # -> jupyter_client.AsyncKernelManager
    """A kernel running this interpreter, whatever ``python3`` kernelspec the user has installed, connected over IPC
    (``_provisioner``) so that kernels started in parallel cannot race for TCP ports.

    nbval's ``--nbval-current-env`` (used by the self-check) starts the same kernel, so a solution is recorded in
    exactly the environment a learner's run is checked in.
    """
    from jupyter_client.manager import AsyncKernelManager
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

    from odyssey_lessons.grading._provisioner import with_ipc_provisioner

    class _IpcSpecs(NbvalKernelspecManager):
        def get_kernel_spec(self, kernel_name: str):  # noqa: ANN202 (a jupyter_client KernelSpec)
            return with_ipc_provisioner(super().get_kernel_spec(kernel_name))

    return AsyncKernelManager(kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=_IpcSpecs())


def execute(nb: NotebookNode, *, cwd: Path, name: str, timeout: int = DEFAULT_TIMEOUT) -> NotebookNode:
    """Run every cell of a copy of ``nb`` in a fresh kernel started in ``cwd``.

    Raises:
        AssignError: A cell raised or timed out; the message names the notebook, cell and error.
    """
    from nbclient import NotebookClient

    nb = copy.deepcopy(nb)
    client = NotebookClient(
        nb,
        km=_current_env_kernel_manager(),
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute(cleanup_kc=True)  # shut the kernel down afterwards although we, not nbclient, made its manager
    except Exception as exc:
        failed = [
            (index, out)
            for index, cell in enumerate(nb.cells)
            if cell.cell_type == "code"
            for out in cell.outputs
            if out.output_type == "error"
        ]
        if failed:
            index, out = failed[0]
            first_line = nb.cells[index].source.split("\n", 1)[0]
            raise AssignError(f"{name}: cell {index} ({first_line!r}) raised {out.ename}: {out.evalue}") from exc
        raise AssignError(f"{name}: execution failed: {type(exc).__name__}: {exc}") from exc
    return nb


def _printed(outputs: Iterable[NotebookNode]) -> str:
    return "".join(out.text for out in outputs if out.output_type == "stream")


def coalesce_streams(outputs: list[NotebookNode]) -> list[NotebookNode]:
    """``outputs`` with every stream's text merged into that stream's first output, as nbval does before comparing.

    The kernel sends printed text in chunks whose boundaries depend on timing: ``print("[PASS] ...")`` writes the
    text and its newline separately, and when the kernel's flush timer fires in between, the cell records two stream
    outputs instead of one (13 cells in 300 in a measurement on 2 cores under load). Merging makes the recorded
    notebook a function of the text printed, not of when it was flushed.
    """
    merged: list[NotebookNode] = []
    first: dict[str, NotebookNode] = {}
    for out in outputs:
        if out.output_type == "stream" and out.name in first:
            first[out.name].text += out.text
            continue
        if out.output_type == "stream":
            out = copy.deepcopy(out)
            first[out.name] = out
        merged.append(out)
    return merged


def record_check_outputs(executed: NotebookNode, name: str) -> NotebookNode:
    """Keep outputs and execution counts on check cells only, after making sure every check passed.

    Raises:
        AssignError: A check did not print its ``[PASS]`` line, or a check cell wrote to stderr or displayed
            anything but plain text (those differ between machines and would make nbval flaky).
    """
    nb = copy.deepcopy(executed)
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    specs = _check_specs(nb, name)
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if index not in specs:
            cell.outputs = []
            cell.execution_count = None
            continue
        cell.outputs = coalesce_streams(cell.outputs)
        for out in cell.outputs:
            plain = out.output_type == "execute_result" and set(out.data) == {"text/plain"}
            stdout = out.output_type == "stream" and out.name == "stdout"
            if not (plain or stdout):
                kind = f"{out.output_type}:{out.get('name', '')}" if out.output_type == "stream" else out.output_type
                raise AssignError(
                    f"{name}: check cell {index} produced a {kind} output; a check cell may only print to stdout "
                    "(its output is compared by nbval, and warnings or images differ between machines)"
                )
            if "metadata" in out:
                out.metadata = {}
        printed = _printed(cell.outputs)
        for spec in specs[index]:
            outcome = read_outcome(printed, spec)
            if not outcome.passed:
                why = outcome.message or f"it printed no [PASS] line; the cell printed {printed!r}"
                raise AssignError(f"{name}: check {spec.check_id!r} (cell {index}) fails in the worked solution: {why}")
    return nb


def make_exercise(solution: NotebookNode, stubbed_sources: Sequence[str]) -> NotebookNode:
    """The exercise: the recorded solution with each cell's source replaced by its stubbed version."""
    nb = copy.deepcopy(solution)
    for cell, source in zip(nb.cells, stubbed_sources, strict=True):
        cell.source = source
    return nb


def notebook_text(nb: NotebookNode) -> str:
    """The exact text written for a notebook (nbformat's canonical JSON plus a final newline)."""
    nbformat.validate(nb)
    return nbformat.writes(nb, version=4) + "\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8", newline="\n")


def run_task(task: Task, root: Path, out_root: Path, *, timeout: int = DEFAULT_TIMEOUT) -> list[Path]:
    """Generate one task's notebooks under ``out_root``; execution happens next to the source under ``root``."""
    source = root / task.source
    nb = read_source(source)
    if task.kind == "lesson":
        texts = [notebook_text(nb)]
    else:
        name = str(task.source)
        stubbed = exercise_sources(nb, name)  # fail on bad markers before spending time executing
        _check_specs(nb, name)
        master = record_check_outputs(execute(nb, cwd=source.parent, name=name, timeout=timeout), name)
        visible = [index for index, cell in enumerate(master.cells) if not is_hidden_check(cell)]
        solution = copy.deepcopy(master)
        solution.cells = [solution.cells[index] for index in visible]
        exercise = make_exercise(solution, [stubbed[index] for index in visible])
        texts = [notebook_text(solution), notebook_text(exercise)]
        if len(task.outputs) == 3:
            texts.append(notebook_text(master))
    for relative, text in zip(task.outputs, texts, strict=True):
        _write(out_root / relative, text)
    return [out_root / relative for relative in task.outputs]


def assign(
    root: Path,
    *,
    names: Sequence[str] | None = None,
    out_root: Path | None = None,
    timeout: int = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> list[Path]:
    """Generate the lesson, solution and exercise notebooks from the sources under ``root``.

    Args:
        root: The course root (holds ``notebooks/`` and ``solutions/``).
        names: Only these sources (stems such as ``01_number_formats``); all when None or empty.
        out_root: Where to write (default ``root``); solutions still execute in ``root/solutions``.
        timeout: Seconds each solution cell may run.
        progress: Show a tqdm progress bar on stderr.

    Returns:
        The generated files (unchanged files are not rewritten).

    Raises:
        AssignError: A source is malformed, a solution cell raised, or a check did not pass.
    """
    from tqdm import tqdm

    root = Path(root)
    out_root = root if out_root is None else Path(out_root)
    written: list[Path] = []
    tasks = assign_plan(root, names)
    with tqdm(tasks, desc="odyssey assign", unit="source", disable=not progress) as bar:
        for task in bar:
            bar.set_postfix_str(str(task.source))
            written += run_task(task, root, out_root, timeout=timeout)
    return written


def stale_files(
    root: Path, *, names: Sequence[str] | None = None, timeout: int = DEFAULT_TIMEOUT, progress: bool = True
) -> list[StaleFile]:
    """Regenerate into a temporary directory and list the committed files that differ.

    Without ``names`` it also lists generated-looking notebooks (``NN_name.ipynb`` in ``notebooks/``,
    ``solutions/``, ``exercises/``) whose source is gone.
    """
    root = Path(root)
    stale: list[StaleFile] = []
    with tempfile.TemporaryDirectory(prefix="odyssey-assign-") as tmp:
        fresh = assign(root, names=names, out_root=Path(tmp), timeout=timeout, progress=progress)
        expected = {path.relative_to(tmp) for path in fresh}
        for relative in sorted(expected):
            committed = root / relative
            if not committed.exists():
                stale.append(StaleFile(relative, "missing"))
            elif committed.read_bytes() != (Path(tmp) / relative).read_bytes():
                stale.append(StaleFile(relative, "differs"))
    if not names:
        for folder in (LESSONS_DIR, SOLUTIONS_DIR, EXERCISES_DIR, INSTRUCTOR_DIR):
            for path in sorted((root / folder).glob("*.ipynb")):
                relative = path.relative_to(root)
                if SOURCE_NAME.fullmatch(path.stem) and relative not in expected:
                    stale.append(StaleFile(relative, "no source"))
    return stale
