"""What makes the streaming kernels run at memory speed, checked in the compiled code instead of with a stopwatch.

The property: each kernel's loop is vectorised with contiguous vector loads and stores, and never through masked
gathers or scatters. With numba 0.68 / LLVM 22 the rounding kernels lost it (an index that LLVM could not prove
non-negative kept numba's negative-index wraparound alive, so the loop gathered and scattered element by element)
and ran at 0.22x memcpy on AMD Zen 5 instead of about 1x; no test noticed, because the results stayed bit-exact.
These tests compile a fresh, uncached copy of each kernel with its own options for this machine's CPU and read the
LLVM IR, so the next numba or LLVM upgrade that loses the property fails here, on any machine, whatever its load.
"""

from __future__ import annotations

import re
import warnings

import numba
import numpy as np
import pytest

from odyssey_lessons.formats import FORMATS
from odyssey_lessons.formats import _fast_kernels as FK
from odyssey_lessons.formats._quantize import fast_params
from odyssey_lessons.optim import _kernels as OK

N = 1 << 12
VECTOR_ACCESS = re.compile(r"(?:load|store) <(\d+) x (?:float|i32)>")


def _f32(n: int = N) -> np.ndarray:
    return np.linspace(-3.0, 3.0, n, dtype=np.float32)


def _bits(n: int = N) -> np.ndarray:
    return np.empty(n, np.float32).view(np.uint32)


def _fmt_case(kernel, fmt: str, rounding: str, *extra):
    return kernel, (_f32(), _bits(), fast_params(FORMATS[fmt], False, rounding), *extra)


f32 = np.float32
FORMAT_KERNELS = {
    "quantize_f32_nearest": _fmt_case(FK.quantize_f32_nearest, "bf16", "nearest"),
    "quantize_f32_toward_zero": _fmt_case(FK.quantize_f32_toward_zero, "e4m3fn", "toward_zero"),
    "quantize_f32_stochastic": _fmt_case(FK.quantize_f32_stochastic, "fp16", "stochastic", np.uint64(7)),
    "quantize_f32_scale": _fmt_case(FK.quantize_f32_scale, "e8m0fnu", "nearest", FK.MODE_NEAREST, np.uint64(0)),
    "quantize_f32_nearest_serial": _fmt_case(FK.quantize_f32_nearest_serial, "bf16", "nearest"),
    "abs_max_bits": (FK.abs_max_bits, (_f32(),)),
    "quantize_f32_nearest_scaled": (
        FK.quantize_f32_nearest_scaled,
        (_f32(), _f32(), fast_params(FORMATS["e4m3fn"], True, "nearest"), f32(4.0), f32(0.25)),
    ),
}
OPTIMIZER_KERNELS = {
    "add": (OK.add_kernel, (_f32(), _f32(), _f32())),
    "sgd": (OK.sgd_kernel, (_f32(), _f32(), _f32(), np.array([0.1, 0.01, 0.0, 0.0]), True)),
    "sgd_momentum": (OK.sgd_momentum_kernel, (*[_f32() for _ in range(5)], np.array([0.1, 0.0, 0.9, 0.0]), True)),
    "adam": (OK.adam_kernel, (*[_f32() for _ in range(7)], np.array([0.1, 0.999, 1e-3, 0.1, 0.5, 1e-8, 0, 0]), True)),
    "adagrad": (OK.adagrad_kernel, (*[_f32() for _ in range(5)], np.array([0.1, 0.0, 1e-10]), True)),
    "rmsprop": (OK.rmsprop_kernel, (*[_f32() for _ in range(9)], np.array([0.01, 0.99, 0.01, 1e-8, 0, 0.9, 1]), True)),
    "lion": (OK.lion_kernel, (*[_f32() for _ in range(5)], np.array([1e-4, 0.9, 0.99, 0.0]), True)),
}


def fresh_ir(kernel, args) -> str:
    """LLVM IR of an uncached copy of ``kernel`` (same options) compiled for ``args`` (numba cannot inspect code
    it loaded from its cache)."""
    options = {k: v for k, v in kernel.targetoptions.items() if k not in ("cache", "nopython")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)
        copy = numba.njit(**options)(kernel.py_func)
        copy(*args)
    return copy.inspect_llvm(copy.signatures[0])


@pytest.mark.parametrize("name", [*FORMAT_KERNELS, *OPTIMIZER_KERNELS])
def test_streaming_kernel_is_vectorised_without_gathers_or_scatters(name):
    kernel, args = {**FORMAT_KERNELS, **OPTIMIZER_KERNELS}[name]
    ir = fresh_ir(kernel, args)
    assert "llvm.masked.gather" not in ir and "llvm.masked.scatter" not in ir, f"{name} gathers or scatters"
    widths = [int(w) for w in VECTOR_ACCESS.findall(ir)]
    assert widths and max(widths) >= 4, f"{name}: no contiguous vector load or store in its loop"


def test_the_check_catches_the_slow_loop_shape():
    """The check itself can fail: the loop shape that lost the vector loop (an index ``c * CHUNK + ...`` into the whole
    array) still compiles to gathers and scatters with this numba, so the test above would notice its return."""

    @numba.njit(parallel=True)
    def wraparound_indexed(x, out):
        n = x.size
        for c in numba.prange((n + 1023) // 1024):
            for i in range(c * 1024, min(n, (c + 1) * 1024)):
                b = np.abs(x[i])
                out[i] = b if b < np.float32(1.0) else (b + np.float32(0.5)) - np.float32(0.5)

    x, out = _f32(), _f32()
    wraparound_indexed(x, out)
    ir = wraparound_indexed.inspect_llvm(wraparound_indexed.signatures[0])
    if "llvm.masked.gather" not in ir:
        pytest.skip("this numba/LLVM vectorises the wraparound-indexed loop contiguously: nothing to demonstrate")
    assert "llvm.masked.scatter" in ir
