"""The optimizers of ``torch.optim`` (and Lion) as pure ``init``/``update`` pairs backed by fused numba kernels.

Each ``update`` validates its inputs, computes the step's scalars (learning rate, bias corrections) once into the
kernel's hyperparameter vector (layout: the ``_kernels`` constants), and then runs one kernel per parameter array that
reads ``p``, ``g`` and the old state and writes new state arrays and the update. The state passed in is never
modified: every update returns new state arrays (state in, new state out), so an old state can be kept, inspected or
replayed. "New" arrays reuse the memory of earlier outputs that nobody
references any more (:class:`~odyssey_lessons.optim._base.Recycler`): fresh memory would cost a page fault per
4 KiB page written, more than the update itself.

Beside it, each optimizer has the fused in-place ``step(params, grads, state)`` that ``torch.optim`` users know: the
same kernels add the update to the parameters and overwrite the state in one pass (see
:class:`~odyssey_lessons.optim.GradientTransformation`). Both come from one ``run(grads, state, params, fused)``.

The same rules, written as chains of small transforms, are in :mod:`odyssey_lessons.optim._transforms`; the tests
check that both agree with each other, with slow reference implementations and with ``torch.optim``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from odyssey_lessons._threads import threads_for
from odyssey_lessons._validate import check_bool, check_fraction, check_nonnegative, check_positive
from odyssey_lessons.optim import _kernels as K
from odyssey_lessons.optim._base import (
    GradientTransformation,
    Params,
    Recycler,
    Schedule,
    check_betas,
    check_lr,
    check_tree,
    lr_at,
)

_EMPTY = np.empty(0, np.float32)  # stands for a state array a configuration does not use


def _zeros_like(params: Params, value: float = 0.0) -> Params:
    return {k: np.full(np.shape(v), value, dtype=np.float32) for k, v in params.items()}


def _flat(x: np.ndarray) -> np.ndarray:
    """A flat, C-contiguous float32 view of ``x`` (a copy only when ``x`` is not already one)."""
    return np.ascontiguousarray(x, dtype=np.float32).reshape(-1)


def _prepare(
    grads: Params, params: Params | None, state_arrays: Params | None, needs_params: bool
) -> tuple[Params, Params]:
    """Check ``grads`` (and ``params``) against the state's keys and shapes; return ``(grads, params)`` where a
    missing ``params`` is replaced by the gradients (the kernels then never read them)."""
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict name -> array, got {type(grads).__name__}")
    if state_arrays:
        check_tree(grads, state_arrays, "grads", "the optimizer state")
    if params is None:
        if needs_params:
            raise ValueError("weight_decay needs params in update(grads, state, params)")
        return grads, grads
    check_tree(params, grads, "params", "grads")
    return grads, params


def _hyperparams(size: int, values: dict[int, float]) -> np.ndarray:
    """A kernel's hyperparameter vector: float64, ``size`` entries, ``values`` at their indices (``_kernels.*``).
    An entry left out stays NaN, which then shows in every result instead of passing for a number."""
    h = np.full(size, np.nan)
    for index, value in values.items():
        h[index] = value
    return h


def _writable_flat(x: np.ndarray, name: str) -> np.ndarray:
    """A flat view of ``x`` that the fused step writes through: ``x`` must be a writeable C-contiguous float32 array
    (a copy would silently leave the caller's array unchanged)."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32:
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"{name} must be a float32 numpy array for the in-place step, got {got}")
    if not (x.flags.c_contiguous and x.flags.writeable):
        raise ValueError(f"{name} must be C-contiguous and writeable for the in-place step (it is updated in place)")
    return x.reshape(-1)


def _state_in(x: np.ndarray, name: str, fused: bool) -> np.ndarray:
    """An old state array, flat; the fused step also writes the new state into it."""
    return _writable_flat(x, name) if fused else _flat(x)


def _state_out(out: Recycler, old: np.ndarray, fused: bool) -> np.ndarray:
    """Where the new state goes: the old array itself (fused step) or fresh recycled memory (pure update)."""
    return old if fused else out.empty(old.size)


def _shaped(u: np.ndarray, shape: tuple[int, ...], fused: bool) -> np.ndarray | None:
    """The update array in the parameter's shape; ``None`` for the fused step, which has no update array."""
    return None if fused else u.reshape(shape)


def _params_in(params: Params, name: str, fused: bool) -> np.ndarray:
    return _writable_flat(params[name], f"params[{name!r}]") if fused else _flat(params[name])


def _transformation(init: Callable, run: Callable, lr: float | Schedule) -> GradientTransformation:
    """The pure ``update`` and the fused in-place ``step`` of one optimizer, both from ``run(grads, state, params,
    fused) -> (updates, state)``."""

    def update(grads: Params, state: Any, params: Params | None = None) -> tuple[Params, Any]:
        return run(grads, state, params, False)

    def step(params: Params, grads: Params, state: Any) -> Any:
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict name -> array, got {type(params).__name__}")
        return run(grads, state, params, True)[1]

    return GradientTransformation(init, update, lr, step)


# ----- SGD --------------------------------------------------------------------------------------------------------
class SgdState(NamedTuple):
    step: int
    momentum: Params  # the momentum buffers b (empty when momentum == 0)


def sgd(
    lr: float | Schedule = 1e-3, *, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0
) -> GradientTransformation:
    """Stochastic gradient descent as ``torch.optim.SGD`` (dampening 0).

    ``g = grad + weight_decay * p``; with momentum ``b = momentum * b + g`` (``b = g`` on the first step);
    update ``-lr * b`` (Nesterov: ``-lr * (g + momentum * b)``); without momentum ``-lr * g``.

    Args:
        lr: Learning rate, or a schedule ``step -> lr`` (step 0 is the first update).
        momentum: Momentum factor in [0, 1).
        nesterov: Nesterov momentum (needs ``momentum > 0``).
        weight_decay: L2 penalty added to the gradient.

    Raises:
        ValueError: ``lr <= 0``, ``momentum`` outside [0, 1), ``weight_decay < 0``, or Nesterov without momentum.
        TypeError: ``nesterov`` is not a bool.
    """
    check_lr(lr)
    check_fraction("momentum", momentum)
    check_nonnegative("weight_decay", weight_decay)
    nesterov = check_bool("nesterov", nesterov)
    if nesterov and momentum == 0:
        raise ValueError(f"nesterov=True needs momentum > 0, got momentum={momentum!r}")

    def init(params: Params) -> SgdState:
        return SgdState(0, _zeros_like(params) if momentum else {})

    out = Recycler()

    def run(grads: Params, state: SgdState, params: Params | None, fused: bool) -> tuple[Params, SgdState]:
        out.resize((2 if momentum else 1) * len(grads))
        grads, params = _prepare(grads, params, state.momentum, weight_decay != 0)
        h = _hyperparams(
            K.SGD_N,
            {
                K.SGD_LR: lr_at(lr, state.step),
                K.SGD_WD: weight_decay,
                K.SGD_MOMENTUM: momentum,
                K.SGD_NESTEROV: float(nesterov),
            },
        )
        updates, buffers = {}, {}
        for name, g in grads.items():
            g, p = _flat(g), _params_in(params, name, fused)
            u = _EMPTY if fused else out.empty(g.size)
            with threads_for(g.size):
                if momentum:
                    b_old = _state_in(state.momentum[name], f"state.momentum[{name!r}]", fused)
                    b = _state_out(out, b_old, fused)
                    K.sgd_momentum_kernel(p, g, b_old, b, u, h, fused)
                    buffers[name] = b.reshape(np.shape(grads[name]))
                else:
                    K.sgd_kernel(p, g, u, h, fused)
            updates[name] = _shaped(u, np.shape(grads[name]), fused)
        return updates, SgdState(state.step + 1, buffers)

    return _transformation(init, run, lr)


# ----- Adam / AdamW -----------------------------------------------------------------------------------------------
class AdamState(NamedTuple):
    step: int
    mu: Params  # first moment m
    nu: Params  # second moment v


def adam(
    lr: float | Schedule = 1e-3,
    *,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> GradientTransformation:
    """Adam as ``torch.optim.Adam`` (``decoupled=True``: AdamW, ``torch.optim.AdamW``).

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``, update ``-lr * m_hat / (sqrt(v_hat) + eps)`` with
    ``m_hat = m / (1 - b1**t)``, ``v_hat = v / (1 - b2**t)`` (computed as torch does: ``-(lr / (1 - b1**t)) * m /
    (sqrt(v) / sqrt(1 - b2**t) + eps)``). ``weight_decay`` adds ``wd * p`` to the gradient (L2, Adam) or, decoupled,
    subtracts ``lr * wd * p`` from the parameter (AdamW).

    Raises:
        ValueError: ``lr <= 0``, betas outside [0, 1), ``eps <= 0`` or ``weight_decay < 0``.
        TypeError: ``decoupled`` is not a bool.
    """
    check_lr(lr)
    b1, b2 = check_betas(betas)
    check_positive("eps", eps)
    check_nonnegative("weight_decay", weight_decay)
    decoupled = check_bool("decoupled", decoupled)

    def init(params: Params) -> AdamState:
        return AdamState(0, _zeros_like(params), _zeros_like(params))

    out = Recycler()

    def run(grads: Params, state: AdamState, params: Params | None, fused: bool) -> tuple[Params, AdamState]:
        out.resize(3 * len(grads))
        grads, params = _prepare(grads, params, state.mu, weight_decay != 0)
        t = state.step + 1
        rate = lr_at(lr, state.step)
        h = _hyperparams(
            K.ADAM_N,
            {
                K.ADAM_C1: 1.0 - b1,
                K.ADAM_B2: b2,
                K.ADAM_C2: 1.0 - b2,
                K.ADAM_STEP_SIZE: rate / (1.0 - b1**t),
                K.ADAM_BC2_SQRT: math.sqrt(1.0 - b2**t),
                K.ADAM_EPS: eps,
                K.ADAM_WD: 0.0 if decoupled else weight_decay,
                K.ADAM_DECOUPLED_WD: rate * weight_decay if decoupled else 0.0,
            },
        )
        updates, mu, nu = {}, {}, {}
        for name, g in grads.items():
            shape = np.shape(g)
            g, p = _flat(g), _params_in(params, name, fused)
            m_old = _state_in(state.mu[name], f"state.mu[{name!r}]", fused)
            v_old = _state_in(state.nu[name], f"state.nu[{name!r}]", fused)
            m, v = _state_out(out, m_old, fused), _state_out(out, v_old, fused)
            u = _EMPTY if fused else out.empty(g.size)
            with threads_for(g.size):
                K.adam_kernel(p, g, m_old, v_old, m, v, u, h, fused)
            updates[name], mu[name], nu[name] = (
                _shaped(u, shape, fused),
                m.reshape(shape),
                v.reshape(shape),
            )
        return updates, AdamState(t, mu, nu)

    return _transformation(init, run, lr)


def adamw(
    lr: float | Schedule = 1e-3,
    *,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
) -> GradientTransformation:
    """AdamW: Adam with decoupled weight decay, as ``torch.optim.AdamW`` (default ``weight_decay=1e-2``).

    Update ``-lr * (m_hat / (sqrt(v_hat) + eps) + weight_decay * p)``.
    """
    return adam(lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled=True)


# ----- Adagrad ----------------------------------------------------------------------------------------------------
class AdagradState(NamedTuple):
    step: int
    sum: Params  # running sum of squared gradients s


def adagrad(
    lr: float | Schedule = 1e-2,
    *,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
) -> GradientTransformation:
    """Adagrad as ``torch.optim.Adagrad``.

    ``g = grad + weight_decay * p``, ``s = s + g**2``, update ``-clr * g / (sqrt(s) + eps)`` with
    ``clr = lr / (1 + (t - 1) * lr_decay)`` at update ``t = 1, 2, ...``; ``s`` starts at
    ``initial_accumulator_value``.

    Raises:
        ValueError: ``lr <= 0``, ``eps <= 0`` or a negative ``lr_decay``, ``weight_decay`` or
            ``initial_accumulator_value``.
    """
    check_lr(lr)
    check_nonnegative("lr_decay", lr_decay)
    check_nonnegative("weight_decay", weight_decay)
    check_nonnegative("initial_accumulator_value", initial_accumulator_value)
    check_positive("eps", eps)

    def init(params: Params) -> AdagradState:
        return AdagradState(0, _zeros_like(params, initial_accumulator_value))

    out = Recycler()

    def run(grads: Params, state: AdagradState, params: Params | None, fused: bool) -> tuple[Params, AdagradState]:
        out.resize(2 * len(grads))
        grads, params = _prepare(grads, params, state.sum, weight_decay != 0)
        clr = lr_at(lr, state.step) / (1.0 + state.step * lr_decay)
        h = _hyperparams(K.ADAGRAD_N, {K.ADAGRAD_CLR: clr, K.ADAGRAD_WD: weight_decay, K.ADAGRAD_EPS: eps})
        updates, sums = {}, {}
        for name, g in grads.items():
            shape = np.shape(g)
            g, p = _flat(g), _params_in(params, name, fused)
            s_old = _state_in(state.sum[name], f"state.sum[{name!r}]", fused)
            s, u = _state_out(out, s_old, fused), _EMPTY if fused else out.empty(g.size)
            with threads_for(g.size):
                K.adagrad_kernel(p, g, s_old, s, u, h, fused)
            updates[name], sums[name] = _shaped(u, shape, fused), s.reshape(shape)
        return updates, AdagradState(state.step + 1, sums)

    return _transformation(init, run, lr)


# ----- RMSprop ----------------------------------------------------------------------------------------------------
class RmspropState(NamedTuple):
    step: int
    square_avg: Params  # running average of g**2
    grad_avg: Params  # running average of g (empty unless centered)
    momentum: Params  # momentum buffers (empty unless momentum > 0)


def rmsprop(
    lr: float | Schedule = 1e-2,
    *,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> GradientTransformation:
    """RMSprop as ``torch.optim.RMSprop``.

    ``g = grad + weight_decay * p``, ``sq = alpha sq + (1 - alpha) g**2``; ``avg = sqrt(sq) + eps`` (eps added after
    the square root), or centered ``ga = alpha ga + (1 - alpha) g`` and ``avg = sqrt(sq - ga**2) + eps``. Update
    ``-lr * g / avg``, or with momentum ``b = momentum b + g / avg`` and update ``-lr * b``.

    Raises:
        ValueError: ``lr <= 0``, ``alpha`` or ``momentum`` outside [0, 1), ``eps <= 0`` or ``weight_decay < 0``.
        TypeError: ``centered`` is not a bool.
    """
    check_lr(lr)
    check_fraction("alpha", alpha)
    check_positive("eps", eps)
    check_nonnegative("weight_decay", weight_decay)
    check_fraction("momentum", momentum)
    centered = check_bool("centered", centered)

    def init(params: Params) -> RmspropState:
        return RmspropState(
            0, _zeros_like(params), _zeros_like(params) if centered else {}, _zeros_like(params) if momentum else {}
        )

    out = Recycler()

    def run(grads: Params, state: RmspropState, params: Params | None, fused: bool) -> tuple[Params, RmspropState]:
        out.resize((2 + bool(centered) + bool(momentum)) * len(grads))
        grads, params = _prepare(grads, params, state.square_avg, weight_decay != 0)
        h = _hyperparams(
            K.RMSPROP_N,
            {
                K.RMSPROP_LR: lr_at(lr, state.step),
                K.RMSPROP_ALPHA: alpha,
                K.RMSPROP_C: 1.0 - alpha,
                K.RMSPROP_EPS: eps,
                K.RMSPROP_WD: weight_decay,
                K.RMSPROP_MOMENTUM: momentum,
                K.RMSPROP_CENTERED: float(centered),
            },
        )
        updates, sq_avgs, g_avgs, bufs = {}, {}, {}, {}
        for name, g in grads.items():
            shape = np.shape(g)
            g, p = _flat(g), _params_in(params, name, fused)
            sq_old = _state_in(state.square_avg[name], f"state.square_avg[{name!r}]", fused)
            sq, u = _state_out(out, sq_old, fused), _EMPTY if fused else out.empty(g.size)
            ga_old = _state_in(state.grad_avg[name], f"state.grad_avg[{name!r}]", fused) if centered else _EMPTY
            ga = _state_out(out, ga_old, fused) if centered else _EMPTY
            b_old = _state_in(state.momentum[name], f"state.momentum[{name!r}]", fused) if momentum else _EMPTY
            b = _state_out(out, b_old, fused) if momentum else _EMPTY
            with threads_for(g.size):
                K.rmsprop_kernel(p, g, sq_old, ga_old, b_old, sq, ga, b, u, h, fused)
            updates[name], sq_avgs[name] = _shaped(u, shape, fused), sq.reshape(shape)
            if centered:
                g_avgs[name] = ga.reshape(shape)
            if momentum:
                bufs[name] = b.reshape(shape)
        return updates, RmspropState(state.step + 1, sq_avgs, g_avgs, bufs)

    return _transformation(init, run, lr)


# ----- Lion -------------------------------------------------------------------------------------------------------
class LionState(NamedTuple):
    step: int
    mu: Params  # momentum m


def lion(
    lr: float | Schedule = 1e-4, *, betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0
) -> GradientTransformation:
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"); torch.optim has no Lion.

    ``c = b1 m + (1 - b1) g``, update ``-lr * (sign(c) + weight_decay * p)`` (decoupled weight decay),
    then ``m = b2 m + (1 - b2) g``. Every coordinate moves by exactly ``lr`` (plus decay), so Lion wants a learning
    rate 3-10x smaller than AdamW's, and keeps one state array instead of two.

    Raises:
        ValueError: ``lr <= 0``, betas outside [0, 1) or ``weight_decay < 0``.
    """
    check_lr(lr)
    b1, b2 = check_betas(betas)
    check_nonnegative("weight_decay", weight_decay)

    def init(params: Params) -> LionState:
        return LionState(0, _zeros_like(params))

    out = Recycler()

    def run(grads: Params, state: LionState, params: Params | None, fused: bool) -> tuple[Params, LionState]:
        out.resize(2 * len(grads))
        grads, params = _prepare(grads, params, state.mu, weight_decay != 0)
        h = _hyperparams(
            K.LION_N, {K.LION_LR: lr_at(lr, state.step), K.LION_B1: b1, K.LION_B2: b2, K.LION_WD: weight_decay}
        )
        updates, mu = {}, {}
        for name, g in grads.items():
            shape = np.shape(g)
            g, p = _flat(g), _params_in(params, name, fused)
            m_old = _state_in(state.mu[name], f"state.mu[{name!r}]", fused)
            m, u = _state_out(out, m_old, fused), _EMPTY if fused else out.empty(g.size)
            with threads_for(g.size):
                K.lion_kernel(p, g, m_old, m, u, h, fused)
            updates[name], mu[name] = _shaped(u, shape, fused), m.reshape(shape)
        return updates, LionState(state.step + 1, mu)

    return _transformation(init, run, lr)


OPTIMIZERS: dict[str, Callable[..., GradientTransformation]] = {
    "sgd": sgd,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
    "lion": lion,
}
"""Every optimizer by name (its factory, called with keyword hyperparameters; each has torch's default ``lr``)."""
