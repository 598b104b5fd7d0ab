# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercises 7 · A timing harness and the roofline
#
# Four tasks, each checked against the course package (`odyssey_lessons.perf`):
#
# 1. **`time_it`**: a timing harness with warm-up calls and the median of repeated samples.
# 2. **`linear_forward_counts`**: the FLOPs and bytes of a Linear layer's forward pass, and its arithmetic intensity.
# 3. **`roofline_place`**: a kernel's attainable FLOP/s under a machine's roofline, and whether it is memory- or
#    compute-bound.
# 4. **`compute_bound_batch`**: the smallest batch size at which a Linear layer becomes compute-bound.
#
# Nothing here asserts how fast anything runs: task 1 is checked with a fake clock whose time only moves when the
# function being timed says so (and once with the real clock, where it only has to return a positive number);
# tasks 2-4 are checked against `perf.layer_counts` and `perf.roofline`. Write your code in place of the
# `raise NotImplementedError(...)` lines, run the cell, then run the check cell below it. A check prints
# `[PASS] ...` or `[FAIL] ...` with a hint. Before you run anything, each check cell shows the output a correct answer
# prints: that is what your run is compared with. To score the whole notebook, save it and run
# `odyssey check exercises/07_profiling.ipynb` in a terminal.

# %%
import statistics
import time
from collections.abc import Callable

import numpy as np

from odyssey_lessons.grading import check, close
from odyssey_lessons.nn import Linear
from odyssey_lessons.perf import layer_counts, roofline

# %% [markdown]
# ## Task 1 · A timing harness: warm-up, then the median
#
# The first calls of a function pay for things later calls do not (a JIT compile, a cache load, fresh memory), and
# later calls vary because other programs share the CPU. So a harness
#
# 1. calls `fn()` `warmup` times without timing it;
# 2. then takes `repeats` **samples**: each sample reads the clock, calls `fn()` once, reads the clock again, and
#    records the difference;
# 3. returns the **median** of the samples (for an even number of samples, the mean of the two middle ones, as
#    `statistics.median` does).
#
# Write `time_it(fn, warmup, repeats, clock=time.perf_counter)`. Read the time only through `clock()` — the check
# passes a fake clock that moves only when `fn` runs, so it can tell exactly which calls you timed. `fn` must be
# called exactly `warmup + repeats` times. Return a Python float (seconds).


# %%
def time_it(
    fn: Callable[[], object], warmup: int, repeats: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median seconds of ``repeats`` timed calls of ``fn()``, after ``warmup`` untimed calls."""
    ### BEGIN SOLUTION
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = clock()
        fn()
        samples.append(clock() - start)
    return float(statistics.median(samples))
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
FIXTURES = "odyssey_lessons.grading.fixtures"  # FakeClock and Workload, made on both sides of each call


def time_it_oracle(fn: object, warmup: int, repeats: int, clock: object = None) -> float:
    """What a correct harness gives on a fixture ``Workload``: ``fn`` called ``warmup + repeats`` times, and the
    median of the durations of the calls after the warm-up (read off the workload, not timed)."""
    for _ in range(warmup + repeats):
        fn()
    return float(statistics.median(fn.durations[warmup : warmup + repeats]))


def test_time_it(answers) -> None:
    rng = np.random.default_rng(71)
    cases = [  # warmup, durations of every call (the first `warmup` are the untimed ones)
        (2, [100.0, 50.0, 3.0, 1.0, 2.0, 5.0, 4.0]),  # slow warm-up calls (a "compile") must not be timed
        (0, [1.0, 2.0, 3.0, 10.0]),  # even number of samples: the mean of the middle two
        (1, [9.0, 0.5]),  # one sample
        (3, [7.0, 7.0, 7.0, 0.25, 8.0, 0.5]),  # the median, not the mean (2.9167) nor the minimum
        (5, list(rng.uniform(0.001, 0.1, 5)) + list(rng.exponential(0.01, 9))),
    ]
    for warmup, durations in cases:
        repeats = len(durations) - warmup
        what = f"warmup={warmup}, repeats={repeats}, call durations {np.round(durations, 4).tolist()}"
        clock = answers.call(f"{FIXTURES}:FakeClock")  # time moves only when fn runs
        fn = answers.call(f"{FIXTURES}:Workload", clock, durations)
        try:
            got = answers.time_it(fn, warmup, repeats, clock=clock)
        except AssertionError as exc:
            raise AssertionError(f"{what}: {exc}") from None
        try:
            fn.get("calls")
        except AssertionError as exc:
            raise AssertionError(f"{what}: fn must be called warmup + repeats times ({exc})") from None
        assert isinstance(got, float), f"return a Python float, got {type(got).__name__}"
        want = statistics.median(durations[warmup:])
        assert abs(got - want) <= 1e-9 * max(1.0, want), f"{what}: returned {got:.6g}, the median is {want:.6g}"
    # with the real clock: a positive, finite number of seconds
    fn = answers.call(f"{FIXTURES}:Workload", answers.call(f"{FIXTURES}:FakeClock"), [0.0] * 4)
    real, _ = answers.both("time_it", fn, 1, 3)
    assert np.isfinite(real) and real > 0, f"with time.perf_counter, time_it returned {real!r}"


check("perf.time_it", test_time_it, points=4,
      hint="warm up untimed; per sample t0 = clock(); fn(); clock() - t0; return statistics.median(...)",
      oracles={"time_it": time_it_oracle}, compare=close(rtol=1e-9))  # fmt: skip

# %% [markdown]
# ## Task 2 · FLOPs and bytes of a Linear layer
#
# A Linear layer maps a batch `x` of shape (B, n_in) to `y = x @ W + b` of shape (B, n_out), with `W` (n_in, n_out)
# and `b` (n_out,). Count its **forward pass** with the conventions of `perf.layer_counts` (and of the roofline
# literature):
#
# - a multiply-add is **2 FLOPs**: each of the B × n_out outputs sums n_in products; adding the bias is one more FLOP
#   per output;
# - **bytes** are the minimum traffic: every value of `x`, `W` and `b` read once and every value of `y` written once,
#   at `itemsize` bytes per value (4 for float32).
#
# Write `linear_forward_counts(batch, n_in, n_out, itemsize=4)` returning `(flops, bytes)` as ints, and
# `intensity(flops, bytes)` returning the arithmetic intensity in FLOP per byte. The check compares both with
# `perf.layer_counts` of a real `Linear` on five shapes, at 4 and at 2 bytes per value.


# %%
def linear_forward_counts(batch: int, n_in: int, n_out: int, itemsize: int = 4) -> tuple[int, int]:
    """FLOPs and minimum bytes of ``x @ W + b`` for ``x`` (batch, n_in)."""
    ### BEGIN SOLUTION
    flops = 2 * batch * n_in * n_out + batch * n_out
    moved = itemsize * (batch * n_in + n_in * n_out + n_out + batch * n_out)
    return flops, moved
    ### END SOLUTION


def intensity(flops: int, moved: int) -> float:
    """Arithmetic intensity, FLOP per byte."""
    ### BEGIN SOLUTION
    return flops / moved
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def counts_oracle(batch: int, n_in: int, n_out: int, itemsize: int = 4) -> tuple[int, int]:
    """``perf.layer_counts`` of a real Linear(n_in, n_out) on a (batch, n_in) input: forward FLOPs and bytes."""
    layer = Linear(n_in, n_out, rng=np.random.default_rng(0))
    counts = layer_counts(layer, (batch, n_in), itemsize=itemsize)
    return counts.forward_flops, counts.forward_bytes


def intensity_oracle(flops: int, moved: int) -> float:
    """FLOP per byte."""
    return flops / moved


def test_linear_counts(answers) -> None:
    shapes = [(1, 64, 10), (64, 128, 32), (256, 784, 120), (7, 3, 5), (4096, 4096, 4096)]
    for batch, n_in, n_out in shapes:
        for itemsize in (4, 2):
            flops, moved = answers.linear_forward_counts(batch, n_in, n_out, itemsize)  # exact ints
            answers.intensity(flops, moved)  # to 1e-12


check("perf.linear_counts", test_linear_counts, points=2,
      hint="FLOPs 2*B*in*out + B*out; bytes itemsize*(B*in + in*out + out + B*out); FLOPs / bytes",
      oracles={"linear_forward_counts": counts_oracle, "intensity": intensity_oracle},
      compare=close(rtol=1e-12))  # fmt: skip

# %% [markdown]
# ## Task 3 · A place on the roofline
#
# A machine with peak arithmetic rate $P$ (FLOP/s) and memory bandwidth $\beta$ (bytes/s) runs a kernel of
# arithmetic intensity $I$ (FLOP/byte) at most at
#
# $$\text{attainable}(I) = \min(P,\ \beta I).$$
#
# The roofs meet at the **ridge** $I^* = P / \beta$. A kernel with $I < I^*$ is **memory-bound** (return
# `"memory"`); with $I \ge I^*$ it is **compute-bound** (return `"compute"`; exactly at the ridge counts as compute,
# as in `perf.roofline`). Write `roofline_place(intensity, peak_flops, bandwidth)` returning
# `(attainable FLOP/s, bound)`.


# %%
def roofline_place(intensity: float, peak_flops: float, bandwidth: float) -> tuple[float, str]:
    """``(min(peak_flops, bandwidth * intensity), "memory" or "compute")``."""
    ### BEGIN SOLUTION
    attainable = min(peak_flops, bandwidth * intensity)
    return attainable, "memory" if intensity < peak_flops / bandwidth else "compute"
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def roofline_oracle(intensity: float, peak_flops: float, bandwidth: float) -> tuple[float, str]:
    """``perf.roofline``'s place of a kernel of this intensity: (attainable FLOP/s, bound)."""
    row = {"name": "k", "flops": intensity * 1e6, "bytes": 1e6, "seconds": 1.0}
    point = roofline([row], peak_flops=peak_flops, bandwidth=bandwidth).points[0]
    return point.attainable, point.bound


def test_roofline_place(answers) -> None:
    machines = [(100e9, 20e9), (1e12, 100e9), (67e12, 4.8e12), (2e9, 8e9)]  # (peak FLOP/s, bandwidth B/s)
    for peak, bw in machines:
        for i in [0.05, 0.25, 1.0, 4.0, peak / bw, 13.0, 100.0, 1000.0]:
            answers.roofline_place(i, peak, bw)  # attainable to 1e-9, the bound exactly


check("perf.roofline_place", test_roofline_place, points=2,
      hint="attainable = min(peak, bandwidth * I); 'memory' if I < peak / bandwidth else 'compute'",
      oracles={"roofline_place": roofline_oracle}, compare=close(rtol=1e-9))  # fmt: skip

# %% [markdown]
# ## Task 4 · When does a Linear layer become compute-bound?
#
# The intensity of a Linear layer's forward pass grows with the batch: the weights are read once, whatever the
# batch, and reused by every sample. Write `compute_bound_batch(n_in, n_out, peak_flops, bandwidth, max_batch)`:
# the smallest batch size `B` in `1 .. max_batch` at which the float32 forward pass of a Linear(n_in → n_out) is
# compute-bound on that machine, or `None` if it is memory-bound at every batch size up to `max_batch`. (Use your
# answers to tasks 2 and 3. A loop is fine; for the curious, the intensity tends to
# $2\,n_\text{in} n_\text{out} / (4 (n_\text{in} + n_\text{out}))$ as the batch grows — which tells you when the
# answer is `None` for any batch.)


# %%
def compute_bound_batch(n_in: int, n_out: int, peak_flops: float, bandwidth: float, max_batch: int) -> int | None:
    """Smallest batch in 1..max_batch at which Linear(n_in → n_out)'s forward is compute-bound, else None."""
    ### BEGIN SOLUTION
    for batch in range(1, max_batch + 1):
        flops, moved = linear_forward_counts(batch, n_in, n_out)
        if roofline_place(intensity(flops, moved), peak_flops, bandwidth)[1] == "compute":
            return batch
    return None
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def oracle_batch(n_in: int, n_out: int, peak: float, bw: float, max_batch: int) -> int | None:
    layer = Linear(n_in, n_out, rng=np.random.default_rng(0))
    for batch in range(1, max_batch + 1):
        c = layer_counts(layer, (batch, n_in))
        row = {"name": "linear", "flops": c.forward_flops, "bytes": c.forward_bytes, "seconds": 1.0}
        if roofline([row], peak_flops=peak, bandwidth=bw).points[0].bound == "compute":
            return batch
    return None


def test_compute_bound_batch(answers) -> None:
    cases = [  # n_in, n_out, peak FLOP/s, bandwidth B/s, max batch
        (128, 32, 100e9, 20e9, 512),  # the digits CNN's hidden layer on a laptop core
        (4096, 4096, 67e12, 4.8e12, 4096),  # a transformer-sized layer on a GPU's fp32 units
        (4096, 4096, 989e12, 4.8e12, 4096),  # the same on its bf16 tensor cores: the ridge moves right
        (64, 10, 100e9, 20e9, 2048),  # too narrow: memory-bound at any batch
        (1024, 1024, 1e9, 100e9, 16),  # a slow core with fast memory: compute-bound from batch 1
    ]
    for n_in, n_out, peak, bw, max_batch in cases:
        answers.compute_bound_batch(n_in, n_out, peak, bw, max_batch)


check("perf.compute_bound_batch", test_compute_bound_batch, points=2,
      hint="loop B = 1..max_batch: counts -> intensity -> roofline_place; first 'compute', else None",
      oracles={"compute_bound_batch": oracle_batch})  # fmt: skip

# %% [markdown]
# **Median or minimum?** `time_it` returns the median of its samples. Say in two or three sentences why the median is
# a better summary than the mean on a shared machine, and when you would report the minimum instead. (not graded;
# compare with the solution)
#
# ### BEGIN SOLUTION
# Noise on a shared machine only ever *adds* time — another process takes the core, an interrupt arrives, the cache
# was flushed — and it comes in rare large bursts, which drag the mean up while the median of the samples ignores
# them. The median answers "what does a call typically cost here". The minimum is the run least disturbed by
# everything else, the closest to the code's own cost: report it when that cost is the question (report the spread
# beside either, so a reader knows how quiet the machine was). To decide which of two implementations is faster,
# neither is enough on its own: time them in turn, round by round, and judge the per-round ratios with an interval,
# as lesson 7 does in sections 6 and 8.
# ### END SOLUTION
