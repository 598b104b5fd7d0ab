"""Benchmark: optimizer step throughput (parameters/s) of the fused numba optimizers, against baselines in the same run.

Two forms of ours: the fused in-place ``opt.step(params, grads, state)`` (one pass over memory per array, as torch
does it), and the pure ``opt.update`` + ``apply_updates`` (new state and parameter arrays every step, written into
memory recycled from the arrays of two steps before, which the loop has dropped; a second pass for the addition).
Baselines, timed alternately with ours so that they see the same machine load:

- a plain numpy implementation of the same rule (written below, updating its state and parameters in place, as numpy
  code would);
- ``torch.optim`` with ``foreach=True`` on CPU (in place), when torch is installed.

"ours 1 thread" runs the same kernels with numba limited to the calling thread (as inside a training step), to show
what the parallel kernels buy. Parameters are split into 4 equal float32 arrays. Not a test: nothing asserts a time;
the target (the fused step at least as fast as torch foreach on CPU) is reported next to the measurements.

    python benchmarks/bench_optim.py [--quick] [--repeats 5] [--json PATH]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from _common import header_line, interleaved, main_for, provenance, ratio_row

from odyssey_lessons._threads import serial_kernels
from odyssey_lessons.optim import OPTIMIZERS, apply_updates

# name -> (our factory's keyword arguments; torch.optim class name and its keyword arguments)
CONFIGS = {
    "sgd (momentum 0.9)": ("sgd", {"lr": 1e-2, "momentum": 0.9}, "SGD"),
    "adam": ("adam", {"lr": 1e-3}, "Adam"),
    "adamw": ("adamw", {"lr": 1e-3, "weight_decay": 1e-2}, "AdamW"),
    "adagrad": ("adagrad", {"lr": 1e-2}, "Adagrad"),
    "rmsprop": ("rmsprop", {"lr": 1e-2}, "RMSprop"),
    "lion": ("lion", {"lr": 1e-4, "weight_decay": 1e-2}, None),
}
N_ARRAYS = 4


# ----- plain numpy baselines (in place) -----------------------------------------------------------------------------
def numpy_optimizer(name: str, hyper: dict, params: dict, grads: dict):
    """A ``step()`` closure updating a copy of ``params`` in place with plain numpy expressions."""
    params = {k: p.copy() for k, p in params.items()}
    lr = hyper["lr"]
    state = {k: [np.zeros_like(p), np.zeros_like(p)] for k, p in params.items()}
    t = [0]

    def step():
        t[0] += 1
        for k, p in params.items():
            g, (a, b) = grads[k], state[k]
            if name == "sgd":
                a *= hyper["momentum"]
                a += g
                p -= lr * a
            elif name in ("adam", "adamw"):
                b1, b2, eps = 0.9, 0.999, 1e-8
                if name == "adamw":
                    p *= 1 - lr * hyper["weight_decay"]
                a *= b1
                a += (1 - b1) * g
                b *= b2
                b += (1 - b2) * g * g
                p -= (lr / (1 - b1 ** t[0])) * a / (np.sqrt(b) / math.sqrt(1 - b2 ** t[0]) + eps)
            elif name == "adagrad":
                a += g * g
                p -= lr * g / (np.sqrt(a) + 1e-10)
            elif name == "rmsprop":
                a *= 0.99
                a += 0.01 * g * g
                p -= lr * g / (np.sqrt(a) + 1e-8)
            elif name == "lion":
                c = np.sign(0.9 * a + 0.1 * g)
                p -= lr * (c + hyper["weight_decay"] * p)
                a *= 0.99
                a += 0.01 * g

    return step


def torch_optimizer(torch_name: str, hyper: dict, params: dict, grads: dict):
    import torch

    tensors = [torch.from_numpy(p.copy()) for p in params.values()]
    for t, g in zip(tensors, grads.values(), strict=True):
        t.grad = torch.from_numpy(g)
    opt = getattr(torch.optim, torch_name)(tensors, foreach=True, **hyper)
    return opt.step


def ours_optimizer(name: str, hyper: dict, params: dict, grads: dict, serial: bool = False, fused: bool = True):
    """A ``step()`` closure: the fused in-place ``opt.step``, or ``update`` + ``apply_updates`` keeping the new
    parameters and state."""
    opt = OPTIMIZERS[name](**hyper)
    if fused:
        params = {k: v.copy() for k, v in params.items()}
    box = [params, opt.init(params)]

    def step():
        if fused:
            box[1] = opt.step(box[0], grads, box[1])
            return
        updates, box[1] = opt.update(grads, box[1], box[0])
        box[0] = apply_updates(box[0], updates)

    def serial_step():
        with serial_kernels():
            step()

    return serial_step if serial else step


def run(args: argparse.Namespace) -> dict:
    sizes = [1_000_000] if args.quick else [1_000_000, 10_000_000]
    repeats = 3 if args.quick else args.repeats
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    rows = []
    for size in sizes:
        chunk = size // N_ARRAYS
        params = {f"w{i}": rng.standard_normal(chunk).astype(np.float32) for i in range(N_ARRAYS)}
        grads = {k: (rng.standard_normal(chunk) * 1e-2).astype(np.float32) for k in params}
        n = chunk * N_ARRAYS
        for label, (name, hyper, torch_name) in CONFIGS.items():
            fns = {
                "ours": ours_optimizer(name, hyper, params, grads),
                "ours_pure": ours_optimizer(name, hyper, params, grads, fused=False),
                "ours_1_thread": ours_optimizer(name, hyper, params, grads, serial=True),
                "numpy": numpy_optimizer(name, hyper, params, grads),
            }
            if torch is not None and torch_name is not None:
                fns["torch"] = torch_optimizer(torch_name, hyper, params, grads)
            t = {k: min(v) for k, v in interleaved(fns, repeats).items()}
            row = {"optimizer": label, "params": n, **{f"{k}_params_per_s": n / v for k, v in t.items()}}
            row["vs_numpy"] = t["numpy"] / t["ours"]
            row["vs_torch"] = t["torch"] / t["ours"] if "torch" in t else None
            row["pure_vs_torch"] = t["torch"] / t["ours_pure"] if "torch" in t else None
            rows.append(row)
            print(f"  {label:20s} {n:>11,d}: " + ", ".join(f"{k} {n / v / 1e6:7.1f} M/s" for k, v in t.items()))
    return {
        "benchmark": "optimizer step throughput",
        **provenance(),
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "step": "in-place step (ours: opt.step; numpy; torch foreach=True); ours pure: update + apply_updates",
        "n_arrays": N_ARRAYS,
        "repeats": repeats,
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        f"optimizer step throughput, {header_line(result)}, {result['torch_threads']} torch threads",
        f"one step = {result['step']}; parameters in {result['n_arrays']} float32 arrays; min of {result['repeats']}",
        "",
        "| optimizer | params | ours step M/s | ours pure M/s | ours step 1 thread M/s | numpy M/s | torch M/s "
        "| × numpy | step × torch (target ≥ 1) | pure × torch |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def mps(r, key):
        v = r.get(f"{key}_params_per_s")
        return "" if v is None else f"{v / 1e6:.0f}"

    for r in result["rows"]:
        vs_torch = "" if r["vs_torch"] is None else f"{r['vs_torch']:.2f}"
        pure = "" if r["pure_vs_torch"] is None else f"{r['pure_vs_torch']:.2f}"
        lines.append(
            f"| {r['optimizer']} | {r['params'] / 1e6:.0f}M | {mps(r, 'ours')} | {mps(r, 'ours_pure')} | "
            f"{mps(r, 'ours_1_thread')} | {mps(r, 'numpy')} | {mps(r, 'torch')} | {r['vs_numpy']:.2f} | {vs_torch} "
            f"| {pure} |"
        )
    return "\n".join(lines)


def summary(result: dict) -> list[dict]:
    """Per optimizer and size: throughput × plain numpy, and × torch.optim foreach (target ≥ 1, from the issue)."""
    rows = []
    for r in result["rows"]:
        case = f"{r['optimizer']} fused step, {r['params'] / 1e6:.0f}M params"
        detail = f"{r['ours_params_per_s'] / 1e6:.0f} M params/s"
        rows.append(ratio_row("optim", case, r["vs_numpy"], baseline="numpy (in place)", detail=detail))
        if r["vs_torch"] is not None:
            rows.append(ratio_row("optim", case, r["vs_torch"], baseline="torch.optim foreach", target=1.0))
    return rows


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (--quick: 3, 1M parameters only)")


if __name__ == "__main__":
    raise SystemExit(main_for(__doc__, run, markdown, "bench_optim.json", add_arguments=_add_arguments))
