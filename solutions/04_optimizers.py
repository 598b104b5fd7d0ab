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
# # Exercises 4 · Optimizer updates from the formulas
#
# Three tasks, each checked against the course package (`odyssey_lessons.optim`, whose optimizers follow
# `torch.optim` step for step) and, where it is installed, against PyTorch itself:
#
# 1. **`momentum_step`**: one step of SGD with momentum, plain and Nesterov, as `torch.optim.SGD` takes it.
# 2. **`adam_step`**: one step of Adam (L2 weight decay) and AdamW (decoupled weight decay), as PyTorch computes it.
# 3. **`decay_only`**: where weight decay alone takes a weight under Adam + L2 and under AdamW — they differ.
#
# All arrays are float32 and every function returns new arrays (it must not modify its inputs). Write your code in
# place of the `raise NotImplementedError(...)` lines, run the cell, then run the check cell below it. A check prints
# `[PASS] ...` or `[FAIL] ...` with a hint. Before you run anything, each check cell shows the output a correct answer
# prints: that is what your run is compared with. To score the whole notebook, save it and run
# `odyssey check exercises/04_optimizers.ipynb` in a terminal.

# %%
import math

import numpy as np

from odyssey_lessons.grading import check, close
from odyssey_lessons.optim import adam, apply_updates, sgd

try:  # PyTorch is an optional second oracle
    import torch
except ImportError:
    torch = None


def run_package(opt, p0: np.ndarray, grads: list[np.ndarray]) -> list[tuple[np.ndarray, object]]:
    """Run a package optimizer from ``p0`` on the gradient sequence ``grads``; ``(params, state)`` after each step."""
    params, state = {"w": p0}, opt.init({"w": p0})
    history = []
    for g in grads:
        updates, state = opt.update({"w": g}, state, params)
        params = apply_updates(params, updates)
        history.append((params["w"], state))
    return history


# %% [markdown]
# ## Task 1 · Momentum, as PyTorch takes it
#
# `torch.optim.SGD(params, lr=η, momentum=μ, nesterov=...)` (dampening 0, no weight decay) keeps one buffer $b$ per
# parameter. At each step, with gradient $g$:
#
# $$b \leftarrow \begin{cases} g & \text{first step} \\ \mu\, b + g & \text{afterwards} \end{cases} \qquad
#   p \leftarrow \begin{cases} p - \eta\, b & \text{plain momentum} \\ p - \eta\,(g + \mu\, b) & \text{Nesterov}
#   \end{cases}$$
#
# (Nesterov uses the *new* buffer: it looks one step ahead along the velocity.) Write
# `momentum_step(p, g, buf, lr=..., momentum=..., nesterov=..., first=...)` returning `(new_p, new_buf)`. On the first
# step `buf` holds nothing useful (ignore it). Compute in float32: turn `lr` and `momentum` into `np.float32`.
#
# The check runs 30 steps for four settings (plain and Nesterov, momentum 0.5 to 0.99) on random float32 arrays and
# compares `p` and the buffer after every step with the package's `sgd` (relative tolerance 1e-6) and, where PyTorch
# is installed, the end state with `torch.optim.SGD`; it also checks that you return float32 arrays and leave your
# inputs unchanged.


# %%
def momentum_step(
    p: np.ndarray,
    g: np.ndarray,
    buf: np.ndarray,
    *,
    lr: float,
    momentum: float,
    nesterov: bool = False,
    first: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """One SGD-with-momentum step (``torch.optim.SGD``, dampening 0): returns ``(new_p, new_buf)``."""
    ### BEGIN SOLUTION
    lr, mu = np.float32(lr), np.float32(momentum)
    new_buf = g.copy() if first else mu * buf + g
    direction = g + mu * new_buf if nesterov else new_buf
    return p - lr * direction, new_buf
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def momentum_oracle(
    p: np.ndarray,
    g: np.ndarray,
    buf: np.ndarray,
    *,
    lr: float,
    momentum: float,
    nesterov: bool = False,
    first: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """One step of the package's ``sgd`` from the buffer ``buf`` (a zero buffer on the first step: then b = g)."""
    opt = sgd(lr, momentum=momentum, nesterov=nesterov)
    state = opt.init({"w": p})
    if not first:
        state = state._replace(momentum={"w": buf})
    updates, state = opt.update({"w": g}, state, {"w": p})
    return apply_updates({"w": p}, updates)["w"], state.momentum["w"]


def test_momentum_step(answers) -> None:
    rng = np.random.default_rng(41)
    for lr, momentum, nesterov in [(0.1, 0.9, False), (0.05, 0.9, True), (0.3, 0.5, False), (0.01, 0.99, True)]:
        what = f"lr={lr}, momentum={momentum}, nesterov={nesterov}"
        p0 = rng.standard_normal((7, 5)).astype(np.float32)
        grads = [rng.standard_normal((7, 5)).astype(np.float32) for _ in range(30)]
        p, buf = p0, np.zeros_like(p0)
        for step, g in enumerate(grads):
            # p and the buffer after every step to rtol 1e-6, atol 1e-7; float32 results; inputs left unchanged
            p, buf = answers.momentum_step(p, g, buf, lr=lr, momentum=momentum, nesterov=nesterov, first=step == 0)
        if torch is not None:
            param = torch.tensor(p0, requires_grad=True)
            opt = torch.optim.SGD([param], lr=lr, momentum=momentum, nesterov=nesterov)
            for g in grads:
                param.grad = torch.from_numpy(g.copy())
                opt.step()
            np.testing.assert_allclose(p, param.detach().numpy(), rtol=1e-5, atol=1e-6,
                                       err_msg=f"{what}: differs from torch.optim.SGD")  # fmt: skip
            np.testing.assert_allclose(buf, opt.state[param]["momentum_buffer"].numpy(), rtol=1e-5, atol=1e-6,
                                       err_msg=f"{what}: buffer differs from torch.optim.SGD")  # fmt: skip


check("optim.momentum_step", test_momentum_step, points=3,
      hint="buf = g on the first step, else momentum * buf + g; Nesterov steps by g + momentum * new buf",
      oracles={"momentum_step": momentum_oracle}, compare=close(rtol=1e-6, atol=1e-7))  # fmt: skip

# %% [markdown]
# ## Task 2 · Adam and AdamW, as PyTorch computes them
#
# Adam keeps two moving averages per parameter, $m$ (of $g$) and $v$ (of $g^2$), both starting at 0. At step
# $t = 1, 2, \dots$ with $\beta_1, \beta_2$, learning rate $\eta$, $\epsilon$ and weight decay $\lambda$:
#
# 1. weight decay — **Adam** (L2): $g \leftarrow g + \lambda p$; **AdamW** (decoupled):
#    $p \leftarrow p\,(1 - \eta\lambda)$, *before* the rest of the step and leaving $g$ alone;
# 2. $m \leftarrow \beta_1 m + (1 - \beta_1)\, g$ and $v \leftarrow \beta_2 v + (1 - \beta_2)\, g^2$;
# 3. $p \leftarrow p - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)$ with the bias corrections
#    $\hat m = m / (1 - \beta_1^t)$, $\hat v = v / (1 - \beta_2^t)$.
#
# PyTorch evaluates step 3 as $p \leftarrow p - \dfrac{\eta}{1 - \beta_1^t} \cdot
# \dfrac{m}{\sqrt{v} / \sqrt{1 - \beta_2^t} + \epsilon}$: the two scalar factors are computed once in float64 and the
# arrays never hold $\hat m$ or $\hat v$. Do the same: compute the scalars with Python floats, turn them into
# `np.float32`, and keep the arrays float32 (PyTorch writes step 2's $m$ update as `m.lerp_(g, 1 - β1)`, that is
# $m + (1 - \beta_1)(g - m)$; either form is fine here). Write `adam_step` returning `(new_p, new_m, new_v)`.
#
# The check runs 30 steps for five settings (Adam and AdamW, various $\eta$, betas, $\epsilon$ and $\lambda$) on
# gradients whose sizes span four orders of magnitude, and compares `p`, `m` and `v` after every step with the
# package's `adam` (to a few float32 ulps, scaled to each gradient's size) and, where PyTorch is installed, the end
# state with `torch.optim.Adam` / `AdamW`; it also checks float32 outputs and unchanged inputs.


# %%
def adam_step(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step ``t`` (1, 2, ...) of Adam (``decoupled=False``) or AdamW: returns ``(new_p, new_m, new_v)``."""
    ### BEGIN SOLUTION
    b1, b2 = betas
    if weight_decay != 0:
        if decoupled:
            p = p * np.float32(1 - lr * weight_decay)
        else:
            g = g + np.float32(weight_decay) * p
    m = m + np.float32(1 - b1) * (g - m)
    v = np.float32(b2) * v + np.float32(1 - b2) * g * g
    step_size = np.float32(lr / (1 - b1**t))
    denom = np.sqrt(v) / np.float32(math.sqrt(1 - b2**t)) + np.float32(eps)
    return p - step_size * m / denom, m, v
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def assert_close(got: np.ndarray, want: np.ndarray, tol: np.ndarray, what: str) -> None:
    bad = ~(np.abs(got.astype(np.float64) - want) <= tol)  # NaN counts as bad
    if bad.any():
        i = np.argmax(bad)
        raise AssertionError(f"{what}: {bad.sum()} of {bad.size} differ, e.g. {got.flat[i]!r} vs {want.flat[i]!r}")


def adam_oracle(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step ``t`` of the package's ``adam`` from the moments ``m`` and ``v``."""
    opt = adam(lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled=decoupled)
    state = opt.init({"w": p})._replace(step=t - 1, mu={"w": m}, nu={"w": v})
    updates, state = opt.update({"w": g}, state, {"w": p})
    return apply_updates({"w": p}, updates)["w"], state.mu["w"], state.nu["w"]


def test_adam_step(answers) -> None:
    rng = np.random.default_rng(42)
    cases = [  # lr, betas, eps, weight_decay, decoupled
        (1e-3, (0.9, 0.999), 1e-8, 0.0, False),
        (1e-2, (0.8, 0.99), 1e-6, 0.1, False),
        (1e-2, (0.9, 0.999), 1e-8, 0.05, True),
        (3e-4, (0.95, 0.98), 1e-7, 1e-2, True),
        (0.1, (0.6, 0.9), 1e-3, 0.5, True),
    ]
    for lr, betas, eps, wd, decoupled in cases:
        what = f"lr={lr}, betas={betas}, eps={eps}, weight_decay={wd}, decoupled={decoupled}"
        settings = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": wd, "decoupled": decoupled}
        p0 = rng.standard_normal((6, 4)).astype(np.float32)
        scales = np.float32(10.0) ** rng.uniform(-3, 1, (6, 4)).astype(np.float32)  # gradients of very different size
        grads = [(rng.standard_normal((6, 4)) * scales).astype(np.float32) for _ in range(30)]
        zeros = np.zeros_like(p0)
        # step 1 from m = v = 0, where every way of writing the formulas agrees to float32 rounding: compared with the
        # reference to rtol 1e-4, which also checks float32 results and unchanged inputs
        answers.call("adam_step", p0, grads[0], zeros, zeros, 1, compare=close(rtol=1e-4, atol=1e-6), **settings)
        p, m, v = p0, zeros, zeros
        for step, g in enumerate(grads):
            (p, m, v), (want_p, want_m, want_v) = answers.both("adam_step", p, g, m, v, step + 1, **settings)
            assert p.dtype == m.dtype == v.dtype == np.float32, f"return float32 arrays, got {p.dtype}, {m.dtype}"
            at = f"{what}: after step {step + 1}"
            # tolerances scale with each gradient's size: m averages gradients of both signs and can nearly cancel,
            # and b1 * m + (1 - b1) * g rounds differently from torch's lerp by an ulp or two
            assert_close(m, want_m, 1e-5 * np.abs(want_m) + 1e-5 * scales, f"m, {at}")
            assert_close(v, want_v, 1e-5 * want_v + 1e-6 * scales**2, f"v, {at}")
            assert_close(p, want_p, 1e-5 * np.abs(want_p) + 1e-6, f"p, {at}")  # a few float32 ulps of 1
        if torch is not None:
            param = torch.tensor(p0, requires_grad=True)
            cls = torch.optim.AdamW if decoupled else torch.optim.Adam
            opt_t = cls([param], lr=lr, betas=betas, eps=eps, weight_decay=wd, foreach=False)
            for g in grads:
                param.grad = torch.from_numpy(g.copy())
                opt_t.step()
            want_p = param.detach().numpy()
            assert_close(p, want_p, 1e-5 * np.abs(want_p) + 1e-6, f"{what}: differs from torch.optim.{cls.__name__}")


check("optim.adam_step", test_adam_step, points=3,
      hint="decay first (L2: g += wd p; AdamW: p *= 1-lr wd); p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)",
      oracles={"adam_step": adam_oracle})  # fmt: skip

# %% [markdown]
# ## Task 3 · Adam + L2 is not AdamW
#
# Take a weight whose loss gradient is zero, so weight decay alone moves it, and look at where it is after $n$ steps
# (from $m = v = 0$, constant $\eta$ and $\lambda$):
#
# - **AdamW** never lets the decay into $m$ and $v$: they stay 0, the Adam step is $0 / (0 + \epsilon) = 0$, and each
#   step only multiplies the weight by $1 - \eta\lambda$.
# - **Adam + L2** feeds $g = \lambda p$ into $m$ and $v$. Adam divides by the gradient's own size: while
#   $\lambda |p| \gg \epsilon$ and $p$ changes little from one step to the next, $\hat m \approx \lambda p$ and
#   $\sqrt{\hat v} \approx \lambda |p|$, so the step is $\eta\,\mathrm{sign}(p)$ — from the very first step, where the
#   bias corrections make it exact. $\lambda$ cancels.
#
# Write `decay_only(p0, n, lr=..., weight_decay=..., decoupled=...)` returning your prediction of the weights after
# $n$ such steps (float64 is fine). The check runs the package's optimizers for $n = 50$ steps with zero loss
# gradients, four settings of $\eta$ and $\lambda$, on 200 weights that change by at most 10% in those steps, and
# compares your shape and values with theirs: AdamW to a relative $10^{-5}$ (float32 rounding), Adam + L2 to within 5%
# of the distance moved ($v$ remembers the slightly larger earlier weights, so the true steps are a little shorter
# than $\eta$).


# %%
def decay_only(p0: np.ndarray, n: int, *, lr: float, weight_decay: float, decoupled: bool) -> np.ndarray:
    """Predicted weights after ``n`` Adam (L2) or AdamW steps in which the loss gradient is zero."""
    ### BEGIN SOLUTION
    p0 = np.asarray(p0, dtype=np.float64)
    if decoupled:
        return p0 * (1 - lr * weight_decay) ** n
    return p0 - n * lr * np.sign(p0)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def decay_only_oracle(p0: np.ndarray, n: int, *, lr: float, weight_decay: float, decoupled: bool) -> np.ndarray:
    """Where the package's ``adam`` takes float32 ``p0`` in ``n`` steps of zero loss gradient."""
    return run_package(adam(lr, weight_decay=weight_decay, decoupled=decoupled), p0, [np.zeros_like(p0)] * n)[-1][0]


def test_decay_only(answers) -> None:
    rng = np.random.default_rng(43)
    p0 = (rng.uniform(1.0, 3.0, 200) * rng.choice([-1, 1], 200)).astype(np.float32)
    zeros = [np.zeros_like(p0)] * 50  # at most 50 * 2e-3 = 0.1 of movement: p changes by at most 10%
    for lr, wd in [(1e-3, 1e-4), (1e-3, 0.1), (2e-3, 1e-2), (2e-3, 1.0)]:
        for decoupled in (False, True):
            what = f"lr={lr}, weight_decay={wd}, decoupled={decoupled}"
            # your prediction, judged against the optimizer itself (run here), not against another prediction
            got, _ = answers.both("decay_only", p0, len(zeros), lr=lr, weight_decay=wd, decoupled=decoupled)
            want = run_package(adam(lr, weight_decay=wd, decoupled=decoupled), p0, zeros)[-1][0]
            assert np.shape(got) == p0.shape, f"{what}: shape {np.shape(got)}, expected {p0.shape}"
            moved = np.abs(want.astype(np.float64) - p0)
            tol = 1e-5 * np.abs(p0) if decoupled else 0.05 * moved  # Adam + L2: first-order picture, within 5%
            bad = np.abs(got - want) > tol
            assert not bad.any(), f"{what}: p0={p0[bad][0]} -> {got[bad][0]}, the optimizer gives {want[bad][0]}"


check("optim.decay_only", test_decay_only, points=2,
      hint="AdamW: p0 (1 - lr wd)^n; Adam + L2: L2 gradient normalised, each step moves lr towards 0",
      oracles={"decay_only": decay_only_oracle})  # fmt: skip

# %% [markdown]
# **Which weights does each one decay?** In real training the loss gradient is not zero. Say in two sentences which
# weights Adam + L2 shrinks strongly and which hardly at all, and how AdamW differs. (not graded; compare with the
# solution)
#
# ### BEGIN SOLUTION
# Adam + L2 divides the decay term $\lambda p$ by $\sqrt{\hat v}$, the size of the *whole* gradient, so weights with
# large or noisy loss gradients are barely decayed while weights with tiny gradients are decayed hard (up to $\eta$ per
# step, whatever $\lambda$). AdamW shrinks every weight by the same factor $1 - \eta\lambda$ per step, independent of
# its gradient history, so $\lambda$ means the same thing for every weight and is tuned separately from $\eta$'s
# normalised step.
# ### END SOLUTION
