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
# # Lesson 7 · Profiling: measure where the time and the memory go
#
# The seed material of this course printed a profiling table — "Conv2D 3×3 15.2 ms / 32.5 MB, Linear 3.1 ms / 2.1 MB,
# BatchNorm 2.8 ms, ReLU 1.2 ms, MaxPool 0.9 ms" — and concluded that convolutions take 80% of the time, that
# activations and pooling are cheap, and that memory is dominated by activations. Those numbers were typed in. Here
# every one of them is measured, on *your* machine, in this notebook: the course's digits CNN is profiled layer by
# layer, forward and backward, its layers are placed under the roofline of this CPU, and each claim gets a verdict
# computed from the measurement.
#
# **You will be able to**
#
# 1. time code honestly: warm-up, repeated samples, the median, the spread, and compile time kept apart;
# 2. read a per-layer profile (time, share, FLOPs, GFLOP/s, bytes, FLOP/byte, activation memory) and check that its
#    rows add up to the whole step;
# 3. explain how batch size moves the bottleneck, and separate fixed per-call (Python) overhead from kernel time;
# 4. place a layer on the roofline — attainable FLOP/s = min(peak, bandwidth × intensity) — from its arithmetic
#    intensity, and say whether it is memory- or compute-bound;
# 5. compare a direct convolution with im2col + BLAS, in time and in memory;
# 6. account for a training step's memory: parameters, gradients, optimizer state and activations, and find the batch
#    size where activations take over.
#
# Timings depend on the machine and on what else runs on it, so nothing below asserts a speed: every conclusion is
# printed from whatever this run measured. The CPU is probed once (section 5) and its description is printed here.

# %%
import platform

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, display
from tqdm.auto import tqdm

from odyssey_lessons import __version__, nn, optim, perf
from odyssey_lessons.data import digits_task
from odyssey_lessons.evidence import ROW_HEADER, Claim, judge, judge_value
from odyssey_lessons.measured import gpu_matmul_throughput, gpu_training_step
from odyssey_lessons.nn import profiled_cnn
from odyssey_lessons.perf import direct_conv2d, im2col_bytes
from odyssey_lessons.studies import largest_share, repeated_profiles, row_shares
from odyssey_lessons.train import fit
from odyssey_lessons.widgets import ProfileExplorer, html_table, machine_roofs, profile_setting

measured: dict[str, object] = {}  # key results, collected for the summary at the end
plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3})
info = perf.machine_info()
blas = ", ".join(f"{b['internal_api']} {b['version']} ({b['architecture']})" for b in info["blas"]) or "unknown"
print(f"odyssey_lessons {__version__}, numpy {info['numpy']}, numba {info['numba']}, Python {info['python']}")
print(f"{info['cpu']}, {info['logical_cores']} logical cores, BLAS {blas}, {platform.machine()}, {info['date_utc']}")


def ms(seconds: float) -> str:
    return f"{1e3 * seconds:.3f}"


# %% [markdown]
# ## 1 · Timing one thing honestly
#
# A single `time.perf_counter()` difference is a poor measurement. The first call of anything pays for things later
# calls do not: numba compiling a kernel (or loading it from its on-disk cache), numpy's lazy imports, fresh pages of
# memory. Later calls vary because other processes share the CPU. `perf.measure` therefore times the first call on
# its own, makes `warmup` untimed calls, then takes `repeats` samples (each of enough calls to last a few
# milliseconds) and reports the **median** (robust to a stray slow sample), the minimum and the interquartile range.
#
# Here: the forward pass of the CNN's convolution at batch 64, and the cost of compiling its im2col kernel, which
# `perf.compile_time` measures on a fresh copy of the kernel (the package's kernels are cached on disk, so their first
# call in a new session only *loads* machine code).

# %%
task = digits_task("cnn")
x64, y64 = task.train[0][:64], task.train[1][:64]
conv = nn.Conv2D(1, 8, 3, padding=1, rng=np.random.default_rng(0))
with perf.single_threaded():
    t_conv = perf.measure(conv.forward, x64, False, warmup=2, repeats=15)
cols = np.empty((64 * 8 * 8, 9), np.float32)
compile_s = perf.compile_time(nn.im2col, x64, cols, 3, 1, 1, np.float32(0))
print(f"Conv2D(1→8) forward, batch 64: {t_conv}")
print(f"  first call {perf.format_seconds(t_conv.first_call_s)}, samples from {perf.format_seconds(t_conv.min_s)} "
      f"to {perf.format_seconds(t_conv.max_s)} (spread IQR/median {100 * t_conv.spread:.0f}%)")  # fmt: skip
print(f"compiling the im2col kernel from scratch: {perf.format_seconds(compile_s)} "
      f"= {compile_s / t_conv.median_s:,.0f} warm forward calls")  # fmt: skip
measured["Conv2D(1→8) forward, batch 64: median / min (ms)"] = (round(1e3 * t_conv.median_s, 3),
                                                               round(1e3 * t_conv.min_s, 3))  # fmt: skip
measured["numba compile of im2col (s)"] = round(compile_s, 2)
assert t_conv.min_s <= t_conv.median_s <= t_conv.max_s and len(t_conv.samples) == 15

# %% [markdown]
# A compile costs as much as many warm calls (how many is printed above): time the first call and you measure the
# compiler. That is why every measurement in this lesson warms up first, and why the spread is printed beside the
# median — a spread of a few percent means the machine was quiet; tens of percent means something else was running,
# and the last digits of the median mean little. The median answers "what does a call typically cost here". To
# decide which of two implementations is faster, time them **in turn**, round by round, so both see the same machine
# load, and judge the per-round ratios with an interval: a verdict that says *holds*, *does not hold* or
# *inconclusive* (sections 6 and 8 do this with the course's evidence engine, `odyssey_lessons.evidence`).
#
# ## 2 · A per-layer profile of the digits CNN
#
# The model: the course's digits CNN with a BatchNorm after the convolution, so all five layer types of the seed
# table are in it:
# `Conv2D(1→8, 3×3, padding 1) → BatchNorm(8) → ReLU → MaxPool2D(2) → Flatten → Linear(128→32) → ReLU → Linear(32→10)`.
#
# `perf.profile` runs a training step layer by layer — each forward in order, the softmax cross-entropy, each
# backward in reverse — timing every call; after a warm-up it repeats the step and takes medians. FLOPs and bytes come
# from `perf.layer_counts` (a multiply-add is 2 FLOPs; bytes are the minimum traffic: inputs, weights and cached
# activations read once, outputs written once), so each row also gets its achieved GFLOP/s and its arithmetic
# intensity (FLOP per byte). Like `train.fit`, it runs on one thread.

# %%
model = profiled_cnn(8)
print(model)
prof = perf.profile(model, x64, y64, repeats=9, warmup=2)
step_model = profiled_cnn(8)


def whole_step() -> None:
    step_model.zero_grad()
    _, grad = nn.softmax_cross_entropy(step_model.forward(x64, True), y64)
    step_model.backward(grad)


with perf.single_threaded():  # as the profile runs
    t_step = perf.measure(whole_step, warmup=2, repeats=25, number=1)


def profile_rows(p: perf.Profile) -> list[list[object]]:
    return [[r.name, ms(r.forward_s), ms(r.backward_s), f"{r.pct_total:.1f}", f"{r.flops:,}",
             f"{r.gflops_per_s:.2f}" if r.flops else "—", f"{r.intensity:.2f}" if r.bytes else "—",
             f"{r.activation_bytes / 1024:.1f}"] for r in p.rows]  # fmt: skip


display(html_table(["layer", "forward ms", "backward ms", "% of step", "FLOPs", "GFLOP/s", "FLOP/byte",
                    "activations KiB"], profile_rows(prof)))  # fmt: skip
ratio = prof.total_s / t_step.min_s
print(f"sum of the rows {ms(prof.total_s)} ms; the whole step timed in one piece: fastest of 25 {ms(t_step.min_s)} ms, "
      f"median {ms(t_step.median_s)} ms (the profile's own median: {ms(prof.step_s)} ms)")  # fmt: skip
print(f"sum of the rows / fastest whole step: {ratio:.2f}")
measured["batch 64: sum of layer times / fastest whole step"] = round(ratio, 2)
assert len(prof.rows) == len(model.layers) + 1  # every layer and the loss
assert 0.5 <= ratio <= 2.0  # the rows account for the step (the profiler's own timer calls make up the difference)

fig, ax = plt.subplots(figsize=(8, 3.4))
names = [r.name for r in prof.rows]
ax.barh(names, [1e3 * r.forward_s for r in prof.rows], color="tab:blue", label="forward")
ax.barh(names, [1e3 * r.backward_s for r in prof.rows], left=[1e3 * r.forward_s for r in prof.rows],
        color="tab:orange", label="backward")  # fmt: skip
ax.invert_yaxis()
ax.set_xlabel("ms per training step (median of 9)")
ax.set_title("Where a training step of the digits CNN goes, batch 64")
ax.legend()
plt.show()
calls = [t for r in prof.rows for t in (r.forward_s, r.backward_s) if t > 0]
print(f"a whole step: median {ms(t_step.median_s)} ms; a layer call: median {ms(float(np.median(calls)))} ms, longest "
      f"{ms(max(calls))} ms — a preemption is about {t_step.median_s / float(np.median(calls)):.0f}× as likely to land "
      "on a step as on a typical call")  # fmt: skip

# %% [markdown]
# Two things to read before any conclusion. The rows add up to the step timed in one piece (the ratio above; the
# difference is the profiler's own timer calls and cache effects), so the table accounts for the step. Compare the
# *fastest* whole step with the rows: on a busy machine the operating system takes the core away from this process for
# a time slice at a time, which hits a whole step far more often than one short layer call (the last line above
# compares their lengths) — then the median step lies above the sum of the per-layer medians, by whole multiples of
# that time slice. And a layer's
# share is not its FLOPs' share: compare the "% of step" column with the FLOPs column. Layers doing almost no
# arithmetic (ReLU, MaxPool, Flatten, the loss) still take time, because every call costs something whatever its
# size — section 3 measures how much.
#
# ### The seed table, checked
#
# | seed material (typed in) | time | memory |
# |---|---|---|
# | Conv2D 3×3 | 15.2 ms | 32.5 MB |
# | Linear (256→120) | 3.1 ms | 2.1 MB |
# | BatchNorm | 2.8 ms | 1.5 MB |
# | ReLU | 1.2 ms | 0.8 MB |
# | MaxPool | 0.9 ms | 0.5 MB |
#
# with the conclusions "Conv layers are the bottleneck (80% of time)" and "activations/pooling are cheap (<5% each)".
# The seed does not say which model, batch size or machine; absolute milliseconds therefore cannot be compared, only
# shares. A share measured once has no error bar, so the profile is run again, `N_PROFILES` times (each run warmed up
# and taking its own medians), and each claim is judged on one value per run by the course's evidence engine: the
# mean with a 95% Student-t interval, *holds* when the whole interval is on the claim's side, *does not hold* when it
# is all on the other side, *inconclusive* when it straddles the line. What each claim has to meet:
#
# - "80% of time": the convolution's share lies in [70, 90] % (80% give or take 10 points);
# - "Conv layers are the bottleneck": the convolution's share exceeds the largest other row's (difference > 0);
# - "cheap (<5% each)": the largest share among the ReLU and MaxPool rows is under 5%.

# %%
N_PROFILES = 10
profiles64 = repeated_profiles(model, x64, y64, profiles=N_PROFILES, repeats=5)
row_names = [r.name for r in prof.rows]
conv_name = next(n for n in row_names if "Conv2D" in n)
cheap_names = [n for n in row_names if "ReLU" in n or "MaxPool" in n]
conv_runs = row_shares(profiles64, conv_name)
others = largest_share(profiles64, [n for n in row_names if n != conv_name])
claims_2 = {
    "80%": (Claim("Conv layers are the bottleneck (80% of time)", "Conv2D share of a training step, batch 64",
                  unit="%", above=70, below=90), conv_runs),
    "bottleneck": (Claim("Conv layers are the bottleneck (80% of time)",
                         "Conv2D share − the largest other row's share, batch 64", unit="points", above=0),
                   conv_runs - others),
    "cheap": (Claim("activations/pooling are cheap (<5% each)", "largest share among the ReLU and MaxPool rows, "
                    "batch 64", unit="%", below=5), largest_share(profiles64, cheap_names)),
}  # fmt: skip
verdicts_2 = {k: judge(c, values, repeat="profiles") for k, (c, values) in claims_2.items()}
display(html_table(ROW_HEADER, [v.row() for v in verdicts_2.values()]))
for v in verdicts_2.values():
    print(v.sentence)
for key, v in verdicts_2.items():
    measured[f"verdict '{key}' (batch 64, {N_PROFILES} profiles)"] = f"{v.label}, {v.interval}"

# %% [markdown]
# Whatever the verdicts say on this run, they are about one batch size. The next section profiles others.
#
# ## 3 · Batch size: scaling of time, and Python overhead vs kernel time
#
# Profile the same model at batch sizes from 1 to 512. A step costs a fixed part — Python calling sixteen layer
# methods and the loss, numpy and numba dispatching each call, allocating each output — plus a part proportional to
# the batch (the arithmetic and the memory traffic). A straight line through the step times (each the sum of the
# per-layer medians),
# $t(B) \approx a + bB$, separates them: the intercept $a$ is the per-step overhead, the slope $b$ the cost per
# sample. Flatten does no work at all (a reshape), so its time is a direct measurement of what one layer call costs.

# %%
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
by_batch = {}
for b in tqdm(BATCHES, desc="profiling batch sizes"):
    by_batch[b] = perf.profile(model, task.train[0][:b], task.train[1][:b], repeats=5, warmup=1)
steps = np.array([by_batch[b].total_s for b in BATCHES])  # sum of per-layer medians: robust to preemption
bs = np.array(BATCHES, float)
# weights 1/t: relative errors, so the small batches count as much as the large ones
slope, intercept = (float(v) for v in np.polyfit(bs, steps, 1, w=1 / steps))
flatten = next(r for r in by_batch[1].rows if "Flatten" in r.name)
n_calls = 2 * len(model.layers) + 1  # forward and backward of every layer, and the loss
overhead_share = {b: intercept / (intercept + slope * b) for b in BATCHES}
crossover = intercept / slope
print(f"fit t(B) = {1e6 * intercept:.0f} µs + {1e6 * slope:.2f} µs × B; per-step overhead and per-sample work are "
      f"equal at B ≈ {crossover:.0f}")  # fmt: skip
print(f"Flatten (a reshape), forward + backward: {1e6 * flatten.self_s:.1f} µs -> about "
      f"{1e6 * flatten.self_s / 2 * n_calls:.0f} µs for the {n_calls} calls of a step")  # fmt: skip
for b in (1, 64, 512):
    print(f"  batch {b:3d}: step {ms(by_batch[b].total_s)} ms, {1e6 * by_batch[b].total_s / b:8.2f} µs per sample, "
          f"fixed overhead ≈ {100 * overhead_share[b]:.0f}% of the step")  # fmt: skip
top_two = {b: sorted(by_batch[b].rows, key=lambda r: r.self_s, reverse=True)[:2] for b in BATCHES}
print("the two largest rows by batch size (one profile each):")
for b in BATCHES:
    print(f"  batch {b:3d}: " + ", ".join(f"{r.name} {r.pct_total:.0f}%" for r in top_two[b]))
measured["step fit: overhead µs, µs per sample, crossover batch"] = (round(1e6 * intercept), round(1e6 * slope, 2),
                                                                    round(float(crossover)))  # fmt: skip
measured["two largest rows at batch 1 / 512"] = tuple(
    ", ".join(f"{r.name} {r.pct_total:.0f}%" for r in top_two[b]) for b in (1, 512))  # fmt: skip
assert intercept > 0 and slope > 0  # a fixed cost and a per-sample cost: both really there
assert by_batch[512].total_s / 512 < by_batch[1].total_s  # per sample, a large batch is cheaper than a batch of one

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
axes[0].loglog(bs, 1e3 * steps, "o-", label="measured step")
axes[0].loglog(bs, 1e3 * (intercept + slope * bs), "k:", label="fit a + bB")
axes[0].set_ylabel("ms per step")
axes[0].set_title("step time")
axes[0].legend()
axes[1].loglog(bs, 1e6 * steps / bs, "o-")
axes[1].set_ylabel("µs per sample")
axes[1].set_title("time per sample: the fixed cost is shared")
for name in [r.name for r in prof.rows]:
    axes[2].semilogx(bs, [next(r.pct_total for r in by_batch[b].rows if r.name == name) for b in BATCHES], "o-",
                     label=name, ms=3)  # fmt: skip
axes[2].set_ylabel("% of step")
axes[2].set_title("each row's share of the step")
axes[2].legend(fontsize=7, ncols=2)
for ax in axes:
    ax.set_xlabel("batch size")
plt.show()
conv_shares = {b: next(r.pct_total for r in by_batch[b].rows if "Conv2D" in r.name) for b in BATCHES}
print("Conv2D share of the step by batch size:", ", ".join(f"{b}: {v:.0f}%" for b, v in conv_shares.items()))
measured["Conv2D % of step at batch 1 / 64 / 512"] = tuple(round(conv_shares[b]) for b in (1, 64, 512))

# %% [markdown]
# Below the crossover batch (printed above) the fixed cost is the larger part of a step: there the time per sample
# falls nearly as $1/B$, and the shares of the rows say more about how many calls a layer makes than about its
# arithmetic. Past the crossover the per-sample work is the larger part and the time per sample stops falling (the
# middle plot shows whether it levels off or, as the data outgrow the caches, rises again); the shares then reflect
# the layers' own costs. So "which layer is the bottleneck" is a question about one batch size: profile at the batch
# size you train with (the right-hand plot and the list above show how the shares moved here).
#
# ## 4 · Memory: parameters, gradients, optimizer state, activations
#
# `perf.memory_report` sums the real arrays of a training step: parameters, their gradients, buffers (BatchNorm's
# running statistics), the optimizer state (Adam: two moments per parameter) and the activations each layer keeps for
# its backward pass (found as the arrays the layer holds after a training forward: Conv2D's im2col matrix, BatchNorm's
# normalised input, ReLU's mask, MaxPool's winner indices, Linear's input). Only the activations grow with the batch.

# %%
adam_state = optim.adam(1e-3).init(model.params())
MEM_BATCHES = [1, 4, 16, 64, 256, 512]
reports = {b: perf.memory_report(model, task.train[0][:b], opt_state=adam_state) for b in MEM_BATCHES}
static = reports[1].params + reports[1].grads + reports[1].buffers + reports[1].optimizer_state
acts = np.array([reports[b].activations for b in MEM_BATCHES], float)
act_slope, act_intercept = np.polyfit(np.array(MEM_BATCHES, float), acts, 1)
cross_params = (reports[1].params - act_intercept) / act_slope
cross_static = (static - act_intercept) / act_slope
display(html_table(["batch", "params KiB", "grads KiB", "Adam state KiB", "activations KiB", "total KiB",
                    "activations share"],
                   [[b, f"{r.params / 1024:.1f}", f"{r.grads / 1024:.1f}", f"{r.optimizer_state / 1024:.1f}",
                     f"{r.activations / 1024:.1f}", f"{r.total / 1024:.1f}", f"{100 * r.activations / r.total:.0f}%"]
                    for b, r in reports.items()]))  # fmt: skip
print(f"activations: {act_slope / 1024:.2f} KiB per sample; they exceed the parameters from batch "
      f"{cross_params:.1f} on, and parameters + gradients + Adam state together from batch "
      f"{cross_static:.1f} on")  # fmt: skip
display(
    html_table(
        ["layer (batch 64)", "activations KiB", "params KiB"],
        [[m.name, f"{m.activations / 1024:.1f}", f"{m.params / 1024:.1f}"] for m in reports[64].layers],
    )
)
held = sorted(reports[64].layers, key=lambda m: m.activations, reverse=True)
seed_order = ["Conv2D", "Linear", "BatchNorm", "ReLU", "MaxPool"]  # the seed table's memory column, largest first
type_bytes = {k: max(m.activations for m in reports[64].layers if k in m.name) for k in seed_order}  # largest holder
measured_order = sorted(seed_order, key=type_bytes.get, reverse=True)
pairs = [(a, b) for i, a in enumerate(seed_order) for b in seed_order[i + 1 :]]  # the seed says a holds more than b
against = sum(type_bytes[a] <= type_bytes[b] for a, b in pairs)
top_share = held[0].activations / reports[64].activations
print(f"largest activation holder at batch 64: {held[0].name} ({100 * top_share:.0f}% of the activations); "
      f"layer types by memory held: {' > '.join(measured_order)}")  # fmt: skip
BYTES = "byte counts of perf.memory_report"
v_order = judge_value(Claim("Conv2D 32.5 MB > Linear 2.1 MB > BatchNorm 1.5 MB > ReLU 0.8 MB > MaxPool 0.5 MB",
                            f"pairs of layer types (of {len(pairs)}) whose activation memory is not ordered as the "
                            "seed orders them, batch 64", unit="pairs", below=0.5), against, source=BYTES)  # fmt: skip
measured["layer types by activation memory (batch 64)"] = " > ".join(measured_order)
measured["verdict: the seed's per-layer memory ordering"] = f"{v_order.label}, {against} of {len(pairs)} pairs against"
peak = {b: perf.peak_step_memory(model, task.train[0][:b], task.train[1][:b], optimizer=optim.adam(1e-3))
        for b in (64, 512)}  # fmt: skip
for b, p in peak.items():
    print(f"batch {b}: measured peak of a whole step (tracemalloc) {p / 1024:.0f} KiB = "
          f"{p / reports[b].total:.1f}× the arrays kept (temporaries of forward, backward and the update)")  # fmt: skip
mlp_model = nn.mlp((64, 128, 10), rng=np.random.default_rng(0))
mlp_static = perf.memory_report(mlp_model, opt_state=optim.adam(1e-3).init(mlp_model.params())).total
mlp_acts = [perf.memory_report(mlp_model, digits_task("mlp").train[0][:b]).activations for b in (64, 128)]
mlp_per_sample = (mlp_acts[1] - mlp_acts[0]) / 64
print(f"for comparison, the MLP 64→128→10 of lesson 2: {mlp_per_sample / 1024:.2f} KiB of activations per sample, "
      f"crossover at batch {mlp_static / mlp_per_sample:.0f}")  # fmt: skip
MEMORY_CLAIM = "Memory dominated by activations, not parameters"
v_mem = {b: judge_value(Claim(MEMORY_CLAIM, f"activations / (parameters + gradients + Adam state), batch {b}",
                              unit="×", above=1), reports[b].activations / static, source=BYTES)
         for b in (1, 64)}  # fmt: skip
verdicts_4 = [v_order, *v_mem.values()]
display(html_table(ROW_HEADER, [v.row() for v in verdicts_4]))
for v in verdicts_4:
    print(v.sentence)
measured["activation KiB per sample; crossover batch vs params / vs params+grads+Adam"] = (
    round(float(act_slope) / 1024, 2), round(float(cross_params), 1), round(float(cross_static), 1))  # fmt: skip
measured["verdict 'memory dominated by activations' at batch 1 / 64"] = tuple(v.label for v in v_mem.values())
assert mlp_static / mlp_per_sample > cross_static  # byte counts: the MLP crosses over at a larger batch than the CNN
assert reports[512].activations > 100 * reports[1].activations  # linear in the batch (slightly more: BN's per-channel)
assert reports[1].optimizer_state == 2 * reports[1].params  # Adam: two fp32 moments per parameter
assert all(peak[b] >= reports[b].params + reports[b].optimizer_state for b in peak)

# %% [markdown]
# Parameters, gradients and optimizer state are fixed; activations grow linearly with the batch. So "memory is
# dominated by activations" is true above a crossover batch size — computed above — and false below it. The
# crossover is set by the ratio of activation size per sample to parameter count: convolutional layers keep large
# activations for few parameters (here Conv2D's im2col matrix repeats every pixel nine times), so the CNN crosses over
# at a small batch, while the MLP, whose parameters sit in one wide Linear layer, crosses over at a larger one
# (both printed above). Per layer, the order of the memory held is compared with the seed table's memory column (the
# first verdict): what a layer keeps is set by its backward pass — Conv2D its im2col matrix, nine values per input
# pixel; BatchNorm its normalised input; ReLU a mask; MaxPool the winners' indices; Linear its (small, pooled) input —
# so the order is a property of the shapes, not of the layer types. The measured peak (printed as a multiple of the
# arrays kept) also counts the temporaries that forward, backward and the update allocate on the way.
#
# ## 5 · The roofline of this machine
#
# A kernel doing $I$ FLOPs per byte it moves cannot run faster than $\text{bandwidth} \times I$ (it waits for
# memory), nor faster than the peak arithmetic rate. The two roofs meet at the **ridge** intensity
# $\text{peak}/\text{bandwidth}$: left of it a kernel is memory-bound, right of it compute-bound.
#
# $$\text{attainable FLOP/s} = \min(\text{peak FLOP/s},\ \text{bandwidth} \times I)$$
#
# Both roofs are measured here, once, on one thread as the profile runs: the bandwidth with the STREAM kernels (arrays
# of 16 MB each, chosen to exceed the caches; the triad is the roof) and the peak with a 512×512 float32 matrix product
# (BLAS: the practical peak, somewhat under the CPU's theoretical one).

# %%
roofs = machine_roofs()  # one probe, kept for the session: the explorer of section 9 uses the same roofs
display(html_table(["STREAM kernel", "GB/s (one thread)"], [[k, f"{v:.1f}"] for k, v in roofs.stream.items()]))
print(f"peak (512² float32 matmul, 1 thread): {roofs.peak_flops / 1e9:.1f} GFLOP/s; triad bandwidth "
      f"{roofs.bandwidth / 1e9:.1f} GB/s; ridge {roofs.ridge:.1f} FLOP/byte")  # fmt: skip
prof256 = by_batch[256]
roof = perf.roofline(prof256, peak_flops=roofs.peak_flops, bandwidth=roofs.bandwidth)
fig, ax = plt.subplots(figsize=(9, 4.5))
perf.plot_roofline(ax, roof, title="The digits CNN's layers (training step, batch 256) under this CPU's roofline")
plt.show()
display(html_table(["layer", "FLOP/byte", "achieved GFLOP/s", "attainable GFLOP/s", "bound", "% of roof"],
                   [[p.name, f"{p.intensity:.2f}", f"{p.achieved / 1e9:.2f}", f"{p.attainable / 1e9:.1f}", p.bound,
                     f"{100 * p.fraction_of_roof:.0f}%"] for p in roof.points]))  # fmt: skip
n_memory = sum(p.bound == "memory" for p in roof.points)
best = max(roof.points, key=lambda p: p.fraction_of_roof)
above = [p.name for p in roof.points if p.achieved > p.attainable]
print(f"{n_memory} of {len(roof.points)} layers are memory-bound (intensity below the ridge); closest to its roof: "
      f"{best.name} at {100 * best.fraction_of_roof:.0f}%")  # fmt: skip
below_half = sum(p.fraction_of_roof < 0.5 for p in roof.points)
print(f"{below_half} of {len(roof.points)} layers reach less than half of their roof")
if above:
    print(f"above the DRAM roof: {', '.join(above)} — their data fit in the caches, whose bandwidth is higher")
measured["roofs: GFLOP/s, GB/s, ridge FLOP/byte"] = (round(roofs.peak_flops / 1e9, 1), round(roofs.bandwidth / 1e9, 1),
                                                     round(roofs.ridge, 1))  # fmt: skip
measured["memory-bound layers at batch 256"] = f"{n_memory} of {len(roof.points)}"
lin = next(layer for layer in model.layers if isinstance(layer, nn.Linear))
lin_intensity = {b: perf.layer_counts(lin, (b, lin.in_features)).intensity for b in BATCHES}
print("Linear(128→32) training intensity by batch:", ", ".join(f"{b}: {v:.1f}" for b, v in lin_intensity.items()))
assert all(p.bound == ("memory" if p.intensity < roof.ridge else "compute") for p in roof.points)
elementwise = [r for r in prof256.rows if any(k in r.name for k in ("ReLU", "BatchNorm", "MaxPool", "softmax"))]
assert all(r.intensity < 1.5 for r in elementwise)  # from the counts: about one FLOP per byte or less
assert lin_intensity[512] > 5 * lin_intensity[1]  # a bigger batch reuses each weight more: the layer moves right

# %% [markdown]
# Elementwise layers (ReLU, BatchNorm, the loss) and pooling do about one FLOP per byte or less: they sit far left,
# memory-bound on any machine whose ridge lies above that (this one's is printed), and no cleverness in their
# arithmetic can help — only moving fewer bytes
# (fusing them into the layer before, so the data is touched once). The matrix products of Conv2D and Linear reuse
# each weight across the batch: their intensity grows with the batch (printed for the Linear layer), moving them
# right, towards the compute roof. A layer can fall short of its roof (how many reach less than half of it is
# printed): on data this small the fixed per-call costs of section 3 and im2col's extra copies come on top of the
# minimum traffic the roofline counts.
#
# ## 6 · Direct convolution vs im2col + BLAS
#
# `nn.Conv2D` computes a convolution as **im2col** — copy every 3×3 patch into a row of a matrix — followed by one
# BLAS matrix product. The alternative is the **direct** loop nest, here a numba kernel
# (`odyssey_lessons.perf.direct_conv2d`) that needs no patch matrix. First, that they compute the same
# thing; then their time (forward pass, one thread each) on the digits layer at two widths and on deeper layers, where
# each output sums over more inputs ($K = C \cdot k^2$ values). The two take turns (`perf.interleaved`: a warm-up
# call each, then `CONV_ROUNDS` rounds in which both run back to back, so both see the same machine load), and the
# claim "im2col + BLAS is faster" is judged per shape on the per-round time ratios (direct / im2col), by the evidence
# engine: it holds where the whole 95% interval of the speed-up lies above 1×.

# %%
SHAPES = [  # batch, in channels, out channels, image side
    (256, 1, 8, 8), (256, 1, 32, 8), (256, 8, 16, 8), (64, 16, 32, 8), (16, 32, 64, 16),
]  # fmt: skip
CONV_ROUNDS = 15
rng = np.random.default_rng(7)
conv_rows, conv_verdicts = [], {}
for b, c, o, side in tqdm(SHAPES, desc="direct vs im2col"):
    layer = nn.Conv2D(c, o, 3, padding=1, rng=rng)
    x = rng.standard_normal((b, c, side, side)).astype(np.float32)
    w, bias = layer.params()["weight"], layer.params()["bias"]
    err = float(np.max(np.abs(direct_conv2d(x, w, bias, padding=1) - layer.forward(x, False))))
    assert err < 1e-4  # the same convolution (float32, summed in another order)
    with perf.single_threaded():
        t = perf.interleaved({"im2col": lambda layer=layer, x=x: layer.forward(x, False),
                              "direct": lambda x=x, w=w, bias=bias: direct_conv2d(x, w, bias, padding=1)},
                             CONV_ROUNDS, min_time=0.02)  # fmt: skip
    shape = f"{b}×{c}×{side}×{side} → {o} ch"
    v = judge(Claim("im2col + BLAS is faster than a direct convolution loop", f"speed, im2col over direct, {shape}",
                    unit="×", above=1, scale="ratio"), t["im2col"], t["direct"], repeat="rounds")  # fmt: skip
    conv_verdicts[(b, c, o, side)] = v
    blowup = im2col_bytes(x.shape, 3, padding=1) / x.nbytes
    conv_rows.append([shape, c * 9, f"{err:.1e}", ms(float(np.median(t["im2col"]))), ms(float(np.median(t["direct"]))),
                      v.interval, v.label, f"{blowup:.0f}×"])  # fmt: skip
display(html_table(["shape", "K = C·k²", "max |difference|", "im2col + BLAS ms (median)", "direct ms (median)",
                    "im2col speed-up over direct [95% interval]", "'im2col is faster'", "im2col matrix vs input size"],
                   conv_rows))  # fmt: skip
for group, shapes in (("deeper layers (K ≥ 72)", [s for s in SHAPES if s[1] >= 8]),
                      ("one-channel digits layers (K = 9)", [s for s in SHAPES if s[1] == 1])):  # fmt: skip
    labels = [conv_verdicts[s].label for s in shapes]
    print(f"'im2col + BLAS is faster' on the {len(shapes)} {group}: "
          + ", ".join(f"{labels.count(lab)} {lab}" for lab in dict.fromkeys(labels)))  # fmt: skip
measured["im2col speed-up over direct per shape [interval]"] = {
    f"{c}->{o}@{side}": v.interval for (_, c, o, side), v in conv_verdicts.items()
}

# %% [markdown]
# im2col turns the convolution into one matrix product, so it runs at the speed of a BLAS kernel tuned for years —
# when that product is worth the copy. With $K = C \cdot k^2$ large (deeper layers), each patch row is long and the
# product dominates (the table shows by how much im2col wins or loses there). With one input channel, $K = 9$: the
# matrix product is a thin (B·64 × 9) by (9 × O) product, a shape BLAS is not built for (compare the Conv2D
# row's GFLOP/s in section 2 with the peak in section 5), and the copy is nine times the input — there the direct
# loop, which touches each input value once and keeps a vector of accumulators in registers, has its best chance
# (the verdicts say whether it took it on this machine). In memory, im2col always pays: its matrix is $k^2 = 9$
# times the input here. Which is faster is a measurement, not a rule — libraries such as cuDNN and oneDNN carry
# several convolution algorithms and time them on the actual shapes before choosing.
#
# ## 7 · "Find bottlenecks before optimizing"
#
# The seed's takeaway 6. The profile says how much each optimisation *could* win at most (Amdahl's law): if a row
# taking a share $p$ of the step became infinitely fast, the step would speed up by $1/(1-p)$.
#
# When is the takeaway worth following? A row picked without a profile takes, on average over the $n$ rows, an even
# share $100/n$ % of the step: that is what optimising blind can expect to work on. Profiling pays when the row it
# points at takes clearly more. As data: the row that section 2's profile ranks first is named *before* looking
# further, and its share in the `N_PROFILES` independent profiles of section 2 is divided by the even share. The
# takeaway holds if that multiple is above 2× over the whole 95% interval, and does not hold if it is below 2× — as
# it would be for a step whose time is spread evenly over its layers, where no row is worth finding.

# %%
amdahl = {r.name: 1 / (1 - r.pct_total / 100) for r in prof.rows}
display(html_table(["row (batch 64)", "% of step", "max step speedup if it took no time"],
                   [[r.name, f"{r.pct_total:.1f}", f"{amdahl[r.name]:.2f}×"] for r in prof.rows]))  # fmt: skip
top, bottom = max(amdahl, key=amdahl.get), min(amdahl, key=amdahl.get)
print(f"best single target: {top} (at most {amdahl[top]:.2f}×); worst: {bottom} (at most {amdahl[bottom]:.3f}×)")
even_share = 100 / len(prof.rows)
v_find = judge(Claim("Profiling: find bottlenecks before optimizing",
                     f"share of the step of the row profiled first ({top}), as a multiple of an even share "
                     f"({even_share:.1f} %)", unit="×", above=2), row_shares(profiles64, top) / even_share,
               repeat="profiles")  # fmt: skip
display(html_table(ROW_HEADER, [v_find.row()]))
print(v_find.sentence)
p256 = by_batch[256]
conv_fwd = next(r.forward_s for r in p256.rows if "Conv2D" in r.name)
v8 = conv_verdicts[(256, 1, 8, 8)]  # im2col over direct on this very layer, batch 256: direct takes that × the time
change = [100 * conv_fwd * (r - 1) / p256.total_s for r in (v8.estimate, v8.low, v8.high)]
print(f"an optimisation measured in section 6: at batch 256 the convolution's forward is "
      f"{100 * conv_fwd / p256.total_s:.0f}% of the step; the direct kernel would change the step time by "
      f"{change[0]:+.1f}% [{change[1]:+.1f}%, {change[2]:+.1f}%] (positive: slower)")  # fmt: skip
measured["Amdahl bound: best / worst row (batch 64)"] = (f"{top} {amdahl[top]:.2f}x", f"{bottom} {amdahl[bottom]:.3f}x")
measured["verdict 'find bottlenecks before optimizing'"] = f"{v_find.label}, {v_find.interval}"
assert amdahl[top] >= amdahl[bottom] >= 1

# %% [markdown]
# Amdahl's bound is arithmetic: a row's share caps what optimising it can give, so a row with a tiny share cannot
# repay any effort (the table shows which rows those are here), and the largest row bounds what any single
# optimisation can give. The only way to know which row is largest — at *your* batch size — is the profile.
#
# ## 8 · The cost of simulated precision here, the speed of real low precision elsewhere
#
# Lessons 1 and 2 train with simulated low-precision formats: every rounding is an extra pass over the data in
# numpy/numba, so on this CPU a simulated format should cost *more* than float32, not less. Timed here: one epoch
# of the digits MLP (64 → 128 → 10, 512 images, batch 64, Adam) per precision policy, the policies taking turns
# (`perf.interleaved`: a warm-up epoch each, then `POLICY_ROUNDS` rounds of one epoch per policy), and the seed's
# "FP16/BF16 2-3x faster" and "FP8 4-8x faster" judged on this CPU from the per-round ratios to fp32 (the speed-up
# must lie in the claimed range over its whole 95% interval). Beside it, the table that
# benchmarks/gpu_precision.py **measured elsewhere**, on a GPU whose tensor cores compute in those formats — not on
# this machine; its provenance is printed.

# %%
mtask = digits_task("mlp")
xm, ym = mtask.train[0][:512], mtask.train[1][:512]
POLICY_NAMES = ["fp32", "bf16", "fp16", "fp8_hybrid", "fp8_current", "fp8_mx"]
POLICY_ROUNDS = 10


def one_epoch(policy: str, net: nn.Sequential) -> None:
    fit(net, (xm, ym), optimizer=optim.adam(1e-3), epochs=1, batch_size=64, policy=policy)


nets = {name: nn.mlp((64, 128, 10), rng=np.random.default_rng(0)) for name in POLICY_NAMES}
epochs = {name: (lambda name=name: one_epoch(name, nets[name])) for name in POLICY_NAMES}
epoch_s: dict[str, list[float]] = {k: [] for k in epochs}
for r in tqdm(range(POLICY_ROUNDS), desc="timing policies, round by round"):  # a warm-up epoch each before round 1
    for k, t in perf.interleaved(epochs, 1, warmup=1 if r == 0 else 0).items():
        epoch_s[k] += t
step_s = {k: np.array(v) / 8 for k, v in epoch_s.items()}  # 8 steps per epoch
SEED_SPEED = {"bf16": ("FP16/BF16 2-3x faster", 2, 3), "fp16": ("FP16/BF16 2-3x faster", 2, 3)}
SEED_SPEED |= {k: ("FP8 4-8x faster", 4, 8) for k in POLICY_NAMES if k.startswith("fp8")}
policy_verdicts = {k: judge(Claim(text, f"speed of a simulated {k} training step over fp32, this CPU", unit="×",
                                  above=lo, below=hi, scale="ratio"), step_s[k], step_s["fp32"], repeat="rounds")
                   for k, (text, lo, hi) in SEED_SPEED.items()}  # fmt: skip
display(html_table(["policy (this CPU, simulated)", "ms per step (median)"],
                   [[k, ms(float(np.median(v)))] for k, v in step_s.items()]))  # fmt: skip
display(html_table(ROW_HEADER, [v.row() for v in policy_verdicts.values()]))
gpu = gpu_matmul_throughput()
prov = gpu["provenance"]
display(HTML(f"<b>measured elsewhere: {prov['hardware']}, {prov['software']}, {prov['date'][:10]}</b><br>"
             f"<small>{prov['workload']}; source: {prov['source']}</small>"))  # fmt: skip
fp32_gpu = next(r["measured"] for r in gpu["rows"] if r["format"] == "fp32")
display(html_table(["format (measured elsewhere)", f"measured {gpu['unit']}", "datasheet peak", "× fp32 speed"],
                   [[r["format"], r["measured"], r["datasheet_peak"], f"{r['measured'] / fp32_gpu:.1f}"]
                    for r in gpu["rows"]]))  # fmt: skip
step = gpu_training_step()
step_ms = {(r["policy"], r["batch"]): r["median_ms"] for r in step["rows"]}
print(f"{step['title']} (measured elsewhere): {step['model']}; {step['provenance']['hardware']}")
display(html_table(["policy (measured elsewhere)", "batch", "ms/step", "× fp32 speed"],
                   [[p, b, f"{v:.2f}", f"{step_ms[('fp32', b)] / v:.1f}"]
                    for (p, b), v in step_ms.items()]))  # fmt: skip
bf16_gpu = next(r["measured"] for r in gpu["rows"] if r["format"] == "bf16")
vb = policy_verdicts["bf16"]
print(f"on this CPU, simulated bf16 runs at {vb.interval} the speed of fp32 ('{vb.claim.text}': {vb.label}); on the "
      f"GPU, bf16 matmuls ran {bf16_gpu / fp32_gpu:.0f}× as fast as fp32 (measured elsewhere)")  # fmt: skip
measured["CPU simulated step speed × fp32 [interval]: bf16 / fp8_mx"] = tuple(
    policy_verdicts[k].interval for k in ("bf16", "fp8_mx"))  # fmt: skip
measured["verdicts 'FP16/BF16 2-3x' / 'FP8 4-8x' on this CPU (simulated)"] = tuple(
    policy_verdicts[k].label for k in ("bf16", "fp8_mx"))  # fmt: skip
measured["GPU (measured elsewhere) bf16 matmul × fp32"] = round(bf16_gpu / fp32_gpu, 1)

# %% [markdown]
# Speed is a property of hardware, not of a number format: simulating a format adds work on this CPU (the verdicts
# above say what that did to the seed's speed claims here), while the GPU's tensor cores compute in the format itself
# (the ratio printed last, measured elsewhere). A profile tells you what your code does on your machine; it does not
# transfer to another machine.
#
# ## 9 · Explore: batch size and width → profile and roofline
#
# Drag the batch size (1–512) and the width (convolution channels, 4–64), and choose the pass (a training step, or
# the forward pass alone). Each setting profiles the CNN for real (three repeats) and is cached,
# so moving back is instant; the roofs are the ones probed in section 5.
#
# Things to try: batch 1 vs 512 at width 8 — which row is largest? Width 64 — where does the convolution move on the
# roofline? Forward only — how much of the step was backward?

# %%
explorer = ProfileExplorer(batch_size=64, width=8)
explorer

# %% [markdown]
# The explorer's state is plain data, so you can check what you see:

# %%
explorer.pass_name.value = "forward+backward"
explorer.width.value = 32
explorer.batch_size.value = 256
setting = explorer.state
assert setting is profile_setting(256, 32, True)
counts = perf.model_counts(profiled_cnn(32), (256, 1, 8, 8))
assert [r.flops for r in setting.profile.rows[:-1]] == [c.flops for c in counts]  # FLOPs from the counting oracle
print(f"batch {setting.batch_size}, width {setting.width}: {setting.flops / 1e6:.1f} MFLOP per step, "
      f"{len(setting.profile.rows)} rows, largest {setting.slowest}")  # fmt: skip
measured["explorer batch 256, width 32: largest row"] = setting.slowest

# %% [markdown]
# ## Summary: what this notebook measured
#
# Every entry was computed in this run, on this machine (the GPU table is the only outside data, and it is labelled
# as such).
#
# - A timing harness needs warm-up and the median; a comparison needs its contenders timed in turn and a verdict with
#   an interval (sections 6 and 8). Section 1 prints how many warm calls a numba compile costs.
# - The rows of the per-layer profile add up to the step timed whole (section 2 prints the ratio); the verdicts on
#   the seed's "conv is 80%" and "activations/pooling < 5%" are judged over repeated profiles, and section 3 shows
#   how the shares move with the batch.
# - Below the crossover batch the fixed per-call overhead is the larger part of a step; above it, per-sample work.
# - Whether activations dominate memory depends on the batch: the verdicts of section 4 and the crossover batch are
#   computed from the memory report.
# - On the roofline, elementwise layers and pooling do about one FLOP per byte or less; matrix products move right
#   with the batch. Section 5 prints where this machine's ridge lies.
# - Which of direct convolution and im2col + BLAS is faster is judged per shape in section 6; im2col always costs
#   $k^2$ times the input in memory.
# - "Find bottlenecks before optimizing" is judged in section 7 on the share of the row the profile ranks first.

# %%
for key, value in measured.items():
    print(f"- {key}: {value}")

# %% [markdown]
# ---
# **Exercise:** [exercises/07_profiling.ipynb](../exercises/07_profiling.ipynb) —
# fill it in, save it, then run `odyssey check exercises/07_profiling.ipynb`.
#
# [← Lesson 6 · Quantization](06_quantization.ipynb) ·
# [Start here](00_start_here.ipynb) ·
# [Lesson 8 · Capstone →](08_capstone.ipynb)
