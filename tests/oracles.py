"""Outside oracles: :func:`require` imports one, and ``ORACLE`` is the dtype of every registered format that ml_dtypes
(or numpy) implements.

tf32 has none: it is checked against the exact reference in ``tests/reference.py``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np
import pytest


def require(module: str) -> ModuleType:
    """Import an oracle (ml_dtypes, torch, scipy, ...). The test extra installs every one of them, so a missing oracle
    fails the test instead of skipping it: a skipped comparison would let "equal to PyTorch" go unchecked."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"oracle {module!r} cannot be imported ({exc}); install the test extra: pip install -e '.[test]'")


ml_dtypes = require("ml_dtypes")

ORACLE: dict[str, type] = {
    "fp32": np.float32,
    "fp16": np.float16,
    "bf16": ml_dtypes.bfloat16,
    "e4m3fn": ml_dtypes.float8_e4m3fn,
    "e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "e5m2": ml_dtypes.float8_e5m2,
    "e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "e3m4": ml_dtypes.float8_e3m4,
    "e2m3fn": ml_dtypes.float6_e2m3fn,
    "e3m2fn": ml_dtypes.float6_e3m2fn,
    "e2m1fn": ml_dtypes.float4_e2m1fn,
    "e8m0fnu": ml_dtypes.float8_e8m0fnu,
}
