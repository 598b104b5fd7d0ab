"""Benchmark: training step time per precision policy, FP32 against PyTorch eager, and the loss-scale widget re-train.

Timed step (the body of ``odyssey_lessons.train._fit._fit``, written out with its own pieces so that the per-epoch
evaluation of ``fit`` stays out of the measurement): cast weights, zero grads, forward with activation casts,
softmax cross-entropy, backward with gradient casts (loss scale 1), parameter-gradient casts, unscale, gradient norm,
Adam update, store. One batch of 128 digits per step, run inside ``single_threaded()`` and ``np.errstate`` as ``fit``
runs it. Policies are timed in interleaved rounds (a block of steps per policy per round) so that all of them see the
same machine load; the median is over every timed step, after warm-up steps that include numba's JIT compilation.

Models: the digits MLP and CNN (every precision policy), and the MNIST-1D paper's MLP and CNN (fp32 only: the step
against PyTorch's on the same model and batch, issue 16).

PyTorch (when importable): the same architectures in ``torch.nn`` eager on CPU, default thread count, step =
``zero_grad, forward, cross_entropy, backward, Adam.step``, as many steps as each policy gets, timed in a separate
interpreter started by this one, so that torch's thread pools never share a process with numba's and OpenBLAS's.

BLAS threads: on a 2-vCPU VM, OpenBLAS's default 2 threads made some processes bimodally slow (the MLP step at a flat
~32 ms instead of ~0.7 ms, the widget re-train at ~288 ms instead of ~12 ms: multiples of a 4 ms scheduler tick),
while ``OPENBLAS_NUM_THREADS=1`` was fast in every run. The header prints the thread variables in effect; set them in
the environment (numpy reads them at import) to compare.

Widget: a fresh MLP trained by ``fit`` with the fp16 policy and a ``StaticScaler`` for 2 epochs on 512 samples,
batch 128 (8 steps plus two evaluations of the 512 training samples), as the loss-scale sweep widget will re-train.

Prints a Markdown table and writes JSON (default ``benchmarks/results/bench_train.json``). Not a test: nothing here
asserts a time; the targets from the issue are reported next to the measurements.

    python benchmarks/bench_train.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import subprocess
import sys
import time

import numpy as np
from _common import header_line, main_for, provenance, ratio_row

from odyssey_lessons._threads import single_threaded
from odyssey_lessons.data import digits_task, mnist1d_task
from odyssey_lessons.nn import (
    Conv2D,
    Flatten,
    Linear,
    MaxPool2D,
    ReLU,
    Sequential,
    mnist1d_cnn,
    mnist1d_mlp,
    softmax_cross_entropy,
)
from odyssey_lessons.optim import adam, apply_updates, global_norm, lr_at
from odyssey_lessons.train import POLICIES, Caster, NoScaler, StaticScaler, fit
from odyssey_lessons.train._fit import _cast_param_grads, _store, backward, cast_weights, forward

BATCH = 128
STEP_TARGET_VS_FP32 = 1.5  # simulated low-precision step <= 1.5x the fp32 step (issue 3)
STEP_TARGETS_VS_FP32 = {"fp16": 1.3, "bf16": 1.3}  # tightened for the 16-bit policies (issue 18)


def step_target(policy: str) -> float | None:
    """The step-time target of ``policy`` relative to fp32 (None for fp32 itself)."""
    return None if policy == "fp32" else STEP_TARGETS_VS_FP32.get(policy, STEP_TARGET_VS_FP32)


TORCH_TARGET = 1.0  # our fp32 MLP step at least as fast as PyTorch's (ours / torch <= 1)
WIDGET_TARGET_S = 0.3
WIDGET_SAMPLES, WIDGET_EPOCHS, WIDGET_SCALE = 512, 2, 2.0**10


KINDS = ("mlp", "cnn", "mnist1d_mlp", "mnist1d_cnn")
"""The digits MLP and CNN, and the MNIST-1D paper's MLP (residual hidden layer) and CNN (three Conv1D layers)."""


def build_model(kind: str, seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    if kind == "mnist1d_mlp":
        return mnist1d_mlp(rng=rng)
    if kind == "mnist1d_cnn":
        return mnist1d_cnn(rng=rng)
    if kind == "mlp":
        return Sequential(Linear(64, 128, rng=rng), ReLU(), Linear(128, 10, rng=rng))
    return Sequential(
        Conv2D(1, 8, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2), Flatten(), Linear(8 * 4 * 4, 10, rng=rng)
    )


def fixed_batches(kind: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Full batches of 128 from the training set (the digits, or MNIST-1D's default 4,000), shuffled once, cycled
    through by the step."""
    if kind.startswith("mnist1d_"):
        x, y = mnist1d_task(kind.removeprefix("mnist1d_")).train
    else:
        x, y = digits_task(kind).train
    order = np.random.default_rng(0).permutation(len(x))
    return [(x[order[i : i + BATCH]], y[order[i : i + BATCH]]) for i in range(0, len(x) - BATCH + 1, BATCH)]


class OurStep:
    """One training step of ``_fit`` for a model and policy (NoScaler as fit's default, no clipping, no label
    smoothing; the per-step log appends are left out)."""

    def __init__(self, kind: str, policy: str, data: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.model = build_model(kind)
        self.policy = POLICIES[policy]
        self.caster = Caster(self.policy)
        self.scaler = NoScaler()
        self.optimizer = adam(1e-3)
        self.master = _store(self.policy, {k: v.copy() for k, v in self.model.params().items()}, 0)
        self.opt_state = self.optimizer.init(self.master)
        self.data = data
        self.step = 0

    def __call__(self) -> None:
        model, caster, policy = self.model, self.caster, self.policy
        xb, yb = self.data[self.step % len(self.data)]
        scale = self.scaler.get_scale()
        cast_weights(model, self.master, caster)
        model.zero_grad()
        logits = forward(model, xb, caster, training=True)
        _, grad_logits = softmax_cross_entropy(logits, yb)
        backward(model, grad_logits * np.float32(scale), caster)
        grads = model.grads()
        _cast_param_grads(grads, caster)
        found_inf = bool(self.scaler.unscale(grads))
        global_norm(grads)  # what fit computes for its history and clipping
        lr_at(self.optimizer.learning_rate, self.opt_state.step)
        if not found_inf:
            updates, self.opt_state = self.optimizer.update(grads, self.opt_state, self.master)
            self.master = _store(policy, apply_updates(self.master, updates), (self.step + 1) << 8)
        self.scaler.update(found_inf)
        self.step += 1


def TorchResidualMLP(torch):  # noqa: N802  (a factory standing in for the paper's nn.Module class)
    """The MNIST-1D paper's MLP in torch: ``h = relu(l1 x)``, ``h = h + relu(l2 h)``, ``l3 h``."""
    nn = torch.nn

    class MLPBase(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.l1, self.l2, self.l3 = nn.Linear(40, 100), nn.Linear(100, 100), nn.Linear(100, 10)

        def forward(self, x):
            h = torch.relu(self.l1(x))
            h = h + torch.relu(self.l2(h))
            return self.l3(h)

    return MLPBase()


class TorchStep:
    def __init__(self, torch, kind: str, data: list[tuple[np.ndarray, np.ndarray]]) -> None:
        nn = torch.nn
        torch.manual_seed(0)
        if kind == "mnist1d_mlp":
            self.model = TorchResidualMLP(torch)
        elif kind == "mnist1d_cnn":
            self.model = nn.Sequential(
                nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(), nn.Conv1d(25, 25, 3, stride=2, padding=1),
                nn.ReLU(), nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(125, 10),
            )  # fmt: skip
        elif kind == "mlp":
            self.model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
        else:
            self.model = nn.Sequential(
                nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10)
            )
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = nn.functional.cross_entropy
        self.data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
        self.step = 0

    def __call__(self) -> None:
        xb, yb = self.data[self.step % len(self.data)]
        self.opt.zero_grad()
        self.loss(self.model(xb), yb).backward()
        self.opt.step()
        self.step += 1


def time_steps(step, n: int, times: list[float]) -> None:
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)


def run_steps(warmup: int, rounds: int, block: int) -> list[dict]:
    rows = []
    for kind in KINDS:
        data = fixed_batches(kind)
        policies = POLICIES if not kind.startswith("mnist1d_") else ("fp32",)
        steps = {name: OurStep(kind, name, data) for name in policies}
        times: dict[str, list[float]] = {name: [] for name in steps}
        with single_threaded(), np.errstate(over="ignore", invalid="ignore"):
            for step in steps.values():  # warm-up: JIT compile, caches, allocator
                time_steps(step, warmup, [])
            for _ in range(rounds):
                for name, step in steps.items():
                    time_steps(step, block, times[name])
        fp32 = statistics.median(times["fp32"])
        for name in policies:
            med = statistics.median(times[name])
            ratio = med / fp32
            rows.append(
                {
                    "model": kind,
                    "policy": name,
                    "median_s": med,
                    "min_s": min(times[name]),
                    "steps_timed": len(times[name]),
                    "vs_fp32": ratio,
                    "target_vs_fp32": step_target(name),
                    "target_met": None if name == "fp32" else ratio <= step_target(name),
                }
            )
    return rows


def torch_worker(warmup: int, steps: int) -> None:
    """In a fresh interpreter: time PyTorch's steps and print ``{model: {"median_s", "min_s", "threads", ...}}``."""
    import torch

    out = {}
    for kind in KINDS:
        step, times = TorchStep(torch, kind, fixed_batches(kind)), []
        time_steps(step, warmup, [])
        time_steps(step, steps, times)
        out[kind] = {"median_s": statistics.median(times), "min_s": min(times), "steps_timed": steps}
    out["threads"] = torch.get_num_threads()
    out["version"] = torch.__version__
    print(json.dumps(out))


def run_torch(warmup: int, steps: int, ours: list[dict]) -> tuple[dict | None, list[dict]]:
    """PyTorch's steps, timed in a separate interpreter: in this one, torch's OpenMP pool and numba's (both OpenMP)
    slowed both sides by up to 2-10x when their steps were interleaved."""
    if importlib.util.find_spec("torch") is None:
        return None, []
    cmd = [sys.executable, __file__, "--torch-worker", str(warmup), str(steps)]
    res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    rows = []
    for kind in KINDS:
        fp32 = next(r["median_s"] for r in ours if r["model"] == kind and r["policy"] == "fp32")
        med = res[kind]["median_s"]
        rows.append(
            {
                "model": kind,
                "ours_fp32_median_s": fp32,
                "torch_median_s": med,
                "torch_min_s": res[kind]["min_s"],
                "torch_steps_timed": res[kind]["steps_timed"],
                "ours_vs_torch": fp32 / med,
                "target_ours_vs_torch": TORCH_TARGET if kind == "mlp" else None,
                "target_met": fp32 / med <= TORCH_TARGET if kind == "mlp" else None,
            }
        )
    return {"version": res["version"], "threads": res["threads"]}, rows


def run_widget(repeats: int) -> dict:
    x, y = digits_task("mlp").train
    train = (x[:WIDGET_SAMPLES], y[:WIDGET_SAMPLES])

    def retrain() -> None:
        fit(
            build_model("mlp"),
            train,
            optimizer=adam(1e-3),
            epochs=WIDGET_EPOCHS,
            batch_size=BATCH,
            policy="fp16",
            scaler=StaticScaler(WIDGET_SCALE),
        )

    retrain()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        retrain()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {
        "label": (
            f"loss-scale widget re-train (fresh MLP + fit fp16, StaticScaler 2**{int(math.log2(WIDGET_SCALE))}, "
            f"{WIDGET_EPOCHS} epochs x {WIDGET_SAMPLES // BATCH} steps of {BATCH}, "
            f"+ {WIDGET_EPOCHS} evals of {WIDGET_SAMPLES} samples)"
        ),
        "median_s": med,
        "max_s": max(times),
        "repeats": repeats,
        "target_s": WIDGET_TARGET_S,
        "target_met": med < WIDGET_TARGET_S,
    }


def run(args: argparse.Namespace) -> dict | None:
    if args.torch_worker:
        torch_worker(*args.torch_worker)
        return None
    quick = args.quick
    warmup, rounds, block, widget_repeats = (3, 3, 10, 5) if quick else (10, 10, 20, 15)
    rows = run_steps(warmup, rounds, block)
    torch_info, torch_rows = run_torch(warmup, rounds * block, rows)
    return {
        "benchmark": "training step time per precision policy",
        **provenance(),
        "torch": torch_info,
        "config": {"batch": BATCH, "warmup_steps": warmup, "rounds": rounds, "steps_per_block": block, "quick": quick},
        "rows": rows,
        "torch_rows": torch_rows,
        "widget": run_widget(widget_repeats),
    }


def _met(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "**no**")


def markdown(result: dict) -> str:
    c, t = result["config"], result["torch"]
    torch_v = "not installed" if t is None else f"{t['version']} ({t['threads']} threads)"
    lines = [
        f"training step time, {header_line(result)}",
        f"torch {torch_v}; " + ", ".join(f"{k}={val or 'unset'}" for k, val in result["env"].items()),
        f"step = cast weights, forward (+casts), loss, backward (+casts), grad casts, unscale, norm, Adam, store; "
        f"batch {c['batch']}; median over {c['rounds']} x {c['steps_per_block']} steps per policy (interleaved "
        f"rounds) after {c['warmup_steps']} warm-up steps; one thread (numba serial, BLAS limited) as in fit",
        "",
        "| model | policy | median ms/step | ratio vs fp32 | target (× fp32) | met |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        target = "" if r["target_vs_fp32"] is None else f"≤ {r['target_vs_fp32']}"
        lines.append(
            f"| {r['model']} | {r['policy']} | {r['median_s'] * 1e3:.3f} | {r['vs_fp32']:.2f} | {target} "
            f"| {_met(r['target_met'])} |"
        )
    lines.append("")
    if not result["torch_rows"]:
        lines.append("torch not installed: PyTorch comparison skipped")
    else:
        lines += [
            "| model | ours fp32 ms/step | torch eager ms/step | ours / torch | target met (MLP: ours ≤ torch) |",
            "|---|---:|---:|---:|---|",
        ]
        for r in result["torch_rows"]:
            ours, theirs = r["ours_fp32_median_s"] * 1e3, r["torch_median_s"] * 1e3
            lines.append(
                f"| {r['model']} | {ours:.3f} | {theirs:.3f} | {r['ours_vs_torch']:.3f} | {_met(r['target_met'])} |"
            )
    w = result["widget"]
    lines += [
        "",
        f"{w['label']}: median {w['median_s'] * 1e3:.0f} ms, max {w['max_s'] * 1e3:.0f} ms over {w['repeats']} "
        f"(target < {w['target_s'] * 1e3:.0f} ms: {_met(w['target_met'])})",
    ]
    return "\n".join(lines)


def summary(result: dict) -> list[dict]:
    """Per model and policy: step time ÷ fp32's (target ≤ 1.3 for fp16/bf16, ≤ 1.5 for the others); fp32 ÷ PyTorch
    eager; the widget re-train ÷ budget."""
    rows = []
    for r in result["rows"]:
        if r["policy"] != "fp32":
            rows.append(
                ratio_row(
                    "train",
                    f"{r['model']} step, {r['policy']}",
                    r["vs_fp32"],
                    baseline="our fp32 step",
                    better="lower",
                    target=r["target_vs_fp32"],
                    detail=f"{r['median_s'] * 1e3:.2f} ms",
                )
            )
    for r in result["torch_rows"]:
        rows.append(
            ratio_row(
                "train",
                f"{r['model']} fp32 step",
                r["ours_vs_torch"],
                baseline="torch eager CPU step",
                better="lower",
                target=r["target_ours_vs_torch"],
                detail=f"torch {r['torch_median_s'] * 1e3:.2f} ms",
            )
        )
    w = result["widget"]
    rows.append(
        ratio_row(
            "train",
            "loss-scale widget re-train",
            w["median_s"] / w["target_s"],
            baseline="time budget",
            better="lower",
            target=1.0,
            detail=f"{w['median_s'] * 1e3:.0f} ms",
        )
    )
    return rows


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--torch-worker", nargs=2, type=int, metavar=("WARMUP", "STEPS"), help=argparse.SUPPRESS)


if __name__ == "__main__":
    raise SystemExit(main_for(__doc__, run, markdown, "bench_train.json", add_arguments=_add_arguments))
