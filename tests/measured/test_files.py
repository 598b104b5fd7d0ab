"""The measured-elsewhere data files: schema, provenance, physical sanity, and numbers that follow from the raw data."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from odyssey_lessons.measured import gpu_matmul_throughput, gpu_precision, gpu_training_step

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_precision.py"
FORMATS = ["fp32", "tf32", "fp16", "bf16", "e4m3fn"]
RUNS_B = (False, True)
RUNS = [pytest.param(False, id="run"), pytest.param(True, id="rerun")]


def test_matmul_table_schema_and_provenance():
    table = gpu_matmul_throughput()
    assert table["unit"] == "TFLOP/s" and table["title"]
    prov = table["provenance"]
    assert prov["measured_elsewhere"] is True
    for key in ("hardware", "driver", "software", "date", "workload", "source", "note"):
        assert prov[key], key
    assert prov["workload"] == "square matmul M = N = K = 8192"
    assert prov["source"] == "benchmarks/gpu_precision.py"
    assert "H200" in prov["hardware"] and "PyTorch" in prov["software"] and "CUDA" in prov["software"]
    assert [r["format"] for r in table["rows"]] == FORMATS
    assert all(set(r) == {"format", "measured", "datasheet_peak"} for r in table["rows"])


@pytest.mark.parametrize("rerun", RUNS)
def test_raw_file_provenance(rerun):
    prov = gpu_precision(rerun)["provenance"]
    for key in ("gpu", "sm_count", "memory_bytes", "driver", "cuda", "cudnn", "torch", "python", "date_utc", "command"):
        assert prov[key], key
    assert prov["device"] == "cuda" and prov["gpu"] == "NVIDIA H200"
    assert "hostname" not in prov and "host" not in prov


@pytest.mark.parametrize("rerun", RUNS)
def test_every_format_and_size_present(rerun):
    data = gpu_precision(rerun)
    cells = {(r["format"], r["m"]) for r in data["matmul"]["rows"]}
    assert {(f, s) for f in FORMATS for s in (4096, 8192, 16384)} <= cells
    assert {r["format"] for r in data["accuracy"]["rows"]} >= set(FORMATS)
    policies = {(r["policy"], r["batch"]) for r in data["training_step"]["rows"]}
    for batch in data["training_step"]["batches"]:
        assert {(p, batch) for p in ("fp32", "tf32", "autocast_bf16", "autocast_fp16_gradscaler")} <= policies


@pytest.mark.parametrize("rerun", RUNS)
def test_measured_at_most_datasheet_peak(rerun):
    """A physical sanity check: no format runs faster than NVIDIA's dense peak (5% for clock and rounding slack)."""
    data = gpu_precision(rerun)
    assert data["datasheet"]["applies"] is True
    for r in data["matmul"]["rows"]:
        assert r["repeats"] >= 10
        assert 0 < r["tflops"] <= 1.05 * r["datasheet_peak"], r
    for r in gpu_matmul_throughput()["rows"]:
        assert 0 < r["measured"] <= 1.05 * r["datasheet_peak"], r


@pytest.mark.parametrize("rerun", RUNS)
def test_tflops_follow_from_raw_seconds_and_shapes(rerun):
    data = gpu_precision(rerun)
    for r in data["matmul"]["rows"]:
        assert r["flop"] == 2 * r["m"] * r["n"] * r["k"]
        assert r["min_s"] <= r["median_s"] <= r["max_s"]
        assert r["tflops"] == pytest.approx(2 * r["m"] * r["n"] * r["k"] / r["median_s"] / 1e12, rel=1e-12)
    if not rerun:
        raw = {r["format"]: r for r in data["matmul"]["rows"] if r["m"] == 8192}
        for row in gpu_matmul_throughput()["rows"]:
            r = raw[row["format"]]
            assert row["measured"] == round(2 * r["m"] * r["n"] * r["k"] / r["median_s"] / 1e12, 1)


@pytest.mark.parametrize("rerun", RUNS)
def test_training_speedups_follow_from_step_times(rerun):
    rows = gpu_precision(rerun)["training_step"]["rows"]
    for r in rows:
        base = next(b for b in rows if b["policy"] == "fp32" and b["batch"] == r["batch"])
        assert r["speedup_vs_fp32"] == pytest.approx(base["median_ms"] / r["median_ms"], rel=1e-12)
        assert math.isfinite(r["final_loss"])
        assert (r["skipped_steps"] is not None) == (r["policy"] == "autocast_fp16_gradscaler")


def test_training_step_table():
    table = gpu_training_step()
    assert table["unit"] == "ms/step" and table["provenance"]["measured_elsewhere"] is True
    assert table["provenance"]["source"] == "benchmarks/gpu_precision.py"
    assert table["rows"] and all(r["median_ms"] > 0 for r in table["rows"])


def test_rerun_agrees_at_the_table_size():
    """The shipped table is not one lucky run: a second run on the same machine lands within 10%."""
    first, second = ({(r["format"], r["m"]): r["tflops"] for r in gpu_precision(x)["matmul"]["rows"]} for x in RUNS_B)
    for fmt in FORMATS:
        assert second[(fmt, 8192)] == pytest.approx(first[(fmt, 8192)], rel=0.1)


def test_datasheet_peaks_follow_from_the_datasheet_file():
    """The comparison column is NVIDIA's dense figure: the plain FP32 rate as printed, tensor-core rates half the
    datasheet's 'with sparsity' figures (kept, with their source, in the package), rounded to whole TFLOP/s."""
    sheet = json.loads((ROOT / "odyssey_lessons" / "measured" / "nvidia_h200_datasheet.json").read_text())
    assert sheet["gpu"] == "NVIDIA H200" and "datasheet" in sheet["source"]
    expected = {**sheet["dense"], **{k: v / 2 for k, v in sheet["with_sparsity"].items()}}
    for rerun in RUNS_B:
        data = gpu_precision(rerun)
        assert data["datasheet"]["peaks"] == {f: round(expected[f]) for f in FORMATS}
        assert "nvidia_h200_datasheet.json" in data["datasheet"]["source"]


def test_script_help_needs_no_torch():
    out = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--out" in out.stdout


def test_script_refuses_without_cuda(tmp_path):
    """Without torch (CI) or without a visible GPU (here), the script says so on one line and exits with status 2."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    out_file = tmp_path / "out.json"
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out_file)], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 2
    message = out.stderr.strip()
    assert len(message.splitlines()) == 1 and message.startswith("gpu_precision.py: refusing to run:")
    assert "CUDA" in message
    assert not out_file.exists()
