"""The course's benchmark suite: every CPU benchmark in one command, one table of ratios, one JSON file.

Each benchmark script runs in its own interpreter (so that numba's, OpenBLAS's and PyTorch's thread pools and JIT
caches never mix between them) with its ``--quick`` settings, and writes its full result to
``benchmarks/results/<name>.json``. Every ratio in the summary is against a baseline measured in the same run of the
same script: memcpy (``np.copyto``), ml_dtypes, numpy/BLAS, and PyTorch CPU when it is installed (the ``[bench]``
extra, or any torch), never against a number typed in. Targets come from the issues; a missed target is printed, not
hidden. The suite runs in well under 10 minutes on 2 cores.

    python benchmarks/run_all.py [--only formats,train] [--full] [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import RESULTS, header_line, provenance  # noqa: E402

# name -> (script, extra arguments in the suite)
BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "startup": ("bench_startup.py", []),
    "formats": ("bench_formats.py", []),  # the default 2**24 values: smaller arrays sit in cache and flatter memcpy
    "optim": ("bench_optim.py", []),
    "train": ("bench_train.py", []),
    "augment": ("bench_augment.py", []),
    "quant": ("bench_quant.py", []),
    "native": ("bench_native.py", []),
    "widgets": ("bench_widgets.py", []),
    "grade": ("bench_grade.py", []),
}


def load_script(script: str):
    """Import a benchmark script as a module (to call its ``summary``) without running its ``main``."""
    spec = importlib.util.spec_from_file_location(Path(script).stem, HERE / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_one(name: str, full: bool) -> dict:
    script, extra = BENCHMARKS[name]
    out = RESULTS / f"{name}.json"
    cmd = [sys.executable, str(HERE / script), "--json", str(out), *extra]
    if not full:
        cmd.append("--quick")
    print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, text=True, capture_output=True)
    seconds = time.perf_counter() - t0
    print(proc.stdout[-4000:], end="")
    if proc.returncode != 0:
        print(proc.stderr[-4000:], file=sys.stderr)
        return {"name": name, "seconds": seconds, "status": f"failed (exit {proc.returncode})", "rows": []}
    result = json.loads(out.read_text())
    rows = load_script(script).summary(result)
    return {"name": name, "seconds": seconds, "status": "ok", "rows": rows, "json": str(out.relative_to(HERE.parent))}


def _fmt_ratio(row: dict) -> tuple[str, str, str]:
    ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
    sign = "≥" if row["better"] == "higher" else "≤"
    target = "" if row["target"] is None else f"{sign} {row['target']:g}"
    met = {None: "", True: "yes", False: "**no**"}[row["met"]]
    return ratio, target, met


def markdown(suite: dict) -> str:
    lines = [
        f"# Benchmark suite — {header_line(suite)}",
        "",
        "Ratios against a baseline measured in the same run (higher is better unless the target says ≤).",
        "",
        "| benchmark | case | ratio | baseline | target | met | detail |",
        "|---|---|---:|---|---|---|---|",
    ]
    for bench in suite["benchmarks"]:
        if bench["status"] != "ok":
            lines.append(f"| {bench['name']} | {bench['status']} | | | | | |")
        for row in bench["rows"]:
            ratio, target, met = _fmt_ratio(row)
            lines.append(
                f"| {row['benchmark']} | {row['case']} | {ratio} | {row['baseline']} | {target} | {met} "
                f"| {row['detail']} |"
            )
    missed = [r for b in suite["benchmarks"] for r in b["rows"] if r["met"] is False]
    times = ", ".join(f"{b['name']} {b['seconds']:.0f} s" for b in suite["benchmarks"])
    lines += ["", f"targets missed: {len(missed)}; time per benchmark: {times}; total {suite['seconds']:.0f} s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset of the default")
    parser.add_argument("--full", action="store_true", help="each script's full settings instead of --quick (slow)")
    parser.add_argument("--json", type=Path, default=RESULTS / "suite.json")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    benches = [run_one(name, args.full) for name in names]
    suite = {**provenance(), "benchmarks": benches, "seconds": time.perf_counter() - t0, "quick": not args.full}
    text = markdown(suite)
    print("\n" + text)
    args.json.write_text(json.dumps(suite, indent=2))
    args.json.with_suffix(".md").write_text(text + "\n")
    print(f"\nwrote {args.json} and {args.json.with_suffix('.md')}")
    return 0 if all(b["status"] == "ok" for b in benches) else 1


if __name__ == "__main__":
    raise SystemExit(main())
