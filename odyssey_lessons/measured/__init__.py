"""Measurements made elsewhere (on hardware a learner may not have), shipped as data files with their provenance.

Lessons show these beside what they measure live, labelled as measured elsewhere. Nothing here is computed from
assumptions: every number comes from a data file written by one of the course's benchmark scripts, on the machine that
file's provenance names.

- ``gpu_precision_h200.json``: ``benchmarks/gpu_precision.py`` on one NVIDIA H200 (matmul throughput per format at
  three sizes, the products' error against float64, one MLP training step per precision policy).
- ``gpu_precision_h200_rerun.json``: the same script run again right after, on the same machine (run-to-run spread).
- ``mnist1d_baselines.json``: ``benchmarks/mnist1d_baselines.py`` on a 2-core CPU (the MNIST-1D paper's baseline
  table, logistic regression / MLP / CNN with the paper's recipe, three seeds: too slow to retrain in a lesson).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["gpu_matmul_throughput", "gpu_precision", "gpu_training_step", "mnist1d_baselines"]

FILE = "gpu_precision_h200.json"
RERUN_FILE = "gpu_precision_h200_rerun.json"
SOURCE = "benchmarks/gpu_precision.py"
MNIST1D_FILE = "mnist1d_baselines.json"
TABLE_SIZE = 8192
TABLE_FORMATS = ["fp32", "tf32", "fp16", "bf16", "e4m3fn"]


@cache
def _load(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def gpu_precision(rerun: bool = False) -> dict[str, Any]:
    """Everything ``benchmarks/gpu_precision.py`` wrote on the H200 (schema: that script's docstring).

    ``rerun=True`` gives the second run made right after the first on the same machine, for the run-to-run spread.
    """
    return json.loads(_load(RERUN_FILE if rerun else FILE))


def _cudnn(version: int | None) -> str:
    return "none" if version is None else f"{version // 10000}.{version // 100 % 100}.{version % 100}"


def _provenance(data: dict[str, Any], workload: str, note: str) -> dict[str, Any]:
    p = data["provenance"]
    return {
        "measured_elsewhere": True,
        "hardware": f"{p['gpu']} ({p['sm_count']} SMs, {p['memory_bytes'] / 2**30:.0f} GiB)",
        "driver": p["driver"],
        "software": f"PyTorch {p['torch']}, CUDA {p['cuda']}, cuDNN {_cudnn(p['cudnn'])}, Python {p['python']}",
        "date": p["date_utc"],
        "workload": workload,
        "source": SOURCE,
        "command": p["command"],
        "note": note,
    }


def gpu_matmul_throughput() -> dict[str, Any]:
    """The GPU matmul throughput table at M = N = K = 8192, from the measured file.

    ``rows``: ``format`` (fp32, tf32, fp16, bf16, e4m3fn), ``measured`` (TFLOP/s, rounded to 0.1) and
    ``datasheet_peak`` (NVIDIA's dense figure, a comparison column, not a measurement); ``provenance`` says where and
    how it was measured.
    """
    data = gpu_precision()
    by_format = {r["format"]: r for r in data["matmul"]["rows"] if r["m"] == TABLE_SIZE}
    rows = [
        {
            "format": fmt,
            "measured": round(by_format[fmt]["tflops"], 1),
            "datasheet_peak": data["datasheet"]["peaks"][fmt],
        }
        for fmt in TABLE_FORMATS
    ]
    row = by_format["fp32"]
    note = (
        f"Measured by {SOURCE} on {data['provenance']['date_utc'][:10]}, not on this machine: the median of at least "
        f"{min(r['repeats'] for r in by_format.values())} products, each timed alone with CUDA events after a warm-up, "
        "on N(0, 1) data. e4m3fn is torch._scaled_mm (per-tensor scales 1, bf16 output, use_fast_accum=False). "
        f"Datasheet dense peaks for comparison: {data['datasheet']['source']}."
    )
    return {
        "title": "Dense matrix-multiply throughput on one GPU, by number format",
        "unit": data["matmul"]["unit"],
        "provenance": _provenance(data, f"square matmul M = N = K = {row['m']}", note),
        "rows": rows,
    }


def gpu_training_step() -> dict[str, Any]:
    """One MLP training step per precision policy on the H200: ``rows`` of policy, batch, ms/step, speedup vs fp32."""
    data = gpu_precision()
    tr = data["training_step"]
    when = data["provenance"]["date_utc"][:10]
    note = f"Measured by {SOURCE} on {when}, not on this machine. Timing: {tr['method']}."
    return {
        "title": "One training step on one GPU, by precision policy",
        "unit": "ms/step",
        "model": tr["model"],
        "parameters": tr["parameters"],
        "optimizer": tr["optimizer"],
        "provenance": _provenance(data, f"{tr['model']}; batches {', '.join(map(str, tr['batches']))}", note),
        "rows": [
            {k: r[k] for k in ("policy", "batch", "median_ms", "speedup_vs_fp32", "median_ms_synced_each_step")}
            for r in tr["rows"]
        ],
    }


def mnist1d_baselines(raw: bool = False) -> dict[str, Any]:
    """The MNIST-1D paper's baseline table beside the course's own run of the paper's recipe, from the measured file.

    ``rows``: ``model`` (logistic regression, mlp, cnn), ``paper`` (the paper's test accuracy, one run), ``seeds``,
    ``measured`` (test accuracy per seed), ``mean`` and ``seconds`` (wall time per run, on a machine whose 1-minute
    ``load_average_1min`` at the start and end is recorded: other work slows it); ``recipe`` is the training recipe;
    ``provenance`` says on which machine, with which versions, when and by which command it was measured.
    ``raw=True`` gives the file as ``benchmarks/mnist1d_baselines.py`` wrote it (schema: that script's docstring).
    """
    data = json.loads(_load(MNIST1D_FILE))
    if raw:
        return data
    p, recipe = data["provenance"], data["recipe"]
    m, v = p["machine"], p["versions"]
    note = (
        f"Measured by {p['source']} on {p['date'][:10]}, not in this notebook: {recipe['steps']:,} steps of Adam (lr "
        f"{recipe['lr']:g}, batch {recipe['batch_size']}) on the paper's split ({recipe['num_train']:,} training, "
        f"{recipe['num_test']:,} test signals), seeds {', '.join(map(str, recipe['seeds']))}; the recipe of "
        f"{recipe['test']}. The paper's column: {data['paper']['source']}."
    )
    return {
        "title": data["title"],
        "unit": "test accuracy",
        "provenance": {
            "measured_elsewhere": True,
            "hardware": f"{m['processor']}, {m['cpu_count']} CPUs ({m['platform']})",
            "software": f"odyssey-lessons {v['odyssey-lessons']}, numpy {v['numpy']}, numba {v['numba']}, "
            f"Python {v['python']}",
            "date": p["date"],
            "workload": f"MNIST-1D, {recipe['steps']:,} training steps per run",
            "source": p["source"],
            "command": p["command"],
            "note": note,
        },
        "recipe": recipe,
        "load_average_1min": p["load_average_1min"],
        "rows": [
            {
                "model": r["model"],
                "paper": data["paper"]["test_accuracy"][r["model"]],
                "seeds": r["seeds"],
                "measured": r["test_accuracy"],
                "mean": r["mean"],
                "seconds": r["seconds"],
            }
            for r in data["rows"]
        ],
    }
