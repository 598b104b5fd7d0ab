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
# # Exercises 3 · Writing learning-rate schedules
#
# Three tasks, each checked against the course package (`odyssey_lessons.schedules`, whose schedules equal
# `torch.optim.lr_scheduler` step for step) and, where it is installed, against PyTorch itself:
#
# 1. **`warmup_cosine_lr`**: linear warm-up, then cosine decay.
# 2. **`one_cycle_lr`**: the 1cycle policy exactly as `torch.optim.lr_scheduler.OneCycleLR` computes it.
# 3. **`smoothed`**: the bias-corrected moving average an LR range test plots.
#
# The two schedule functions take an integer numpy array of steps ($k = 0$ is the first update) and return a float64
# array of the same shape; `smoothed` takes an array of losses and returns a float64 array of the same length. Each
# check compares your values with the course package over several settings (and with PyTorch where installed).
# Write your code in place of the `raise NotImplementedError(...)` lines, run the cell, then run the check cell
# below it. To score the whole notebook, save it and run `odyssey check exercises/03_lr_schedules.ipynb`.

# %%
import numpy as np

from odyssey_lessons.grading import check, close
from odyssey_lessons.schedules import one_cycle, warmup_cosine
from odyssey_lessons.train import smooth_losses

try:  # PyTorch is an optional second oracle
    import torch
except ImportError:
    torch = None

# %% [markdown]
# ## Task 1 · Warm-up + cosine
#
# With peak $\eta$, warm-up length $W$, run length $T$ (warm-up included) and floor $\eta_{\min}$:
#
# - for $k < W$: $\eta_k = \eta \cdot k / W$ (from 0, reaching $\eta$ at $k = W$);
# - for $W \le k \le T$: with $t = (k - W) / (T - W)$, $\eta_k = \eta_{\min} + \tfrac12 (\eta - \eta_{\min})
#   (1 + \cos \pi t)$;
# - after $T$: $\eta_{\min}$.


# %%
def warmup_cosine_lr(k: np.ndarray, peak: float, warmup: int, total: int, min_lr: float = 0.0) -> np.ndarray:
    """Learning rate of steps ``k`` under linear warm-up then cosine decay."""
    ### BEGIN SOLUTION
    k = np.asarray(k, dtype=np.float64)
    t = np.clip((k - warmup) / (total - warmup), 0.0, 1.0)
    decay = min_lr + 0.5 * (peak - min_lr) * (1 + np.cos(np.pi * t))
    return np.where(k < warmup, peak * k / max(warmup, 1), decay)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def warmup_cosine_oracle(k: np.ndarray, peak: float, warmup: int, total: int, min_lr: float = 0.0) -> np.ndarray:
    """The package's warm-up + cosine schedule at steps ``k``."""
    return warmup_cosine(peak, warmup_steps=warmup, total_steps=total, min_lr=min_lr)(k)


def test_warmup_cosine(answers) -> None:
    k = np.arange(400)
    for peak, warmup, total, min_lr in [(0.1, 10, 200, 0.0), (3e-4, 50, 300, 1e-5), (1.0, 0, 100, 0.1), (0.5, 1, 2, 0)]:
        answers.warmup_cosine_lr(k, peak, warmup, total, min_lr)  # float64, shape of k, to rtol 1e-12


check("schedules.warmup_cosine", test_warmup_cosine, points=3,
      hint="k < W: peak * k / W; then t = (k - W) / (T - W) clipped to [0, 1] in the cosine",
      oracles={"warmup_cosine_lr": warmup_cosine_oracle}, compare=close(rtol=1e-12, atol=1e-15))  # fmt: skip

# %% [markdown]
# ## Task 2 · One cycle, as PyTorch computes it
#
# `OneCycleLR(max_lr, total_steps=T, pct_start=p, div_factor=d, final_div_factor=f)` with cosine annealing:
# $\eta_0 = \text{max\_lr}/d$, $\eta_{\min} = \eta_0 / f$. Phase 1 ends at step $e_1 = pT - 1$ (a float), phase 2 at
# $e_2 = T - 1$. Within a phase from step $s$ to $e$, going from $a$ to $b$, with $x = (k - s)/(e - s)$:
# $\eta_k = b + \tfrac12 (a - b)(1 + \cos \pi x)$. Steps $k \le e_1$ belong to phase 1 ($s = 0$), later ones to
# phase 2 ($s = e_1$); past $T - 1$ the rate stays at $\eta_{\min}$.


# %%
def one_cycle_lr(
    k: np.ndarray, max_lr: float, total: int, pct_start: float = 0.3, div: float = 25.0, final_div: float = 1e4
) -> np.ndarray:
    """Learning rate of steps ``k`` under torch's two-phase, cosine OneCycleLR."""
    ### BEGIN SOLUTION
    x = np.minimum(np.asarray(k, dtype=np.float64), total - 1)
    lr0 = max_lr / div
    lr_min = lr0 / final_div
    e1, e2 = pct_start * total - 1, total - 1.0

    def anneal(a: float, b: float, frac: np.ndarray) -> np.ndarray:
        return b + 0.5 * (a - b) * (1 + np.cos(np.pi * frac))

    return np.where(x <= e1, anneal(lr0, max_lr, x / e1), anneal(max_lr, lr_min, (x - e1) / (e2 - e1)))
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def one_cycle_oracle(
    k: np.ndarray, max_lr: float, total: int, pct_start: float = 0.3, div: float = 25.0, final_div: float = 1e4
) -> np.ndarray:
    """The package's one-cycle schedule at steps ``k``."""
    return one_cycle(max_lr, total_steps=total, pct_start=pct_start, div_factor=div, final_div_factor=final_div)(k)


def test_one_cycle(answers) -> None:
    cases = [(0.1, 100, 0.3, 25.0, 1e4), (1.0, 37, 0.25, 10.0, 100.0), (3e-3, 1000, 0.45, 25.0, 1e4)]
    for max_lr, total, pct, div, final in cases:
        got = answers.one_cycle_lr(np.arange(total + 5), max_lr, total, pct, div, final)  # to rtol 1e-9
        if torch is not None:
            param = torch.zeros(1, requires_grad=True)
            opt = torch.optim.SGD([param], lr=max_lr)
            torch_sched = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=max_lr, total_steps=total, pct_start=pct, div_factor=div, final_div_factor=final
            )
            lrs = []
            for step in range(total):
                lrs.append(opt.param_groups[0]["lr"])
                if step < total - 1:  # OneCycleLR refuses to step past total_steps
                    opt.step()
                    torch_sched.step()
            np.testing.assert_allclose(got[:total], lrs, rtol=1e-9, err_msg="differs from torch OneCycleLR")


check("schedules.one_cycle", test_one_cycle, points=3,
      hint="phase ends are pct*T - 1 and T - 1 (floats); cos anneal b + (a - b)(1 + cos(pi x)) / 2",
      oracles={"one_cycle_lr": one_cycle_oracle}, compare=close(rtol=1e-9))  # fmt: skip

# %% [markdown]
# ## Task 3 · The range test's smoothed loss
#
# An LR range test plots an exponential moving average of the per-step losses, corrected for its start at zero:
# $a_t = \beta a_{t-1} + (1 - \beta)\,l_t$ with $a_{-1} = 0$, and $s_t = a_t / (1 - \beta^{t+1})$. Write
# `smoothed(losses, beta)`.


# %%
def smoothed(losses: np.ndarray, beta: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average of ``losses``."""
    ### BEGIN SOLUTION
    out = np.empty(len(losses))
    avg = 0.0
    for t, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * float(loss)
        out[t] = avg / (1 - beta ** (t + 1))
    return out
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def test_smoothed(answers) -> None:
    rng = np.random.default_rng(3)
    for beta in (0.9, 0.98, 0.5):
        losses = 2.3 * np.exp(-np.linspace(0, 3, 150)) + 0.1 * rng.standard_normal(150)
        answers.smoothed(losses, beta)  # float64, to rtol 1e-12
    first = answers.smoothed(np.array([5.0]), 0.9)
    assert first[0] == 5.0, "the first value must equal the first loss (bias correction)"


check("schedules.smoothed", test_smoothed, points=2, hint="a = beta * a + (1 - beta) * loss; divide by 1 - beta**(t+1)",
      oracles={"smoothed": smooth_losses}, compare=close(rtol=1e-12))  # fmt: skip
