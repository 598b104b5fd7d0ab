"""Measuring instead of guessing: timing, memory, FLOP/byte counts, a per-layer profiler and the roofline.

- :func:`measure` times a function (warm-up, repeats, median/min/IQR, first call and JIT compile kept apart);
  :func:`compile_time` times numba's compile of a kernel alone.
- :func:`memory_report` sums the real arrays of a training step (parameters, gradients, optimizer state, activations
  kept for backward); :func:`peak_step_memory` measures a step's peak with tracemalloc.
- :func:`layer_counts` / :func:`model_counts` count FLOPs (a multiply-add is 2) and minimum bytes per layer.
- :func:`profile` times each layer of a Sequential, forward and backward, torch.profiler-style.
- :func:`stream_bandwidth`, :func:`peak_gflops` and :func:`machine_info` probe the learner's machine;
  :func:`roofline` and :func:`plot_roofline` put the profiled layers under its roofs.
"""

from odyssey_lessons._interleave import interleaved
from odyssey_lessons._threads import single_threaded
from odyssey_lessons.perf._counts import COUNTERS, Counts, layer_counts, layer_name, loss_counts, model_counts
from odyssey_lessons.perf._direct_conv import direct_conv2d, im2col_bytes
from odyssey_lessons.perf._memory import LayerMemory, MemoryReport, cached_arrays, memory_report, peak_step_memory
from odyssey_lessons.perf._plot import plot_roofline
from odyssey_lessons.perf._probes import STREAM_BYTES_PER_ELEMENT, machine_info, peak_gflops, stream_bandwidth
from odyssey_lessons.perf._profiler import Profile, ProfileRow, profile
from odyssey_lessons.perf._roofline import Roofline, RooflinePoint, roofline
from odyssey_lessons.perf._timing import Timing, compile_time, format_seconds, measure, paired_speedup

__all__ = [
    "interleaved",
    "single_threaded",
    "paired_speedup",
    "direct_conv2d",
    "im2col_bytes",
    "COUNTERS",
    "STREAM_BYTES_PER_ELEMENT",
    "Counts",
    "LayerMemory",
    "MemoryReport",
    "Profile",
    "ProfileRow",
    "Roofline",
    "RooflinePoint",
    "Timing",
    "cached_arrays",
    "compile_time",
    "format_seconds",
    "layer_counts",
    "layer_name",
    "loss_counts",
    "machine_info",
    "measure",
    "memory_report",
    "model_counts",
    "peak_gflops",
    "peak_step_memory",
    "plot_roofline",
    "profile",
    "roofline",
    "stream_bandwidth",
]
