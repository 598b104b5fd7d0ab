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
# # Lesson 4 · Optimizers: how they move, what they cost, and which claims about them hold
#
# An optimizer turns gradients into weight updates. SGD takes a step against the gradient; momentum remembers past
# steps; Adagrad, RMSprop and Adam divide each coordinate by a running measure of its gradient's size; AdamW decouples
# weight decay from that division; Lion keeps only the sign. This lesson watches them on 2-D problems, trains the
# digits MLP and CNN with each over a range of learning rates and three seeds, measures their memory, and checks the
# claims of a typical pros/cons table against those runs.
#
# **You will be able to**
#
# 1. write the update rule of SGD, momentum, Nesterov, Adagrad, RMSprop, Adam, AdamW and Lion;
# 2. explain from a picture why momentum helps in an ill-conditioned valley;
# 3. compare optimizers fairly: each at its own best learning rate, with the seed-to-seed spread;
# 4. measure optimizer state memory per parameter;
# 5. show that Adam + L2 and AdamW are different algorithms.
#
# The optimizers are `odyssey_lessons.optim` (fused numba kernels with `torch.optim`'s numerics; the test suite checks
# them step for step against PyTorch and against slow reference implementations).

# %%
import datetime
import platform

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from odyssey_lessons import __version__, nn, optim
from odyssey_lessons.data import digits_task
from odyssey_lessons.optim import LANDSCAPES, state_bytes_per_param, trajectory
from odyssey_lessons.train import evaluate, fit, smooth_losses
from odyssey_lessons.widgets import OptimizerExplorer, html_table

measured: dict[str, object] = {}  # key results, collected for the summary at the end
plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3})
print(f"odyssey_lessons {__version__}, numpy {np.__version__}, {platform.machine()}, {datetime.date.today()}")

# %% [markdown]
# ## 1 · The update rules
#
# With gradient $g_t$, learning rate $\eta$ and parameters $p$ (PyTorch's conventions, which `odyssey_lessons.optim`
# follows exactly):
#
# | optimizer | state per parameter | update |
# |---|---|---|
# | SGD | — | $p \leftarrow p - \eta g$ |
# | momentum | $b$ | $b \leftarrow \mu b + g$, $p \leftarrow p - \eta b$ |
# | Nesterov | $b$ | $b \leftarrow \mu b + g$, $p \leftarrow p - \eta (g + \mu b)$ |
# | Adagrad | $s$ | $s \leftarrow s + g^2$, $p \leftarrow p - \eta g / (\sqrt{s} + \epsilon)$ |
# | RMSprop | $v$ | $v \leftarrow \alpha v + (1-\alpha) g^2$, $p \leftarrow p - \eta g / (\sqrt{v} + \epsilon)$ |
# | Adam | $m, v$ | $m \leftarrow \beta_1 m + (1-\beta_1) g$, $v \leftarrow \beta_2 v + (1-\beta_2) g^2$, then |
# | | | $p \leftarrow p - \eta \hat m / (\sqrt{\hat v} + \epsilon)$ |
# | AdamW | $m, v$ | Adam, plus $p \leftarrow p - \eta \lambda p$ outside the division |
# | Lion | $m$ | $p \leftarrow p - \eta\,\mathrm{sign}(\beta_1 m + (1-\beta_1) g)$, then |
# | | | $m \leftarrow \beta_2 m + (1-\beta_2) g$ |
#
# ($\hat m = m / (1 - \beta_1^t)$ and $\hat v = v / (1 - \beta_2^t)$ correct for starting at zero.) Adam + L2 adds
# $\lambda p$ to $g$ *before* the division — section 5 shows why that is not the same as AdamW.
#
# ## 2 · Watching them move: three 2-D problems
#
# An ill-conditioned quadratic ($\tfrac12(x^2 + 25y^2)$, 25 times steeper across the valley than along it), the
# Rosenbrock valley (curved and narrow, minimum at (1, 1)) and a saddle ($x^2 - y^2 + y^4/4$, starting just off the
# ridge). Each optimizer runs from the same start in float32 (150 steps; 1,000 in Rosenbrock's long valley); the
# learning rates are chosen per problem so that each optimizer is stable.

# %%
PATH_RUNS = {
    "sgd": lambda lr: optim.sgd(lr),
    "momentum 0.9": lambda lr: optim.sgd(lr, momentum=0.9),
    "nesterov 0.9": lambda lr: optim.sgd(lr, momentum=0.9, nesterov=True),
    "rmsprop": lambda lr: optim.rmsprop(lr),
    "adam": lambda lr: optim.adam(lr),
    "lion": lambda lr: optim.lion(lr),
}
PATH_LR = {  # (sgd-family lr, adaptive lr, steps) per problem
    "ill_conditioned": (0.035, 0.1, 150),
    "rosenbrock": (1e-3, 0.02, 1000),
    "saddle": (0.05, 0.05, 150),
}
paths = {}
fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
for ax, (land_name, land) in zip(axes, LANDSCAPES.items(), strict=True):
    x0, x1, y0, y1 = land.bounds
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    z = land.loss(gx, gy)
    z = z - z.min() + 1e-3
    ax.contour(gx, gy, z, levels=np.geomspace(z.min(), z.max(), 20), cmap="Greys", linewidths=0.6)
    for name, make in PATH_RUNS.items():
        lr = PATH_LR[land_name][0 if name.startswith(("sgd", "momentum", "nesterov")) else 1]
        tr = trajectory(make(lr), land_name, steps=PATH_LR[land_name][2])
        paths[(land_name, name)] = tr
        pts = tr.points[np.all(np.isfinite(tr.points), axis=1)]
        ax.plot(pts[:, 0], pts[:, 1], ".-", ms=2, lw=1, label=f"{name} (lr {lr:g})")
    ax.plot(*land.minimum, "*", color="k", ms=12)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(land_name)
axes[0].legend(fontsize=7, loc="lower left")
plt.show()
gap_rows = [[land] + [f"{paths[(land, n)].final_gap:.2e}" for n in PATH_RUNS] for land in LANDSCAPES]
display(html_table(["problem: final loss − minimum"] + list(PATH_RUNS), gap_rows))
gap = {k: v.final_gap for k, v in paths.items()}
measured["ill-conditioned quadratic, loss gap after 150 steps: sgd / momentum / nesterov"] = tuple(
    f"{gap[('ill_conditioned', n)]:.2e}" for n in ["sgd", "momentum 0.9", "nesterov 0.9"])  # fmt: skip
assert gap[("ill_conditioned", "momentum 0.9")] < gap[("ill_conditioned", "sgd")]

# %% [markdown]
# **Momentum in the valley.** Plain SGD's learning rate is capped by the steep direction (above $2/25$ it
# diverges across the valley), so it crawls along the shallow one. Momentum accumulates the consistent component of
# the gradient (along the valley) and cancels the alternating one (across it): at the same learning rate it gets
# orders of magnitude closer (the table's first row). Nesterov evaluates the correction one step ahead and damps the
# overshoot a little more. The adaptive methods rescale each coordinate by its gradient size, which on this
# axis-aligned bowl removes the ill-conditioning by construction — but their step does not shrink to zero near the
# minimum unless the learning rate does. Lion moves every coordinate by exactly $\eta$ per step: in the steep
# direction it zig-zags across the valley with an amplitude of about $\eta$ instead of settling.
#
# ## 3 · The digits: every optimizer at its own best learning rate
#
# A fair comparison sweeps each optimizer's learning rate over the same relative range (five values spanning 100×
# around a typical value) and three seeds, and compares them at their best. MLP: 5 epochs; CNN: 4 epochs, three
# learning rates and two seeds (it is slower). The learning rate is chosen on the validation split; accuracy is
# reported on the test split.

# %%
OPTIMIZERS = {  # name -> (factory of lr, centre of the learning-rate grid)
    "sgd": (lambda lr: optim.sgd(lr), 0.3),
    "sgd+momentum": (lambda lr: optim.sgd(lr, momentum=0.9), 0.05),
    "sgd+nesterov": (lambda lr: optim.sgd(lr, momentum=0.9, nesterov=True), 0.05),
    "adagrad": (lambda lr: optim.adagrad(lr), 0.05),
    "rmsprop": (lambda lr: optim.rmsprop(lr), 3e-3),
    "adam": (lambda lr: optim.adam(lr), 5e-3),
    "adamw": (lambda lr: optim.adamw(lr, weight_decay=1e-2), 5e-3),
    "lion": (lambda lr: optim.lion(lr), 5e-4),
}
SEEDS = (0, 1, 2)
mlp_task, cnn_task = digits_task("mlp"), digits_task("cnn")


def sweep(model_fn, task, factors, seeds, epochs):
    """{optimizer: {lr: [(history, test_acc) per seed]}}."""
    out = {}
    for name, (make, centre) in OPTIMIZERS.items():
        out[name] = {}
        for f in factors:
            lr = centre * f
            runs = []
            for s in seeds:
                model = model_fn(s)
                h = fit(model, task.train, val=task.val, optimizer=make(lr), epochs=epochs, batch_size=64, seed=s,
                        progress=False)  # fmt: skip
                runs.append((h, evaluate(model, *task.test)[1]))
            out[name][lr] = runs
    return out


mlp_sweep = sweep(lambda s: nn.mlp((64, 128, 10), rng=np.random.default_rng(s)), mlp_task,
                  [0.1, 1 / 3, 1, 3, 10], SEEDS, 5)  # fmt: skip
cnn_sweep = sweep(lambda s: nn.digits_cnn(rng=np.random.default_rng(s)), cnn_task, [1 / 3, 1, 3], SEEDS[:2], 4)


def best(sweep_result: dict, name: str) -> tuple[float, list]:
    """The learning rate with the best mean validation accuracy, and its runs."""
    lr = max(sweep_result[name], key=lambda lr: np.mean([h.final_val_acc for h, _ in sweep_result[name][lr]]))
    return lr, sweep_result[name][lr]


def acc_table(sweep_result: dict) -> list[list[object]]:
    rows = []
    for name in OPTIMIZERS:
        lr, runs = best(sweep_result, name)
        test = [t for _, t in runs]
        grid = " / ".join(f"{100 * np.mean([h.final_val_acc for h, _ in r]):.0f}" for r in sweep_result[name].values())
        rows.append([name, f"{lr:.3g}", f"{100 * np.mean(test):.1f} ± {100 * np.ptp(test) / 2:.1f}", grid])
    return rows


for title, result in [("digits MLP, 5 epochs, 3 seeds", mlp_sweep), ("digits CNN, 4 epochs, 2 seeds", cnn_sweep)]:
    display(html_table([title, "best lr (val.)", "test acc. % at best lr (mean ± half-range)",
                        "val. acc. % across the lr grid (low → high)"], acc_table(result)))  # fmt: skip

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
for ax, (title, result) in zip(axes, [("MLP", mlp_sweep), ("CNN", cnn_sweep)], strict=True):
    for name in OPTIMIZERS:
        lrs = np.array(list(result[name]))
        acc = [np.mean([h.final_val_acc for h, _ in r]) for r in result[name].values()]
        ax.plot(lrs / OPTIMIZERS[name][1], acc, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("learning rate / centre of its grid")
    ax.set_ylabel("val. accuracy")
    ax.set_title(f"{title}: accuracy across each optimizer's learning-rate grid")
axes[1].legend(fontsize=7)
plt.show()

# %% [markdown]
# ## 4 · Memory: optimizer state per parameter
#
# Measured from the state arrays the optimizers actually allocate (`state_bytes_per_param`), on the MLP's 9,610
# parameters: SGD keeps nothing, momentum one float32 buffer, Adam two, Lion one.

# %%
params = nn.mlp((64, 128, 10), rng=np.random.default_rng(0)).params()
n_params = sum(p.size for p in params.values())
memory = {name: state_bytes_per_param(make(1e-3).init(params), params) for name, (make, _) in OPTIMIZERS.items()}
display(html_table(["optimizer", "state bytes per parameter", f"state bytes for the MLP ({n_params:,} parameters)"],
                   [[k, f"{v:g}", f"{v * n_params:,.0f}"] for k, v in memory.items()]))  # fmt: skip
measured["optimizer state bytes per parameter"] = {k: float(v) for k, v in memory.items()}

# %% [markdown]
# For a 7-billion-parameter model that is 0 / 28 / 56 GB for SGD / momentum / Adam in float32 on top of the
# weights — which is why memory-saving optimizers (Adafactor, 8-bit Adam, Lion) exist.
#
# ## 5 · Adam + L2 is not AdamW
#
# Adam + L2 adds $\lambda p$ to the gradient, and then divides by $\sqrt{\hat v}$: a weight whose gradients are large
# is barely decayed, one whose gradients are small is decayed hard. AdamW shrinks every weight by the same factor
# $1 - \eta\lambda$ per step. Same nominal `weight_decay`, different algorithms — trained below on the MLP for 10
# epochs (lr 5e-3, three seeds), with the final weight norm and test accuracy.

# %%
WD_RUNS = {
    "adam, no decay": lambda: optim.adam(5e-3),
    "adam + L2, wd 1e-3": lambda: optim.adam(5e-3, weight_decay=1e-3),
    "adam + L2, wd 1e-2": lambda: optim.adam(5e-3, weight_decay=1e-2),
    "adamw, wd 1e-2": lambda: optim.adamw(5e-3, weight_decay=1e-2),
    "adamw, wd 1e-1": lambda: optim.adamw(5e-3, weight_decay=1e-1),
    "adamw, wd 1": lambda: optim.adamw(5e-3, weight_decay=1.0),
}
wd_results = {}
for label, make in WD_RUNS.items():
    norms, tests = [], []
    for s in SEEDS:
        model = nn.mlp((64, 128, 10), rng=np.random.default_rng(s))
        fit(model, mlp_task.train, val=mlp_task.val, optimizer=make(), epochs=10, batch_size=64, seed=s,
            progress=False)  # fmt: skip
        norms.append(np.sqrt(sum(float(np.sum(w.astype(np.float64) ** 2)) for k, w in model.params().items()
                                 if k.endswith("weight"))))  # fmt: skip
        tests.append(evaluate(model, *mlp_task.test)[1])
    wd_results[label] = (np.mean(norms), np.mean(tests), np.ptp(tests) / 2)
wd_rows = [[k, f"{n:.2f}", f"{100 * a:.1f} ± {100 * h:.1f}"] for k, (n, a, h) in wd_results.items()]
display(html_table(["run", "final weight L2 norm (mean)", "test acc. % (mean ± half-range)"], wd_rows))
norm_l2, norm_w = wd_results["adam + L2, wd 1e-2"][0], wd_results["adamw, wd 1e-2"][0]
measured["final weight norm, wd 1e-2: adam+L2 / adamw / no decay"] = (
    round(norm_l2, 3), round(norm_w, 3), round(wd_results["adam, no decay"][0], 3))  # fmt: skip
assert abs(norm_l2 - norm_w) > 0.01 * norm_w  # the same nominal weight_decay gives different weights
assert abs(norm_w - wd_results["adam, no decay"][0]) < 0.05 * norm_w  # the text: AdamW at 1e-2 is almost plain Adam

# %% [markdown]
# The same `weight_decay=1e-2` gives different weights: with Adam + L2 the decay term is normalised away for
# weights with large gradients, while AdamW's decay is a plain shrink of every weight, $\eta\lambda = 5\cdot10^{-5}$
# per step — so small that at this setting AdamW is almost plain Adam, and larger values (0.1, 1) are needed for its
# decay to show. The two `weight_decay` numbers live on different scales, which is one practical reason AdamW's value
# has to be tuned afresh when switching from Adam + L2.
#
# ## 6 · The pros/cons table, checked
#
# The seed material of this course listed pros and cons of four optimizers. Each row below is a claim from that table,
# the measurement from this notebook that tests it, and a verdict computed from the numbers (with the seed spread as
# the noise level). "Steps to loss 0.5" is the first step at which the smoothed training loss of the MLP at its best
# learning rate falls below 0.5 (mean over seeds).


# %%
def steps_to(sweep_result: dict, name: str, target: float = 0.5) -> float:
    _, runs = best(sweep_result, name)
    hits = []
    for h, _ in runs:
        below = np.nonzero(smooth_losses(h.step["loss"]) < target)[0]
        hits.append(float(below[0]) if below.size else float(len(h.step["loss"])))
    return float(np.mean(hits))


def lr_width(sweep_result: dict, name: str, within: float = 0.02) -> int:
    """How many of the grid's learning rates reach within ``within`` of this optimizer's best val. accuracy."""
    accs = [np.mean([h.final_val_acc for h, _ in r]) for r in sweep_result[name].values()]
    return int(sum(a >= max(accs) - within for a in accs))


def best_test(sweep_result: dict, name: str) -> tuple[float, float]:
    _, runs = best(sweep_result, name)
    t = [t for _, t in runs]
    return float(np.mean(t)), float(np.ptp(t) / 2)


speed = {n: steps_to(mlp_sweep, n) for n in OPTIMIZERS}
width = {n: lr_width(mlp_sweep, n) for n in OPTIMIZERS}
test_mlp = {n: best_test(mlp_sweep, n) for n in OPTIMIZERS}
test_cnn = {n: best_test(cnn_sweep, n) for n in OPTIMIZERS}


def compare(a: tuple[float, float], b: tuple[float, float]) -> str:
    """'higher' / 'lower' / 'same within noise' for test accuracies (mean, half-range)."""
    noise = 2 * max(a[1], b[1], 0.004)  # at least about one test image (1/269)
    return "same within noise" if abs(a[0] - b[0]) <= noise else ("higher" if a[0] > b[0] else "lower")


claims = [
    ("SGD: slow convergence", f"steps to loss 0.5: sgd {speed['sgd']:.0f}, momentum {speed['sgd+momentum']:.0f}, "
     f"adam {speed['adam']:.0f}",
     "holds" if speed["sgd"] > 1.2 * min(speed["sgd+momentum"], speed["adam"]) else "does not hold here"),
    ("SGD: sensitive to LR", f"grid lrs within 2 points of best: sgd {width['sgd']}/5, momentum "
     f"{width['sgd+momentum']}/5, adam {width['adam']}/5",
     "holds" if width["sgd"] < max(width["sgd+momentum"], width["adam"]) else "does not hold here"),
    ("SGD+momentum: faster convergence", f"steps to loss 0.5: {speed['sgd+momentum']:.0f} vs sgd {speed['sgd']:.0f}",
     "holds" if speed["sgd+momentum"] < speed["sgd"] else "does not hold here"),
    ("SGD+momentum: less sensitive to LR", f"grid width {width['sgd+momentum']}/5 vs sgd {width['sgd']}/5",
     "holds" if width["sgd+momentum"] > width["sgd"] else "does not hold here"),
    ("Adam: high memory", f"{memory['adam']:g} vs {memory['sgd+momentum']:g} (momentum) vs {memory['sgd']:g} (sgd) "
     "bytes per parameter", "holds" if memory["adam"] > memory["sgd+momentum"] > memory["sgd"] else "does not hold"),
    ("Adam: may not generalize as well", f"MLP test acc: adam {100 * test_mlp['adam'][0]:.1f}% vs momentum "
     f"{100 * test_mlp['sgd+momentum'][0]:.1f}%; CNN: {100 * test_cnn['adam'][0]:.1f}% vs "
     f"{100 * test_cnn['sgd+momentum'][0]:.1f}%",
     {"lower": "holds here", "higher": "does not hold here",
      "same within noise": "not measurable here (within noise)"}[compare(test_mlp["adam"], test_mlp["sgd+momentum"])]),
    ("AdamW: better regularization", f"best test acc AdamW(wd 1e-2..1) "
     f"{100 * max(wd_results[k][1] for k in WD_RUNS if k.startswith('adamw')):.1f}% vs Adam+L2 "
     f"{100 * max(wd_results[k][1] for k in WD_RUNS if 'L2' in k):.1f}%",
     "holds" if max(wd_results[k][1] for k in WD_RUNS if k.startswith("adamw"))
     > max(wd_results[k][1] for k in WD_RUNS if "L2" in k) + 0.008 else "not measurable here (within noise)"),
    ("SGD+momentum for vision (vs Adam)", f"CNN test acc: momentum {100 * test_cnn['sgd+momentum'][0]:.1f}% vs adam "
     f"{100 * test_cnn['adam'][0]:.1f}%",
     {"higher": "holds here", "lower": "does not hold here",
      "same within noise": "not measurable here (within noise)"}[compare(test_cnn["sgd+momentum"], test_cnn["adam"])]),
]  # fmt: skip
display(html_table(["claim (seed material)", "measured here", "verdict"], claims))
for claim, _, verdict in claims:
    measured[f"verdict: {claim}"] = verdict
for model, tests in [("MLP", test_mlp), ("CNN", test_cnn)]:
    accs = {n: round(100 * t[0], 1) for n, t in tests.items()}
    measured[f"{model} test acc. % at each optimizer's best lr"] = accs

# %% [markdown]
# **Reading the table.** Claims about memory are arithmetic and hold exactly. Claims about speed of convergence and
# sensitivity are measurable on this problem, and the table says which held. Claims about *generalisation* are the
# weakest: on the digits, the differences between optimizers at their best learning rates are often within the seed
# spread, so "not measurable here" is an honest outcome — and a reminder that such claims come from specific (usually
# much larger) experiments. "Few hyperparameters" and "newer, less widely tested" are not measurable at all and are
# left out.
#
# ## 7 · Explore: the optimizer explorer
#
# Pick a problem, an optimizer, its learning rate and its main hyperparameter (momentum, $\beta_1$, RMSprop's
# $\alpha$, Adagrad's initial accumulator). The path and the loss are recomputed with the package's optimizers.
#
# Things to try: on `ill_conditioned`, SGD at lr 0.07 then 0.09 (just past $2/25$: it diverges across the valley);
# momentum 0 → 0.5 → 0.9 → 0.99 (faster, then oscillating); Adam with $\beta_1 = 0$ (that is RMSprop with bias
# correction); Rosenbrock with SGD at 1e-3 vs Adam at 0.05.

# %%
explorer = OptimizerExplorer(landscape="ill_conditioned", optimizer="sgd + momentum")
explorer

# %% [markdown]
# The explorer's state is plain data, so you can check what you see:

# %%
explorer.optimizer.value = "sgd"
explorer.lr.value = 0.09  # above 2 / 25 = 0.08: the steep direction diverges
diverging = explorer.state
explorer.lr.value = 0.07
converging = explorer.state
print(f"sgd at lr 0.09: |y| after 150 steps {abs(diverging.points[-1, 1]):.3g}; at 0.07: "
      f"{abs(converging.points[-1, 1]):.3g}")  # fmt: skip
assert abs(diverging.points[-1, 1]) > abs(converging.points[-1, 1])

# %% [markdown]
# ## Summary: what this notebook measured
#
# - On an ill-conditioned valley momentum beats plain SGD at the same learning rate by orders of magnitude.
# - On the digits, each optimizer at its own best learning rate: test accuracies, convergence speed and the width of
#   the good learning-rate range are in section 3, the verdicts on the pros/cons table in section 6.
# - Optimizer state: 0 / 4 / 8 bytes per parameter for SGD / momentum / Adam, measured from the arrays.
# - Adam + L2 and AdamW with the same `weight_decay` train to different weights.

# %%
for key, value in measured.items():
    print(f"- {key}: {value}")

# %% [markdown]
# ---
# **Exercise:** [exercises/04_optimizers.ipynb](../exercises/04_optimizers.ipynb) —
# fill it in, save it, then run `odyssey check exercises/04_optimizers.ipynb`.
#
# [← Lesson 3 · Learning-rate schedules](03_lr_schedules.ipynb) ·
# [Start here](00_start_here.ipynb) ·
# [Lesson 5 · Regularization →](05_regularization.ipynb)
