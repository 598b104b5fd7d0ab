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
# # Exercises 2 · The moving parts of a mixed-precision step
#
# Four tasks, each checked against the course package (`odyssey_lessons.train`, whose `GradScaler` follows
# `torch.amp.GradScaler`) and, where it is installed, against PyTorch itself:
#
# 1. **`update_scale`**: the dynamic loss scaler's update rule.
# 2. **`unscale_then_clip`**: unscale the gradients, detect inf/NaN, then clip by global norm — in that order.
# 3. **`master_weight_step`** / **`low_precision_step`**: one SGD step with float32 master weights, and without.
# 4. **`swamped_share`**: the share of updates a low-precision weight store throws away.
#
# Write your code in place of the `raise NotImplementedError(...)` lines, run the cell, then run the check cell
# below it. A check prints `[PASS] ...` or `[FAIL] ...` with a hint. Before you run anything, each check cell shows
# the output a correct answer prints: that is what your run is compared with. To score the whole notebook, save it
# and run `odyssey check exercises/02_mixed_precision.ipynb` in a terminal.

# %%
import math

import numpy as np

from odyssey_lessons.formats import finfo, quantize
from odyssey_lessons.grading import check, close
from odyssey_lessons.train import GradScaler, StaticScaler, clip_grad_norm

try:  # PyTorch is an optional second oracle
    import torch
except ImportError:
    torch = None

# %% [markdown]
# ## Task 1 · The dynamic loss scaler
#
# PyTorch's `GradScaler` keeps a scale $S$ (float32) and a counter of clean steps. After every step:
#
# - if the unscaled gradients held inf or NaN (`found_inf`): $S \leftarrow S \cdot \text{backoff}$, counter
#   $\leftarrow 0$ (and the optimizer step was skipped);
# - otherwise the counter grows by one; when it reaches `growth_interval`, $S \leftarrow S \cdot \text{growth}$
#   — kept only if the result is finite — and the counter goes back to 0.
#
# Write `update_scale(scale, tracker, found_inf, ...)` returning the new `(scale, tracker)`. Compute the products in
# float32 (`np.float32`), as PyTorch stores the scale.


# %%
def update_scale(
    scale: float,
    tracker: int,
    found_inf: bool,
    *,
    growth_factor: float = 2.0,
    backoff_factor: float = 0.5,
    growth_interval: int = 2000,
) -> tuple[float, int]:
    """One update of a dynamic loss scale: returns ``(new_scale, new_tracker)``."""
    ### BEGIN SOLUTION
    scale = np.float32(scale)
    if found_inf:
        return float(scale * np.float32(backoff_factor)), 0
    tracker += 1
    if tracker == growth_interval:
        with np.errstate(over="ignore"):
            grown = scale * np.float32(growth_factor)
        return (float(grown) if np.isfinite(grown) else float(scale)), 0
    return float(scale), tracker
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def update_scale_oracle(
    scale: float,
    tracker: int,
    found_inf: bool,
    *,
    growth_factor: float = 2.0,
    backoff_factor: float = 0.5,
    growth_interval: int = 2000,
) -> tuple[float, int]:
    """The package's GradScaler, put in the state ``(scale, tracker)``, after one ``update(found_inf)``."""
    reference = GradScaler(scale, growth_factor=growth_factor, backoff_factor=backoff_factor,
                           growth_interval=growth_interval)  # fmt: skip
    reference.load_state_dict({**reference.state_dict(), "_growth_tracker": tracker})
    reference.update(found_inf)
    return reference.get_scale(), reference.state_dict()["_growth_tracker"]


def test_update_scale(answers) -> None:
    rng = np.random.default_rng(7)
    cases = [(65536.0, 2.0, 0.5, 3), (2.0**120, 4.0, 0.25, 2), (1.0, 2.0, 0.5, 1), (3.0, 1.5, 0.9, 5)]
    for init, growth, backoff, interval in cases:
        scale, tracker = init, 0
        for found_inf in rng.random(60) < 0.2:  # 60 steps, each from the state your previous step returned
            scale, tracker = answers.update_scale(
                scale, tracker, bool(found_inf), growth_factor=growth, backoff_factor=backoff, growth_interval=interval
            )
    # growing past float32's max keeps the old scale: (2.0**127, 0), an inf scale is discarded
    answers.update_scale(2.0**127, 0, False, growth_interval=1)


check("train.update_scale", test_update_scale, points=3, hint="backoff on inf (tracker 0); grow after interval",
      oracles={"update_scale": update_scale_oracle})  # fmt: skip

# %% [markdown]
# ## Task 2 · Unscale, then clip
#
# The gradients in memory are $S \cdot g$. Write `unscale_then_clip(grads, scale, max_norm)` that, **in place**:
#
# 1. reports whether any gradient value is inf or NaN (`found_inf`),
# 2. multiplies every gradient by `np.float32(1 / scale)`,
# 3. if nothing was inf/NaN, clips by global L2 norm: with
#    $n = \sqrt{\sum_i \sum_j g_{ij}^2}$ (all tensors together, computed in float64) and
#    $c = \text{max\_norm} / (n + 10^{-6})$, multiply every gradient by $c$ when $c < 1$ (PyTorch's rule),
#
# and returns `(found_inf, n)` with $n$ the norm of the unscaled gradients before clipping (`math.inf` or NaN when
# `found_inf`).


# %%
def unscale_then_clip(grads: dict[str, np.ndarray], scale: float, max_norm: float) -> tuple[bool, float]:
    """Unscale ``grads`` by ``scale`` and clip them to global norm ``max_norm``, in place."""
    ### BEGIN SOLUTION
    found_inf = any(not np.isfinite(g).all() for g in grads.values())
    inv = np.float32(1.0 / scale)
    for g in grads.values():
        g *= inv
    total = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))
    if not found_inf:
        coef = max_norm / (total + 1e-6)
        if coef < 1:
            for g in grads.values():
                g *= np.float32(coef)
    return found_inf, total
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def unscale_then_clip_oracle(grads: dict[str, np.ndarray], scale: float, max_norm: float) -> tuple[bool, float]:
    """The package's recipe, in place: unscale as GradScaler does, then clip_grad_norm (which leaves inf/NaN alone)."""
    found_inf = StaticScaler(scale).unscale(grads)
    return found_inf, clip_grad_norm(grads, max_norm)


def test_unscale_then_clip(answers) -> None:
    rng = np.random.default_rng(8)
    for scale, max_norm in [(2.0**12, 1.0), (2.0**16, 0.05), (1.0, 100.0), (2.0**3, 3.0)]:
        grads = {name: (rng.standard_normal(shape) * scale).astype(np.float32) for name, shape in
                 [("w", (16, 8)), ("b", (8,)), ("v", (3, 4, 5))]}  # fmt: skip
        # found_inf, the unscaled norm and the gradients left in place, all to rtol 1e-6
        found_inf, total = answers.unscale_then_clip(grads, scale, max_norm)
        if torch is not None:  # PyTorch's own recipe: unscale (multiply by float32 1/S), then clip_grad_norm_
            params = [torch.zeros(g.shape, requires_grad=True) for g in grads.values()]
            for p, g in zip(params, grads.values(), strict=True):
                p.grad = torch.from_numpy(g) * torch.tensor(1.0 / scale, dtype=torch.float32)
            torch_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
            assert math.isclose(total, torch_norm, rel_tol=1e-5), f"norm {total} differs from PyTorch's {torch_norm}"
    (found_inf, _), _ = answers.both("unscale_then_clip", {"w": np.array([1.0, np.inf], np.float32)}, 2.0, 1.0)
    assert found_inf, "an inf gradient must be reported"


check("train.unscale_then_clip", test_unscale_then_clip, points=3,
      hint="unscale first (multiply by float32(1/scale)), norm in float64, clip only when finite",
      oracles={"unscale_then_clip": unscale_then_clip_oracle}, compare=close(rtol=1e-6))  # fmt: skip

# %% [markdown]
# ## Task 3 · A step with and without master weights
#
# With master weights the optimizer updates a float32 copy and the model computes with its cast; without, the
# stored weights *are* the low-precision values and every update is rounded back into them.
#
# - `master_weight_step(master, grad, lr, fmt)` returns `(new_master, compute_weights)`: the float32 SGD step
#   `master - lr * grad` (float32 arithmetic) and its rounding to `fmt` (`quantize`).
# - `low_precision_step(weights, grad, lr, fmt)` returns the new stored weights: the same step, rounded to `fmt`.


# %%
def master_weight_step(master: np.ndarray, grad: np.ndarray, lr: float, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """SGD on float32 master weights; also return the weights the model computes with."""
    ### BEGIN SOLUTION
    new_master = (master - np.float32(lr) * grad).astype(np.float32)
    return new_master, quantize(new_master, fmt)
    ### END SOLUTION


def low_precision_step(weights: np.ndarray, grad: np.ndarray, lr: float, fmt: str) -> np.ndarray:
    """SGD on weights stored in ``fmt``: the result is rounded back to ``fmt``."""
    ### BEGIN SOLUTION
    return quantize((weights - np.float32(lr) * grad).astype(np.float32), fmt)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def master_weight_oracle(master: np.ndarray, grad: np.ndarray, lr: float, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """A float32 SGD step on the master weights, and its rounding to ``fmt`` by the package."""
    new_master = (master - np.float32(lr) * grad).astype(np.float32)
    return new_master, quantize(new_master, fmt)


def low_precision_oracle(weights: np.ndarray, grad: np.ndarray, lr: float, fmt: str) -> np.ndarray:
    """A float32 SGD step rounded back to ``fmt`` by the package."""
    return quantize((weights - np.float32(lr) * grad).astype(np.float32), fmt)


def test_weight_steps(answers) -> None:
    rng = np.random.default_rng(9)
    w0 = rng.standard_normal(1000).astype(np.float32)
    grad = rng.standard_normal(1000).astype(np.float32)
    for fmt in ["bf16", "fp16", "e4m3fn"]:
        master, stored = w0.copy(), quantize(w0, fmt)
        for _ in range(200):  # 200 tiny steps: each one below half a spacing of most weights
            # your results, judged below by what they must satisfy
            (master, compute), _ = answers.both("master_weight_step", master, grad, 1e-4, fmt)
            stored, _ = answers.both("low_precision_step", stored, grad, 1e-4, fmt)
        exact = w0.astype(np.float64) - 200 * 1e-4 * grad.astype(np.float64)
        assert master.dtype == np.float32 and compute.dtype == np.float32, "return float32 arrays"
        np.testing.assert_array_equal(compute, quantize(master, fmt), err_msg="compute weights = cast of master")
        assert np.max(np.abs(master - exact)) < 1e-4, f"{fmt}: master weights drifted from the exact sum"
        moved_master = np.mean(quantize(master, fmt) != quantize(w0, fmt))
        moved_stored = np.mean(stored != quantize(w0, fmt))
        assert moved_stored < moved_master, f"{fmt}: without master weights fewer weights should move"
        np.testing.assert_array_equal(stored, quantize(stored, fmt), err_msg="stored weights must be in the format")


check("train.master_weight_step", test_weight_steps, points=3,
      hint="master: float32 step then quantize; no master: quantize the float32 step result",
      oracles={"master_weight_step": master_weight_oracle, "low_precision_step": low_precision_oracle})  # fmt: skip

# %% [markdown]
# ## Task 4 · How many updates vanish?
#
# Weights kept in a low-precision format are already rounded to it, so the update is added to the **stored** weight,
# not to the float32 value it came from. Write `swamped_share(weights, updates, fmt)` that:
#
# 1. rounds the weights to the format: `stored = quantize(weights, fmt)`;
# 2. adds each update to its stored weight in float32 and stores the result: `quantize(stored + updates, fmt)`;
# 3. counts an update as **swamped** when that result equals `stored` exactly;
# 4. returns the swamped share among the **nonzero** updates only (zero updates are neither swamped nor counted;
#    with no nonzero update at all, return `0.0`).
#
# The check draws weights in $[\tfrac12, 1)$, where the spacing is `eps / 2`, and updates of both signs: half of them
# smaller than half that spacing (swamped), half larger (kept), so the right answer is exactly 0.5 for every format.
# Rounding `weights + updates` without step 1 compares against a float32 weight that is not on the format's grid, and
# gives another share. Then say in one sentence, in the markdown cell below, why the share is larger for e4m3fn than
# for bf16.


# %%
def swamped_share(weights: np.ndarray, updates: np.ndarray, fmt: str) -> float:
    """Share of nonzero updates that leave the stored weight unchanged."""
    ### BEGIN SOLUTION
    stored = quantize(weights, fmt)
    nonzero = updates != 0
    after = quantize((stored + updates).astype(np.float32), fmt)
    return float(np.count_nonzero((after == stored) & nonzero) / max(np.count_nonzero(nonzero), 1))
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def swamped_share_oracle(weights: np.ndarray, updates: np.ndarray, fmt: str) -> float:
    """The share by the four steps above, with the package's ``quantize``."""
    stored = quantize(weights, fmt)
    after = quantize((stored + updates).astype(np.float32), fmt)
    nonzero = updates != 0
    return float(np.count_nonzero((after == stored) & nonzero) / max(np.count_nonzero(nonzero), 1))


def test_swamped_share(answers) -> None:
    rng = np.random.default_rng(10)
    weights = rng.uniform(0.55, 0.95, 4000).astype(np.float32)  # inside [0.5, 1): spacing eps / 2
    for fmt in ["bf16", "fp16", "e4m3fn"]:
        half = finfo(fmt).eps / 4  # half the spacing in [0.5, 1)
        small = (rng.uniform(0.05, 0.9, 2000) * half).astype(np.float32)
        large = (rng.uniform(1.1, 3.0, 2000) * half).astype(np.float32)
        updates = np.concatenate([small, large]) * rng.choice([-1, 1], 4000).astype(np.float32)
        share = answers.swamped_share(weights, updates, fmt)
        assert share == 0.5, f"{fmt}: {share:.4f}, expected exactly half (the small updates)"
    zero = answers.swamped_share(weights, np.zeros(4000, np.float32), "bf16")
    assert zero == 0.0, "zero updates are not counted (no nonzero update vanished)"


check("train.swamped_share", test_swamped_share, points=2,
      hint="stored = quantize(weights); swamped if quantize(stored + u) == stored; over nonzero updates",
      oracles={"swamped_share": swamped_share_oracle})  # fmt: skip

# %% [markdown]
# **Why more for e4m3fn?** (not graded; compare with the solution)
#
# ### BEGIN SOLUTION
# E4M3 keeps 4 significant bits to bf16's 8, so the spacing around a weight is 16 times wider and an update must be
# 16 times larger to survive round-to-nearest.
# ### END SOLUTION
