"""Benchmark: what a learner waits for before the first result — import time and numba JIT compile time.

Each measurement runs in a fresh interpreter, as a new Jupyter kernel would:

- ``import odyssey_lessons`` (and each subpackage a lesson imports), against ``import numpy`` timed the same way in the
  same run (the baseline: numpy is the floor any numpy course pays);
- the first call of a representative kernel of each subpackage, once with an empty numba cache (``NUMBA_CACHE_DIR``
  pointed at a new temporary directory: the JIT compiles) and once more with that cache filled (what every later
  kernel start costs). The ratio warm / cold is the share of the compile time that ``cache=True`` leaves.

Times are the minimum over ``--repeats`` fresh interpreters (cold-cache runs each get their own empty directory).
Prints a Markdown table and writes JSON (default ``benchmarks/results/startup.json``). Nothing asserts a time.

    python benchmarks/bench_startup.py [--quick] [--repeats 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _common import header_line, main_for, provenance, ratio_row

IMPORTS = {
    "numpy (baseline)": "import numpy",
    "odyssey_lessons": "import odyssey_lessons",
    "odyssey_lessons.formats": "import odyssey_lessons.formats",
    "odyssey_lessons.train": "import odyssey_lessons.train",
    "odyssey_lessons.quant": "import odyssey_lessons.quant",
    "odyssey_lessons.perf": "import odyssey_lessons.perf",
    "odyssey_lessons.widgets": "import odyssey_lessons.widgets",
}

# name -> (setup code, the timed first call); the setup imports and builds inputs, untimed
FIRST_CALLS = {
    "formats.quantize (e4m3fn)": (
        "import numpy as np; from odyssey_lessons.formats import quantize; x = np.ones(64, np.float32)",
        "quantize(x, 'e4m3fn')",
    ),
    "optim.adam update": (
        "import numpy as np; from odyssey_lessons.optim import adam; p = {'w': np.ones(64, np.float32)}; "
        "opt = adam(1e-3); s = opt.init(p)",
        "opt.update(p, s, p)",
    ),
    "nn digits CNN forward + backward": (
        "import numpy as np; from odyssey_lessons.nn import digits_cnn; "
        "m = digits_cnn(rng=np.random.default_rng(0)); x = np.ones((4, 1, 8, 8), np.float32)",
        "y = m.forward(x, training=True); m.backward(np.ones_like(y))",
    ),
    "quant.int8_matmul": (
        "import numpy as np; from odyssey_lessons.quant import int8_matmul; a = np.ones((4, 8), np.int8)",
        "int8_matmul(a, a.T.copy())",
    ),
}

WORKER = """
import json, time
t0 = time.perf_counter()
{code}
print(json.dumps(time.perf_counter() - t0))
"""

FIRST_CALL_WORKER = """
import json, time
{setup}
t0 = time.perf_counter()
{call}
print(json.dumps(time.perf_counter() - t0))
"""


def _seconds(code: str, env: dict | None = None) -> float | None:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return None  # e.g. a subpackage not installed in this checkout: reported as missing, not as a crash
    return float(json.loads(proc.stdout.splitlines()[-1]))


def _min(values: list[float | None]) -> float | None:
    ok = [v for v in values if v is not None]
    return min(ok) if ok else None


def run(args: argparse.Namespace) -> dict:
    repeats = 2 if args.quick else args.repeats
    _seconds(WORKER.format(code="import odyssey_lessons"))  # warm the OS file cache once
    imports = []
    for name, code in IMPORTS.items():
        imports.append({"module": name, "seconds": _min([_seconds(WORKER.format(code=code)) for _ in range(repeats)])})
    calls = []
    for name, (setup, call) in FIRST_CALLS.items():
        code = FIRST_CALL_WORKER.format(setup=setup, call=call)
        cold, warm = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
                env = {**os.environ, "NUMBA_CACHE_DIR": cache}
                cold.append(_seconds(code, env))
                warm.append(_seconds(code, env))
        calls.append({"kernel": name, "cold_cache_s": _min(cold), "warm_cache_s": _min(warm)})
    return {"benchmark": "import and JIT compile time", **provenance(), "repeats": repeats, "imports": imports,
            "first_calls": calls}  # fmt: skip


def _ms(value: float | None) -> str:
    return "missing" if value is None else f"{value * 1e3:.0f}"


def markdown(result: dict) -> str:
    lines = [
        f"import and first-call time in a fresh interpreter, {header_line(result)}; min of {result['repeats']}",
        "",
        "| import | ms |",
        "|---|---:|",
        *(f"| {r['module']} | {_ms(r['seconds'])} |" for r in result["imports"]),
        "",
        "| first call | empty numba cache (JIT compile) ms | cache filled ms |",
        "|---|---:|---:|",
        *(f"| {r['kernel']} | {_ms(r['cold_cache_s'])} | {_ms(r['warm_cache_s'])} |" for r in result["first_calls"]),
    ]
    return "\n".join(lines)


def summary(result: dict) -> list[dict]:
    """Each import ÷ ``import numpy``; each first call with the cache filled ÷ with an empty cache (JIT compile)."""
    base = result["imports"][0]["seconds"]
    rows = []
    for r in result["imports"][1:]:
        ratio = None if r["seconds"] is None or not base else r["seconds"] / base
        rows.append(ratio_row("startup", f"import {r['module']}", ratio, baseline="import numpy", better="lower",
                              detail=f"{_ms(r['seconds'])} ms"))  # fmt: skip
    for r in result["first_calls"]:
        cold, warm = r["cold_cache_s"], r["warm_cache_s"]
        ratio = None if warm is None or not cold else warm / cold
        rows.append(ratio_row("startup", f"first call {r['kernel']}", ratio, baseline="same call, JIT compile",
                              better="lower", detail=f"compile {_ms(cold)} ms, cached {_ms(warm)} ms"))  # fmt: skip
    return rows


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=3, help="fresh interpreters per measurement (--quick: 2)")


if __name__ == "__main__":
    raise SystemExit(main_for(__doc__, run, markdown, "startup.json", add_arguments=_add_arguments))
