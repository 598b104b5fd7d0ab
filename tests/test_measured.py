"""The measured-elsewhere data files carry their provenance and agree with the course's reference facts."""

from pathlib import Path

import pytest

from odyssey_lessons.measured import gpu_matmul_throughput

FACTS = Path(__file__).resolve().parents[2] / "shared" / "FACTS.md"


def test_gpu_table_has_provenance_and_rows():
    table = gpu_matmul_throughput()
    prov = table["provenance"]
    assert prov["measured_elsewhere"] is True
    assert prov["hardware"] and prov["software"] and prov["workload"]
    assert [r["format"] for r in table["rows"]] == ["fp32", "tf32", "fp16", "bf16", "e4m3fn"]
    assert all(0 < r["measured"] <= r["datasheet_peak"] for r in table["rows"])


@pytest.mark.skipif(not FACTS.exists(), reason="shared/FACTS.md is not beside this checkout")
def test_gpu_table_matches_reference_facts():
    bullets = FACTS.read_text().replace("\n  ", " ").splitlines()  # join wrapped bullet lines
    line = next(x for x in bullets if "Matrix-multiply throughput on an NVIDIA H200" in x)
    for row in gpu_matmul_throughput()["rows"]:
        assert f"{row['measured']}" in line and f"{row['datasheet_peak']}" in line
