# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Start here: ML Odyssey Lessons
#
# This course is about the techniques that make neural-network training fast and models small — number formats,
# mixed precision, learning-rate schedules, optimizers, regularization, quantization and profiling — and about the
# measurements behind the claims made for them. It has one rule: **nothing is faked**. Every curve, table and number
# you will see is computed in the notebook, on your machine, by the `odyssey_lessons` package in this repository. The
# few numbers that cannot be measured on a laptop (GPU throughput) ship as data with their provenance — machine,
# library versions, date — and are labelled as measured elsewhere. When a measurement contradicts a textbook claim,
# the lesson says so and shows why.
#
# **In this notebook**
#
# 1. the lessons, in order, with what each covers and how long it takes to read;
# 2. how the lessons, widgets, exercises and `odyssey check` work;
# 3. a check that your environment works: versions, numba compiling, widgets rendering, the digits loading — ending
#    with a clear **environment OK** (or what is wrong).
#
# ## 1 · The lessons
#
# Take them in order: each builds on the ones before it.
#
# | # | lesson | what it covers |
# |---|---|---|
# | 01 | [Number formats](01_number_formats.ipynb) | fp32 … FP8, FP4: bit layouts, range, rounding, overflow |
# | 02 | [Mixed precision](02_mixed_precision.ipynb) | precision policies trained for real, loss scaling, FP8 recipes |
# | 03 | [Learning-rate schedules](03_lr_schedules.ipynb) | cosine, warm-up, one-cycle, WSD; the LR range test |
# | 04 | [Optimizers](04_optimizers.ipynb) | SGD, momentum, Adam, AdamW, Lion: paths, accuracy, memory |
# | 05 | [Regularization](05_regularization.ipynb) | real overfitting; L2, weight decay, dropout, augmentation |
# | 06 | [Quantization](06_quantization.ipynb) | INT8/INT4/FP8 inference: scales, calibration, bytes, kernels |
# | 07 | [Profiling](07_profiling.ipynb) | timing, per-layer profiles, memory, the roofline |
# | 08 | [Capstone](08_capstone.ipynb) | one recipe from all of them; the seed material's takeaways checked |
#
# Reading times below are **estimates**, computed from the length of each lesson's text (words of its markdown at
# 200 words a minute, rounded up to 5 minutes); working through the code and the widgets takes longer. Each lesson is
# built to run top to bottom in about a minute on a laptop CPU — a design target, not a measurement of your machine
# (the very first run also compiles the package's numba kernels, see section 3). The exercise points are counted from
# the check cells of each exercise notebook.

# %%
import importlib.metadata
import math
import platform
import sys
import time

import ipywidgets
import matplotlib.pyplot as plt
import nbformat
import numba
import numpy as np
from IPython.display import display
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from odyssey_lessons import __version__
from odyssey_lessons.cli import find_course_root
from odyssey_lessons.data import digits_task
from odyssey_lessons.formats import quantize
from odyssey_lessons.grading import find_checks
from odyssey_lessons.perf import format_seconds, measure
from odyssey_lessons.widgets import FormatExplorer, html_table

WORDS_PER_MINUTE = 200
root = find_course_root()
rows = []
for source in sorted((root / "notebooks").glob("[0-9][0-9]_*.py")):
    if source.stem == "00_start_here":
        continue
    lesson = source.with_suffix(".ipynb")
    nb = nbformat.read(lesson, as_version=4) if lesson.exists() else None
    words = sum(len(c.source.split()) for c in nb.cells if c.cell_type == "markdown") if nb else 0
    minutes = 5 * math.ceil(words / WORDS_PER_MINUTE / 5) if words else 0
    exercise = root / "exercises" / lesson.name
    checks = []
    if exercise.exists():
        ex = nbformat.read(exercise, as_version=4)
        checks = [spec for c in ex.cells if c.cell_type == "code" for spec in find_checks(c.source)]
    rows.append([source.stem[:2], lesson.name if nb else f"{lesson.name} (not generated yet)", f"{words:,}",
                 f"about {minutes} min" if words else "—",
                 f"{len(checks)} checks, {sum(s.points for s in checks)} points" if checks else "—"])  # fmt: skip
display(html_table(["#", "notebook", "words of text", "reading (estimate)", "exercise"], rows))

# %% [markdown]
# ## 2 · How the course works
#
# - **Lessons** (`notebooks/`) are meant to be run top to bottom (*Run → Run All Cells*), then read and changed.
#   Every lesson starts with what you will be able to do, and ends with a summary of what it measured on your
#   machine. The `assert` lines you will see pin the lesson's sentences to its numbers: if your machine ever measured
#   something the text does not say, the notebook would stop there rather than show you a wrong sentence.
# - **Widgets** (sliders, drop-downs, buttons) let you explore: drag one and the plot and numbers beside it are
#   recomputed — often by a real training run, cached so that moving back is instant. Each widget's state is plain
#   data (`explorer.state`), so you can check in code what you see on screen.
# - **Exercises** (`exercises/NN_name.ipynb`) ask you to write the code behind a lesson. Write your answer in place of
#   `raise NotImplementedError(...)`, run the cell, then run the check cell below it: it prints `[PASS] ...` or
#   `[FAIL] ...` with a hint. Before you run anything, each check cell shows the output a correct answer prints.
#   A check calls your function with inputs it chooses and compares what comes back (and any array you were handed,
#   so changing an input counts) with a reference; a failure names the call and the first difference.
# - **`odyssey check`** scores a whole exercise notebook: save it, then in a terminal (from the course folder)
#   run `odyssey check exercises/01_number_formats.ipynb`. It runs the notebook top to bottom in a fresh kernel and
#   prints each check and your score; the exit code is 0 when every check passes.
# - **Solutions** (`solutions/NN_name.ipynb`) hold worked answers. Try first: the checks tell you when you are right.
#
# ## 3 · Check your environment
#
# ### Versions

# %%
checks: dict[str, bool] = {}  # each check of this section: passed or not
meta = importlib.metadata.metadata("odyssey-lessons")
declared = {Requirement(r).name.lower(): Requirement(r).specifier
            for r in importlib.metadata.requires("odyssey-lessons") if "extra ==" not in r}  # fmt: skip
wanted = {"python": (platform.python_version(), SpecifierSet(meta["Requires-Python"]))}
for package in ("numpy", "numba", "ipywidgets", "jupyterlab", "matplotlib", "jupyterlab_widgets", "odyssey-lessons"):
    try:
        installed = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        installed = None
    wanted[package] = (installed, declared.get(package, SpecifierSet()))
version_rows = []
for package, (installed, spec) in wanted.items():
    ok = installed is not None and Version(installed) in spec
    checks[f"{package} installed" + (f" ({spec})" if str(spec) else "")] = ok
    version_rows.append([package, installed or "not installed", str(spec) or "—", "yes" if ok else "NO"])
display(html_table(["package", "version", "the course declares", "ok"], version_rows))
print(f"{platform.system()} {platform.machine()}, Python at {sys.executable}")

# %% [markdown]
# ### numba compiles
#
# The package's inner loops are numba kernels: Python functions compiled to machine code on their first call. Below,
# a tiny function is compiled and timed (the first call includes the compile), and one of the package's own kernels
# — rounding float32 to bf16 — is called and checked against an independent computation on the raw bits
# (round to nearest, ties to even, on the top 16 bits of the float32 pattern). The package's kernels are cached on
# disk (`cache=True`): the very first session compiles them (seconds); later sessions load them.


# %%
@numba.njit
def tiny_sum(x):
    total = 0.0
    for value in x:
        total += value
    return total


x = np.arange(1000, dtype=np.float64)
t0 = time.perf_counter()
first = tiny_sum(x)
first_call_s = time.perf_counter() - t0
warm = measure(tiny_sum, x)
checks["numba compiles and runs a function"] = first == x.sum()
print(f"tiny_sum: first call (compile + run) {format_seconds(first_call_s)}, "
      f"then {format_seconds(warm.median_s)} per call")  # fmt: skip

values = np.array([0.1, 1 / 3, -2.5e-3, 65504.0, 1e30], dtype=np.float32)
t0 = time.perf_counter()
bf16 = quantize(values, "bf16")
kernel_s = time.perf_counter() - t0
bits = values.view(np.uint32).astype(np.uint64)
rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000  # nearest, ties to even, on the raw pattern
by_bits = rounded.astype(np.uint32).view(np.float32)
checks["the package's numba kernels run (bf16 rounding)"] = bool(np.array_equal(bf16, by_bits))
print(f"quantize(..., 'bf16'): first call {format_seconds(kernel_s)} (compile or cache load); 0.1 -> {bf16[0]!r}")
display(html_table(["float32", "bf16 (package kernel)", "bf16 (bit arithmetic)"],
                   [[f"{v:.9g}", f"{a:.9g}", f"{b:.9g}"]
                    for v, a, b in zip(values, bf16, by_bits, strict=True)]))  # fmt: skip

# %% [markdown]
# ### Widgets render
#
# You should see a slider and, below it, the format explorer of Lesson 1 (a format, a value, its bits and a plot).
# Drag the slider: the text beside it follows. If you see text such as `IntSlider(value=3, ...)` instead of a slider,
# the notebook front end cannot draw widgets: install `jupyterlab_widgets` in the environment JupyterLab runs from
# (`pip install -e .` does) and reload the page.

# %%
slider = ipywidgets.IntSlider(value=3, min=0, max=10, description="drag me")
echo = ipywidgets.Label()
slider.observe(lambda change: setattr(echo, "value", f"value {change['new']}, squared {change['new'] ** 2}"), "value")
slider.value = 4  # a change through the same path a drag takes
display(ipywidgets.HBox([slider, echo]))
explorer = FormatExplorer(fmt="bf16", value="0.1")
display(explorer)
checks["widgets: ipywidgets works and the lab extension is installed"] = (
    echo.value == "value 4, squared 16" and wanted["jupyterlab_widgets"][0] is not None
)

# %% [markdown]
# ### The digits load
#
# Every training run in the course uses the same dataset, shipped with the package: 1,797 handwritten digits of 8×8
# pixels (the UCI optical digits as scikit-learn ships them), split into 1,259 training, 269 validation and 269 test
# images, standardized with the training statistics.

# %%
task = digits_task("mlp")
sizes = [len(y) for _, y in (task.train, task.val, task.test)]
counts = np.bincount(task.train[1], minlength=10)
checks["the digits load (1,797 images, 10 classes)"] = sum(sizes) == 1797 and len(counts) == 10 and counts.min() > 0
print(f"train / validation / test: {sizes}; training images per class: {counts.tolist()}")
fig, axes = plt.subplots(1, 10, figsize=(10, 1.4))
for digit, ax in enumerate(axes):
    ax.imshow(task.train[0][np.argmax(task.train[1] == digit)].reshape(8, 8), cmap="gray_r")
    ax.set_title(str(digit))
    ax.axis("off")
plt.show()

# %% [markdown]
# ### The verdict

# %%
display(html_table(["check", "passed"], [[name, "yes" if ok else "NO"] for name, ok in checks.items()]))
failed = [name for name, ok in checks.items() if not ok]
print(f"odyssey_lessons {__version__}: " + ("environment OK" if not failed else "PROBLEMS: " + "; ".join(failed)))
assert not failed, f"fix these before starting the course: {failed}"

# %% [markdown]
# If the last line says **environment OK**, start with [Lesson 1 · Number formats](01_number_formats.ipynb).
# Otherwise the table above names what is missing: `pip install -e .` from the course folder installs everything the
# lessons need.
