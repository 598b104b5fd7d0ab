"""Kernels on instructions that only some CPUs have (VNNI int8 dot products, AVX512-BF16), selected at run time.

:func:`cpu_features` says which of them numba's compile target has; the kernels that need one are compiled only
when it is there, and every public function names the path it took.
"""

from odyssey_lessons.native._bf16 import BF16_PATHS, bf16_matmul, bf16_matmul_path, bf16_matmul_speed
from odyssey_lessons.native._features import NATIVE_FEATURES, cpu_features, target_cpu

__all__ = [
    "BF16_PATHS",
    "NATIVE_FEATURES",
    "bf16_matmul",
    "bf16_matmul_path",
    "bf16_matmul_speed",
    "cpu_features",
    "target_cpu",
]
