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
# # Exercises 5 · Regularizers from scratch
#
# Three tasks, each checked against the course package (`odyssey_lessons.nn` and `odyssey_lessons.train`) and, where
# it is installed, against PyTorch itself:
#
# 1. **`dropout_forward`** / **`dropout_backward`**: inverted dropout, with the same random mask as `nn.Dropout`.
# 2. **`smoothed_cross_entropy`**: cross-entropy against label-smoothed targets and its gradient, stable for huge
#    logits, as `torch.nn.functional.cross_entropy(..., label_smoothing=eps)` computes it.
# 3. **`EarlyStopper`**: early stopping on the validation loss that remembers a copy of the best weights, stopping on
#    the same epoch as `train.EarlyStopping`.
#
# Every function returns new arrays (it must not modify its inputs). Write your code in place of the
# `raise NotImplementedError(...)` lines, run the cell, then run the check cell below it. A check prints `[PASS] ...`
# or `[FAIL] ...` with a hint. Before you run anything, each check cell shows the output a correct answer prints: that
# is what your run is compared with. To score the whole notebook, save it and run
# `odyssey check exercises/05_regularization.ipynb` in a terminal.

# %%
import numpy as np

from odyssey_lessons.data import digits_task
from odyssey_lessons.grading import Rng, check, close
from odyssey_lessons.nn import Dropout, mlp, softmax_cross_entropy
from odyssey_lessons.optim import adam
from odyssey_lessons.train import EarlyStopping, fit

try:  # PyTorch is an optional second oracle
    import torch
except ImportError:
    torch = None

# %% [markdown]
# ## Task 1 · Inverted dropout, forward and backward
#
# In training, dropout zeroes each element of its input independently with probability $p$ and scales the survivors
# by $1/(1-p)$:
#
# $$m_i \sim \mathrm{Bernoulli}(1-p), \qquad s_i = \frac{m_i}{1-p}, \qquad y = x \odot s, \qquad
#   \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \odot s .$$
#
# Because $\mathbb{E}[s_i] = 1$, $\mathbb{E}[y] = x$: the expected activation is the same as without dropout, so at
# test time the layer is simply the identity. The backward pass needs the very mask the forward pass drew, so the
# forward returns it (already scaled) as `mask_scale`.
#
# Write `dropout_forward(x, p, rng)` returning `(y, mask_scale)` and `dropout_backward(grad_y, mask_scale)` returning
# the gradient with respect to `x`. Draw the mask exactly as `odyssey_lessons.nn.Dropout` does, so that the same
# generator gives the same mask: one uniform number per element, `keep = rng.random(x.shape) >= p` (kept with
# probability $1-p$), then `mask_scale = keep.astype(x.dtype) / x.dtype.type(1 - p)` and `y = x * mask_scale`. With
# $p = 0$ return `x` unchanged (and a scale of ones).
#
# The check compares your `y`, `mask_scale` and gradient exactly with `nn.Dropout`'s over three successive calls with
# the same generator (float32 and float64, four shapes and values of $p$; keep `x`'s dtype, return new arrays); it
# checks that `mask_scale` holds only 0 and $1/(1-p)$, that the mean of 4,000 draws stays within 5 standard errors of
# `x` and the dropped share within 5 standard errors of $p$, that $p = 0$ passes `x` and the gradient through
# unchanged, and your backward against finite differences of $\sum w \odot y$ for a fixed mask.


# %%
def dropout_forward(x: np.ndarray, p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout in training: returns ``(y, mask_scale)`` with ``y = x * mask_scale``."""
    ### BEGIN SOLUTION
    if p == 0:
        return x.copy(), np.ones_like(x)
    keep = rng.random(x.shape) >= p
    mask_scale = keep.astype(x.dtype) / x.dtype.type(1 - p)
    return x * mask_scale, mask_scale
    ### END SOLUTION


def dropout_backward(grad_y: np.ndarray, mask_scale: np.ndarray) -> np.ndarray:
    """Gradient of inverted dropout with respect to its input, given the forward pass's ``mask_scale``."""
    ### BEGIN SOLUTION
    return grad_y * mask_scale
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def dropout_forward_oracle(x: np.ndarray, p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``nn.Dropout``'s training forward drawing from ``rng``; its scale is the backward of a gradient of ones."""
    layer = Dropout(p, rng=rng)
    y = layer.forward(x, training=True)
    return y, layer.backward(np.ones_like(x))


def dropout_backward_oracle(grad_y: np.ndarray, mask_scale: np.ndarray) -> np.ndarray:
    """What ``Dropout.backward`` computes: the upstream gradient times the forward pass's scale."""
    return grad_y * mask_scale


def test_dropout(answers) -> None:
    rng = np.random.default_rng(51)
    # (a) the same generator state gives the package's mask, output and gradient, call after call
    for p, dtype, shape, seed in [(0.5, np.float32, (8, 16), 0), (0.1, np.float64, (5, 7, 3), 1),
                                  (0.9, np.float32, (200,), 2), (0.25, np.float64, (4, 2, 3, 3), 3)]:  # fmt: skip
        what = f"p={p}, dtype={np.dtype(dtype).name}, shape={shape}"
        # one generator on each side, kept there across the three calls: the one of a Dropout(p, rng=default_rng(seed))
        generator = answers.call("odyssey_lessons.nn:Dropout", p, rng=Rng(seed)).get("rng")
        for call in range(3):
            x = rng.standard_normal(shape).astype(dtype)
            grad_y = rng.standard_normal(shape).astype(dtype)
            try:  # y, mask_scale and grad_x exactly as nn.Dropout's, in x's dtype; x and grad_y unchanged
                y, mask_scale = answers.dropout_forward(x, p, generator)
                answers.dropout_backward(grad_y, mask_scale)
            except AssertionError as exc:
                raise AssertionError(f"call {call + 1} with the same generator: {exc}") from None
            assert set(np.unique(mask_scale)) <= {0, dtype(1) / dtype(1 - p)}, f"{what}: mask_scale not 0 or 1/(1-p)"
    # (b) E[y] = x: the mean of n draws lies within 5 standard errors, |x| sqrt(p / ((1 - p) n)), of x
    n = 4000  # draws of 10 values: the test is as strict for any number of values, and each draw travels as data
    x = rng.uniform(0.5, 2.0, 10) * rng.choice([-1.0, 1.0], 10)
    for p in (0.1, 0.5, 0.8):
        y, _ = answers.dropout_forward(np.tile(x, (n, 1)), p, Rng(7))
        se = np.abs(x) * np.sqrt(p / ((1 - p) * n))
        worst = np.argmax(np.abs(y.mean(axis=0) - x) / se)
        assert np.all(np.abs(y.mean(axis=0) - x) <= 5 * se), (
            f"p={p}: mean of {n} draws is {y.mean(axis=0)[worst]:.4f} for x={x[worst]:.4f} (standard error "
            f"{se[worst]:.4f}): the expectation is not preserved"
        )
        dropped = np.mean(y == 0)
        assert abs(dropped - p) <= 5 * np.sqrt(p * (1 - p) / y.size), f"p={p}: dropped a share {dropped:.4f}"
    # (c) p = 0 is the identity; the backward is the derivative of sum(w * y) for a fixed mask
    x = rng.standard_normal((6, 5))
    y, mask_scale = answers.dropout_forward(x, 0.0, Rng(8))
    np.testing.assert_array_equal(y, x, err_msg="p=0 must return x unchanged")
    grad_x = answers.dropout_backward(x, mask_scale)
    np.testing.assert_array_equal(grad_x, x, err_msg="p=0: the gradient must pass unchanged")
    w, h = rng.standard_normal((6, 5)), 1e-4

    def objective(x: np.ndarray) -> float:  # Rng(9): a fresh generator of the same seed draws the same mask each time
        return float(np.sum(w * answers.dropout_forward(x, 0.3, Rng(9))[0]))

    _, mask_scale = answers.dropout_forward(x, 0.3, Rng(9))
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        numeric[i] = (objective(x + step) - objective(x - step)) / (2 * h)
    np.testing.assert_allclose(answers.dropout_backward(w, mask_scale), numeric, rtol=1e-6, atol=1e-8,
                               err_msg="backward differs from finite differences of sum(w * y)")  # fmt: skip


check("nn.dropout", test_dropout, points=3,
      hint="keep = rng.random(x.shape) >= p; s = keep / (1 - p) in x's dtype; y = x * s; dx = dy * s",
      oracles={"dropout_forward": dropout_forward_oracle, "dropout_backward": dropout_backward_oracle})  # fmt: skip

# %% [markdown]
# ## Task 2 · Label-smoothed cross-entropy
#
# With $K$ classes and smoothing $\varepsilon$, PyTorch's `cross_entropy(..., label_smoothing=ε)` trains every row
# $n$ of the logits $z$ towards the target
#
# $$t_{n} = (1 - \varepsilon)\,\mathrm{onehot}(y_n) + \frac{\varepsilon}{K}$$
#
# (the true class gets $1 - \varepsilon + \varepsilon/K$, every other class $\varepsilon/K$; the targets still sum
# to 1). The loss and its gradient, averaged over the $N$ rows, are
#
# $$\mathcal{L} = -\frac{1}{N} \sum_{n} \sum_{k} t_{nk} \log p_{nk}, \qquad
#   \frac{\partial \mathcal{L}}{\partial z_{nk}} = \frac{p_{nk} - t_{nk}}{N}, \qquad p_n = \mathrm{softmax}(z_n).$$
#
# Compute $\log p$ stably with the log-sum-exp trick, subtracting each row's maximum first:
# $\log p_{nk} = z_{nk} - m_n - \log \sum_j e^{z_{nj} - m_n}$ with $m_n = \max_j z_{nj}$. Then no exponential
# overflows, even for logits of $10^4$. Write `smoothed_cross_entropy(logits, labels, eps)` returning
# `(loss, grad)`: the loss a Python float, the gradient shaped and typed like `logits` (float32 or float64).
#
# The check runs seven cases ($\varepsilon$ from 0 to 1, 3 to 10 classes, logits up to $10^4$, float32 and float64)
# and compares the loss and gradient with `nn.softmax_cross_entropy` (relative tolerance 1e-10 in float64, 1e-5 in
# float32) and, where PyTorch is installed, with `cross_entropy(..., label_smoothing=ε)` and its autograd; it also
# checks that both are finite, the gradient's shape and dtype, and that your inputs are unchanged.


# %%
def smoothed_cross_entropy(logits: np.ndarray, labels: np.ndarray, eps: float) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``softmax(logits)`` against ``(1 - eps) * onehot(labels) + eps / K``, and its gradient."""
    ### BEGIN SOLUTION
    n, k = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    log_p = shifted - np.log(sum_exp)
    target = np.full_like(logits, eps / k)
    target[np.arange(n), labels] += 1 - eps
    loss = -float((target * log_p).sum()) / n
    return loss, (exp / sum_exp - target) / logits.dtype.type(n)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def smoothed_cross_entropy_oracle(logits: np.ndarray, labels: np.ndarray, eps: float) -> tuple[float, np.ndarray]:
    """The package's loss and gradient: ``nn.softmax_cross_entropy`` with ``label_smoothing=eps``."""
    return softmax_cross_entropy(logits, labels, label_smoothing=eps)


def test_smoothed_cross_entropy(answers) -> None:
    rng = np.random.default_rng(52)
    cases = [  # N, K, eps, logit scale, dtype
        (16, 10, 0.0, 3.0, np.float64),
        (16, 10, 0.1, 3.0, np.float64),
        (7, 3, 0.5, 1.0, np.float64),
        (9, 5, 1.0, 2.0, np.float64),
        (32, 10, 0.2, 4.0, np.float32),
        (12, 10, 0.1, 1e4, np.float64),  # huge logits: a naive exp overflows
        (12, 4, 0.3, 1e4, np.float32),
    ]
    for n, k, eps, scale, dtype in cases:
        what = f"N={n}, K={k}, eps={eps}, logits ~ {scale:g}, {np.dtype(dtype).name}"
        logits = (scale * rng.standard_normal((n, k))).astype(dtype)
        labels = rng.integers(0, k, n)
        rtol, atol = (1e-10, 1e-13) if dtype == np.float64 else (1e-5, 1e-7)
        # loss and gradient as nn computes them (the gradient shaped and typed like logits); inputs unchanged
        loss, grad = answers.call("smoothed_cross_entropy", logits, labels, eps, compare=close(rtol=rtol, atol=atol))
        assert np.isfinite(loss) and np.all(np.isfinite(grad)), f"{what}: loss {loss} or its gradient is not finite"
        if torch is not None:
            z = torch.tensor(logits.astype(np.float64), requires_grad=True)
            torch_loss = torch.nn.functional.cross_entropy(z, torch.from_numpy(labels), label_smoothing=eps)
            torch_loss.backward()
            np.testing.assert_allclose(float(loss), torch_loss.item(), rtol=max(rtol, 1e-9),
                                       err_msg=f"{what}: loss differs from torch")  # fmt: skip
            np.testing.assert_allclose(grad, z.grad.numpy(), rtol=max(rtol, 1e-9), atol=atol,
                                       err_msg=f"{what}: gradient differs from torch autograd")  # fmt: skip


check("nn.smoothed_cross_entropy", test_smoothed_cross_entropy, points=3,
      hint="t = (1-eps) onehot + eps/K; log p = z - max - log(sum exp(z - max)); grad = (softmax - t) / N",
      oracles={"smoothed_cross_entropy": smoothed_cross_entropy_oracle})  # fmt: skip

# %% [markdown]
# ## Task 3 · Early stopping that keeps the best weights
#
# Early stopping watches the validation loss after every epoch and keeps the best value seen, `best`. With Keras's
# rule (which `odyssey_lessons.train.EarlyStopping` follows), epoch $e$ **improves** when
#
# $$\text{val\_loss}_e < \text{best} - \text{min\_delta}$$
#
# (the first epoch always improves; a tie is not an improvement). An improving epoch becomes the best epoch and
# resets the count of bad epochs; every other epoch adds one, and when the count reaches `patience` training stops.
# The weights of the best epoch are kept so training can end with them rather than with the last (overfitted) ones.
# A training loop updates its weight arrays *in place*, so keep **copies**: a dict that merely points at the caller's
# arrays would silently follow them.
#
# Write the class `EarlyStopper(patience, min_delta)`: `step(epoch, val_loss, params)` records epoch `epoch`
# (1-based) and returns True when training should stop; the attributes `best_epoch` and `best_params` (a dict of
# copied arrays) hold the best epoch and its weights (`None` before the first step).
#
# The check replays seven scripted and noisy validation-loss sequences (ties, `min_delta`, a run that never stops)
# through your stopper and through `train.EarlyStopping` and compares what `step` returns every epoch (so the epoch
# it stops after), `best_epoch` and `best_params`, once with new weights each epoch and once as a training loop does
# it, with weights updated in place (`grading.fixtures.replay_in_place`), so a stopper that keeps references instead
# of copies is seen; it checks that `best_epoch` and `best_params` are `None` before the first step; and it runs
# `fit(...)` with early stopping on a small overfitting run and checks your stopper stops after the same epoch, with
# the same best epoch, on that run's validation losses.


# %%
class EarlyStopper:
    """Stop after ``patience`` epochs whose ``val_loss`` is not below ``best - min_delta``; keep the best weights."""

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        ### BEGIN SOLUTION
        self.patience, self.min_delta = patience, min_delta
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_params: dict[str, np.ndarray] | None = None
        self.bad_epochs = 0
        ### END SOLUTION

    def step(self, epoch: int, val_loss: float, params: dict[str, np.ndarray]) -> bool:
        """Record epoch ``epoch``; True when training should stop."""
        ### BEGIN SOLUTION
        if self.best is None or val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = val_loss, epoch, 0
            self.best_params = {name: value.copy() for name, value in params.items()}
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.patience
        ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
class EarlyStoppingOracle:
    """``train.EarlyStopping`` monitoring ``val_loss``, behind the exercise's ``step(epoch, val_loss, params)``."""

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.stopping = EarlyStopping(patience=patience, min_delta=min_delta, monitor="val_loss")

    def step(self, epoch: int, val_loss: float, params: dict[str, np.ndarray]) -> bool:
        return self.stopping.step(epoch, {"val_loss": val_loss}, params)

    @property
    def best_epoch(self) -> int | None:
        return self.stopping.best_epoch

    @property
    def best_params(self) -> dict[str, np.ndarray] | None:
        return self.stopping.best_params


def replay(answers, losses: list[float], patience: int, min_delta: float) -> None:
    """Step your stopper and the package's through ``losses``, as a training loop does: one dict of weights updated
    in place every epoch (the weights of epoch e: w = e, b = -e). Compares what ``step`` returns every epoch on fresh
    weights, then the epoch each stops after, ``best_epoch`` and ``best_params`` of the in-place run."""
    where = f"(patience={patience}, min_delta={min_delta}, val_loss={np.round(losses, 3).tolist()})"
    try:
        stopper = answers.EarlyStopper(patience=patience, min_delta=min_delta)
        for epoch, loss in enumerate(losses, start=1):
            params = {"w": np.full(3, epoch, np.float32), "b": np.full(1, -epoch, np.float32)}
            if stopper.step(epoch, float(loss), params):
                break
        stopper.get("best_epoch")
        stopper.get("best_params")  # the weights of the best epoch
    except AssertionError as exc:
        raise AssertionError(f"{exc} {where}") from None
    in_place = answers.EarlyStopper(patience=patience, min_delta=min_delta)
    try:
        answers.call("odyssey_lessons.grading.fixtures:replay_in_place", in_place, [float(v) for v in losses])
    except AssertionError as exc:
        raise AssertionError(f"{exc} {where}, weights updated in place: keep copies of them") from None


def test_early_stopper(answers) -> None:
    rng = np.random.default_rng(53)
    noisy = 1 / np.arange(1, 31) + 0.01 * np.arange(30) / 30 + 0.02 * rng.standard_normal(30)  # falls, then rises
    sequences = [  # losses, patience, min_delta (the scripted values are exact in binary)
        ([1.0, 0.5, 0.5, 0.5, 0.25], 2, 0.0),  # ties are not improvements
        ([1.0, 0.75, 0.5, 0.625, 0.5, 0.375, 0.5, 0.5, 0.5, 0.5], 3, 0.0),
        ([1.0, 0.875, 0.75, 0.6875, 0.625, 0.59375, 0.5625], 2, 0.125),  # exactly best - min_delta does not count
        ([1.0, 0.9, 0.8, 0.7, 0.6, 0.5], 1, 0.0),  # always improving: never stops
        ([3.0, 2.0, 2.5, 1.0, 1.5, 1.25, 1.125, 1.0625], 4, 0.0),
        (list(noisy), 4, 0.0),
        (list(noisy), 3, 0.01),
    ]
    for losses, patience, min_delta in sequences:
        replay(answers, losses, patience, min_delta)
    # best_epoch and best_params start as None; the first step keeps its weights
    stopper = answers.EarlyStopper(patience=2, min_delta=0.0)
    assert stopper.get("best_epoch") is None and stopper.get("best_params") is None, "they start as None"
    stopper.step(1, 0.5, {"w": np.arange(4.0)})
    stopper.get("best_params")
    # integration: a small overfitting run; the same seed gives the same first epochs with and without stopping
    task = digits_task("mlp")
    train = (task.train[0][:128], task.train[1][:128])

    def run(early_stopping):
        model = mlp((64, 64, 10), rng=np.random.default_rng(0))
        return fit(model, train, optimizer=adam(0.02), epochs=40, batch_size=16, val=task.val,
                   early_stopping=early_stopping)  # fmt: skip

    val_losses = run(None).epoch["val_loss"]
    for patience, min_delta in [(1, 0.0), (3, 0.01)]:
        history = run(EarlyStopping(patience=patience, min_delta=min_delta, monitor="val_loss"))
        stopper = answers.EarlyStopper(patience=patience, min_delta=min_delta)
        mine = next((e for e, v in enumerate(val_losses, start=1) if stopper.step(e, float(v), {})), None)
        best = stopper.get("best_epoch")
        assert (mine, best) == (history.stopped_epoch, history.best_epoch), (
            f"fit(..., patience={patience}, min_delta={min_delta}) stopped after epoch {history.stopped_epoch} "
            f"(best {history.best_epoch}); on its val_loss your stopper stops after {mine} (best {best})"
        )


check("train.early_stopper", test_early_stopper, points=3,
      hint="improve if val_loss < best - min_delta (epoch 1 always); stop at patience bad epochs; copy",
      oracles={"EarlyStopper": EarlyStoppingOracle})  # fmt: skip

# %% [markdown]
# **Why scale at training time?** The original dropout paper kept the survivors unscaled in training and multiplied
# the weights by $1-p$ at test time instead. Say in two or three sentences why libraries scale by $1/(1-p)$ during
# training instead. (not graded; compare with the solution)
#
# ### BEGIN SOLUTION
# Both give the same expected activations, but inverted dropout puts all the work in the training forward pass, so
# the deployed model is just the network with dropout layers removed: inference code needs no knowledge of $p$, no
# rescaled copy of the weights, and cannot forget the rescaling. It also keeps $p$ a pure training hyperparameter:
# changing it (even during training, or per layer) never changes how a saved model must be evaluated. The price is a
# noisier training signal of slightly larger magnitude, which the optimizer sees anyway.
# ### END SOLUTION
