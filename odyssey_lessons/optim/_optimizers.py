"""SGD (with momentum and Nesterov) and Adam, with PyTorch's update rules.

A minimal set for the training loop; the optimizers lesson adds the rest as composable transforms.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from odyssey_lessons.optim._base import GradientTransformation, Params, Schedule, check_lr, lr_at


def _zeros_like(params: Params) -> Params:
    return {k: np.zeros_like(v, dtype=np.float32) for k, v in params.items()}


class SgdState(NamedTuple):
    step: int
    momentum: Params  # the momentum buffers b (empty when momentum == 0)


def sgd(
    lr: float | Schedule, *, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0
) -> GradientTransformation:
    """Stochastic gradient descent as ``torch.optim.SGD``.

    ``g = grad + weight_decay * p``; with momentum ``b = momentum * b + g`` (``b = g`` on the first step);
    update ``-lr * b`` (Nesterov: ``-lr * (g + momentum * b)``); without momentum ``-lr * g``.

    Raises:
        ValueError: ``lr <= 0``, ``momentum`` outside [0, 1), ``weight_decay < 0``, or Nesterov without momentum.
    """
    check_lr(lr)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got momentum={momentum!r}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got weight_decay={weight_decay!r}")
    if nesterov and momentum == 0:
        raise ValueError("nesterov=True needs momentum > 0")

    def init(params: Params) -> SgdState:
        return SgdState(0, _zeros_like(params) if momentum else {})

    def update(grads: Params, state: SgdState, params: Params | None = None) -> tuple[Params, SgdState]:
        rate = np.float32(lr_at(lr, state.step))
        updates, buffers = {}, {}
        for name, g in grads.items():
            if weight_decay:
                if params is None:
                    raise ValueError("weight_decay needs params in update(grads, state, params)")
                g = g + np.float32(weight_decay) * params[name]
            if momentum:
                b = g.copy() if state.step == 0 else np.float32(momentum) * state.momentum[name] + g
                buffers[name] = b.astype(np.float32)
                g = g + np.float32(momentum) * b if nesterov else b
            updates[name] = (-rate * g).astype(np.float32)
        return updates, SgdState(state.step + 1, buffers)

    return GradientTransformation(init, update, lr)


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
    ``m_hat = m / (1 - b1**t)``, ``v_hat = v / (1 - b2**t)``. ``weight_decay`` adds ``wd * p`` to the gradient
    (L2, Adam) or, decoupled, subtracts ``lr * wd * p`` from the parameter (AdamW).

    Raises:
        ValueError: ``lr <= 0``, betas outside [0, 1), ``eps <= 0`` or ``weight_decay < 0``.
    """
    check_lr(lr)
    b1, b2 = betas
    if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
        raise ValueError(f"betas must be in [0, 1), got betas={betas!r}")
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got eps={eps!r}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got weight_decay={weight_decay!r}")

    def init(params: Params) -> AdamState:
        return AdamState(0, _zeros_like(params), _zeros_like(params))

    def update(grads: Params, state: AdamState, params: Params | None = None) -> tuple[Params, AdamState]:
        if weight_decay and params is None:
            raise ValueError("weight_decay needs params in update(grads, state, params)")
        t = state.step + 1
        rate = lr_at(lr, state.step)
        c1, c2 = 1.0 - b1**t, 1.0 - b2**t
        updates, mu, nu = {}, {}, {}
        for name, g in grads.items():
            if weight_decay and not decoupled:
                g = g + np.float32(weight_decay) * params[name]
            mu[name] = (np.float32(b1) * state.mu[name] + np.float32(1 - b1) * g).astype(np.float32)
            nu[name] = (np.float32(b2) * state.nu[name] + np.float32(1 - b2) * g * g).astype(np.float32)
            step = rate * (mu[name] / c1) / (np.sqrt(nu[name] / c2) + eps)
            if weight_decay and decoupled:
                step = step + rate * weight_decay * params[name]
            updates[name] = (-step).astype(np.float32)
        return updates, AdamState(t, mu, nu)

    return GradientTransformation(init, update, lr)


def adamw(
    lr: float | Schedule = 1e-3, *, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay=1e-2
) -> GradientTransformation:
    """AdamW: Adam with decoupled weight decay (PyTorch's default ``weight_decay=1e-2``)."""
    return adam(lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled=True)
