"""Measurements made elsewhere (on hardware a learner may not have), shipped as data files with their provenance.

Lessons show these beside what they measure live, labelled as measured elsewhere. Nothing here is computed.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["gpu_matmul_throughput"]


def gpu_matmul_throughput() -> dict[str, Any]:
    """The GPU matmul throughput table (``rows`` of format / measured / datasheet_peak) with its ``provenance``."""
    text = resources.files(__package__).joinpath("gpu_matmul_h200.json").read_text(encoding="utf-8")
    return json.loads(text)
