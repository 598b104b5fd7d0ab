"""Benchmark: the MNIST-1D paper's baseline table (logistic regression, MLP, CNN), trained once with its recipe.

Greydanus & Kobak (ICML 2024) report test accuracies of about 32% (logistic regression), 68% (MLP) and 94% (CNN) on
the default MNIST-1D split (4,000 training, 1,000 test signals). ``tests/train/test_mnist1d_baselines.py`` reproduces
that table with the course's engine; this script runs exactly that test's recipe (it imports ``paper_run_accuracy``,
``BUILD``, ``SEEDS`` and ``EPOCHS`` from it: Adam lr 1e-2, batches of 100, 150 epochs of 40 steps = 6,000 steps, the
paper's models, seeds 0, 1, 2) and records every seed's test accuracy and training time with the machine it ran on.
Lesson 5 shows the result beside the paper's numbers, labelled with that machine and date, instead of retraining the
CNN live (about 20 s per seed on a 2-core machine).

JSON written to ``--json`` (``version`` 1)::

    {
      "version": 1, "title": str,
      "provenance": {"date": ISO 8601 (UTC), "machine": {...}, "versions": {...}, "env": {...}  (benchmarks/_common),
                     "command": str, "source": "benchmarks/mnist1d_baselines.py",
                     "load_average_1min": {"start": float, "end": float}  (the seconds are wall time: on a shared
                     machine other work slows them; the accuracies do not depend on it)},
      "recipe": {"dataset": str, "num_train", "num_test", "data_seed", "optimizer": str, "lr", "batch_size",
                 "epochs", "steps", "seeds": [int], "init": str, "test": "tests/train/test_mnist1d_baselines.py"},
      "paper": {"source": str, "test_accuracy": {model: float}},
      "rows": [{"model": str, "parameters": int, "seeds": [int], "test_accuracy": [float], "mean": float,
                "seconds": [float]}]
    }

No hostname is recorded. Not a test: nothing here asserts an accuracy (``tests/measured/test_mnist1d.py`` checks the
shipped file against the paper's table with the baseline test's tolerances).

    python benchmarks/mnist1d_baselines.py --json odyssey_lessons/measured/mnist1d_baselines.json
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from _common import header_line, main_for, provenance

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the recipe is the baseline test's own, imported from tests/

from tests.train.test_mnist1d_baselines import BUILD, EPOCHS, PAPER, SEEDS, paper_run_accuracy  # noqa: E402

STEPS_PER_EPOCH = 40  # 4,000 training signals in batches of 100
PAPER_SOURCE = (
    "Greydanus & Kobak, 'Scaling Down Deep Learning with MNIST-1D', ICML 2024; the mnist1d README's table "
    "'Comparing MNIST and MNIST-1D' (one run per model)"
)


def run(args: argparse.Namespace) -> dict:
    load_before = os.getloadavg()
    rows = []
    for name in PAPER:
        accs, seconds = [], []
        for seed in SEEDS:
            start = time.perf_counter()
            accs.append(float(paper_run_accuracy(name, seed)))
            seconds.append(round(time.perf_counter() - start, 2))
            print(f"{name}, seed {seed}: test accuracy {accs[-1]:.4f} in {seconds[-1]:.1f} s", flush=True)
        n_params = sum(p.size for p in BUILD[name](np.random.default_rng(0)).params().values())
        rows.append({"model": name, "parameters": int(n_params), "seeds": list(SEEDS), "test_accuracy": accs,
                     "mean": float(np.mean(accs)), "seconds": seconds})  # fmt: skip
    argv = [a if a != str(args.json) else str(Path(args.json).resolve().relative_to(ROOT)) for a in sys.argv[1:]]
    prov = provenance()
    prov["command"] = shlex.join(["python", "benchmarks/mnist1d_baselines.py", *argv])
    prov["source"] = "benchmarks/mnist1d_baselines.py"
    prov["load_average_1min"] = {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)}
    return {
        "version": 1,
        "title": "MNIST-1D baselines with the paper's recipe: test accuracy of logistic regression, MLP and CNN",
        "provenance": prov,
        "recipe": {
            "dataset": "odyssey_lessons.data.mnist1d_task(layout, num_val=0): the paper's default split",
            "num_train": 4000,
            "num_test": 1000,
            "data_seed": 42,
            "optimizer": "odyssey_lessons.optim.adam, no weight decay",
            "lr": 1e-2,
            "batch_size": 100,
            "epochs": EPOCHS,
            "steps": EPOCHS * STEPS_PER_EPOCH,
            "seeds": list(SEEDS),
            "init": "He-uniform weights, zero biases (the seed sets initialisation and batch order)",
            "test": "tests/train/test_mnist1d_baselines.py",
        },
        "paper": {"source": PAPER_SOURCE, "test_accuracy": dict(PAPER)},
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [header_line(result["provenance"]), "", "| model | paper | seeds | mean |", "|---|---|---|---|"]
    for r in result["rows"]:
        accs = ", ".join(f"{100 * a:.1f}" for a in r["test_accuracy"])
        lines.append(f"| {r['model']} | {100 * result['paper']['test_accuracy'][r['model']]:.0f}% | {accs} | "
                     f"{100 * r['mean']:.1f}% |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main_for(__doc__, run, markdown, "mnist1d_baselines.json"))
