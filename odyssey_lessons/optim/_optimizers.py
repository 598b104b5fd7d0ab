"""The optimizers of ``torch.optim`` (and Lion) as pure ``init``/``update`` pairs backed by fused numba kernels.

Each optimizer here is its rule: the checks of its hyperparameters, its state, and a ``plan(state)`` that picks its
kernel and computes the step's scalars (learning rate, bias corrections) once, in double precision, into the
kernel's hyperparameter vector (layout: the ``_kernels`` constants). How the kernel then runs over the parameter
arrays -- pure update into recycled memory, or the fused in-place ``step`` -- is shared, in
:mod:`odyssey_lessons.optim._fused`.

The same rules, written as chains of small transforms, are in :mod:`odyssey_lessons.optim._transforms`; the tests
check that both agree with each other, with slow reference implementations and with ``torch.optim``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from odyssey_lessons._validate import check_bool, check_fraction, check_nonnegative, check_positive
from odyssey_lessons.optim import _kernels as K
from odyssey_lessons.optim._base import GradientTransformation, Params, Schedule, full_like, lr_at
from odyssey_lessons.optim._checks import check_betas, check_lr
from odyssey_lessons.optim._fused import KernelCall, hyperparams, transformation


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
        return SgdState(0, full_like(params) if momentum else {})

    def plan(state: SgdState) -> KernelCall:
        h = hyperparams(
            K.SGD_N,
            {
                K.SGD_LR: lr_at(lr, state.step),
                K.SGD_WD: weight_decay,
                K.SGD_MOMENTUM: momentum,
                K.SGD_NESTEROV: float(nesterov),
            },
        )
        if momentum:
            return K.sgd_momentum_kernel, h, {"momentum": state.momentum}
        return K.sgd_kernel, h, {}

    return transformation(init, plan, lr, needs_params=weight_decay != 0)


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
        return AdamState(0, full_like(params), full_like(params))

    def plan(state: AdamState) -> KernelCall:
        t = state.step + 1
        rate = lr_at(lr, state.step)
        h = hyperparams(
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
        return K.adam_kernel, h, {"mu": state.mu, "nu": state.nu}

    return transformation(init, plan, lr, needs_params=weight_decay != 0)


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
        return AdagradState(0, full_like(params, initial_accumulator_value))

    def plan(state: AdagradState) -> KernelCall:
        clr = lr_at(lr, state.step) / (1.0 + state.step * lr_decay)
        h = hyperparams(K.ADAGRAD_N, {K.ADAGRAD_CLR: clr, K.ADAGRAD_WD: weight_decay, K.ADAGRAD_EPS: eps})
        return K.adagrad_kernel, h, {"sum": state.sum}

    return transformation(init, plan, lr, needs_params=weight_decay != 0)


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
            0, full_like(params), full_like(params) if centered else {}, full_like(params) if momentum else {}
        )

    def plan(state: RmspropState) -> KernelCall:
        h = hyperparams(
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
        arrays = {
            "square_avg": state.square_avg,
            "grad_avg": state.grad_avg if centered else None,
            "momentum": state.momentum if momentum else None,
        }
        return K.rmsprop_kernel, h, arrays

    return transformation(init, plan, lr, needs_params=weight_decay != 0)


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
        return LionState(0, full_like(params))

    def plan(state: LionState) -> KernelCall:
        h = hyperparams(
            K.LION_N, {K.LION_LR: lr_at(lr, state.step), K.LION_B1: b1, K.LION_B2: b2, K.LION_WD: weight_decay}
        )
        return K.lion_kernel, h, {"mu": state.mu}

    return transformation(init, plan, lr, needs_params=weight_decay != 0)


OPTIMIZERS: dict[str, Callable[..., GradientTransformation]] = {
    "sgd": sgd,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
    "lion": lion,
}
"""Every optimizer by name (its factory, called with keyword hyperparameters; each has torch's default ``lr``)."""
