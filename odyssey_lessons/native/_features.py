"""Which native instructions numba may emit on this machine: the CPU features that decide the course's fast paths.

numba compiles for the host CPU (LLVM's ``-mcpu=host``) unless ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` say
otherwise (for example ``NUMBA_CPU_NAME=generic`` to build a portable cache). A kernel that calls an instruction
the compile target lacks does not fail softly: LLVM refuses to select it. So the question for dispatch is not "does
the CPU have it" but "will numba's target have it", and that is what :func:`cpu_features` answers.

- ``avx512_vnni``: ``vpdpbusd`` on 512-bit registers, 64 unsigned x signed byte products summed into 16 int32 lanes
  per instruction (Cascade Lake, Ice Lake, Zen 4 and later).
- ``vnni_256``: the same instruction on 256-bit registers, VEX-encoded (AVX-VNNI: Alder Lake, Zen 5 client) or
  EVEX-encoded (AVX512-VNNI with AVX512-VL).
- ``avx512_bf16``: ``vdpbf16ps``, pairs of bfloat16 products summed into float32 lanes (Cooper Lake, Sapphire
  Rapids, Zen 4 and later).
"""

from __future__ import annotations

import functools

NATIVE_FEATURES = ("avx512_vnni", "vnni_256", "avx512_bf16")
"""The feature names :func:`cpu_features` reports, in the order the course uses them."""


def _target_features() -> tuple[str, set[str]]:
    """numba's compile target: CPU name and the set of enabled LLVM feature names (``+avx512vnni`` ->
    ``avx512vnni``)."""
    import llvmlite.binding as llvm
    from numba.core import config

    name = config.CPU_NAME or llvm.get_host_cpu_name()
    if config.CPU_FEATURES is not None:
        spec = config.CPU_FEATURES
    elif config.CPU_NAME and config.CPU_NAME != "host":
        spec = ""  # a named CPU without explicit features: LLVM uses that CPU's defaults; assume none of ours
    else:
        spec = llvm.get_host_cpu_features().flatten()
    enabled = {f[1:] for f in spec.split(",") if f.startswith("+")}
    return name, enabled


@functools.cache
def cpu_features() -> dict[str, bool]:
    """``{feature: available}`` for :data:`NATIVE_FEATURES`, as numba's compile target sees them (see the module
    docstring). Computed once per process."""
    _, enabled = _target_features()
    avx512 = {"avx512f", "avx512bw", "avx512vl"} <= enabled
    return {
        "avx512_vnni": avx512 and "avx512vnni" in enabled,
        "vnni_256": "avxvnni" in enabled or (avx512 and "avx512vnni" in enabled),
        "avx512_bf16": avx512 and "avx512bf16" in enabled,
    }


def target_cpu() -> str:
    """The CPU name numba compiles for (``znver4``, ``sapphirerapids``, ``generic``, ...)."""
    return _target_features()[0]
