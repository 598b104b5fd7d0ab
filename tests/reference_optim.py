"""Slow, obviously correct reference optimizers: one coordinate at a time, in float64 Python scalars.

Written from the published update rules (PyTorch's documented algorithms; Lion from Chen et al. 2023), sharing no
code with the package. Each ``*_step`` takes one parameter value ``p``, its gradient ``g``, a dict with that
coordinate's state (empty before the first step) and the update number ``t`` (1, 2, ...), and returns the new ``p``.
"""

from __future__ import annotations

import math

import numpy as np


def sgd_step(p, g, s, t, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    g = g + weight_decay * p
    if momentum:
        s["b"] = g if t == 1 else momentum * s["b"] + g
        g = g + momentum * s["b"] if nesterov else s["b"]
    return p - lr * g


def adam_step(p, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    b1, b2 = betas
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    m_hat = s["m"] / (1 - b1**t)
    v_hat = s["v"] / (1 - b2**t)
    return p - lr * m_hat / (math.sqrt(v_hat) + eps)


def adamw_step(p, g, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    return adam_step(p, g, s, t, lr, betas, eps, weight_decay, decoupled=True)


def adagrad_step(p, g, s, t, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    g = g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    s["sum"] = s.get("sum", initial_accumulator_value) + g * g
    return p - clr * g / (math.sqrt(s["sum"]) + eps)


def rmsprop_step(p, g, s, t, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    g = g + weight_decay * p
    s["sq"] = alpha * s.get("sq", 0.0) + (1 - alpha) * g * g
    if centered:
        s["ga"] = alpha * s.get("ga", 0.0) + (1 - alpha) * g
        avg = math.sqrt(s["sq"] - s["ga"] ** 2) + eps
    else:
        avg = math.sqrt(s["sq"]) + eps
    if momentum:
        s["b"] = momentum * s.get("b", 0.0) + g / avg
        return p - lr * s["b"]
    return p - lr * g / avg


def lion_step(p, g, s, t, lr, betas=(0.9, 0.99), weight_decay=0.0):
    b1, b2 = betas
    m = s.get("m", 0.0)
    c = b1 * m + (1 - b1) * g
    sign = (c > 0) - (c < 0)
    p = p - lr * (sign + weight_decay * p)
    s["m"] = b2 * m + (1 - b2) * g
    return p


STEPS = {
    "sgd": sgd_step,
    "adam": adam_step,
    "adamw": adamw_step,
    "adagrad": adagrad_step,
    "rmsprop": rmsprop_step,
    "lion": lion_step,
}


def run_reference(name, params, grads_seq, lr, **hyper):
    """Final parameters (float64 arrays) after one update per entry of ``grads_seq``; ``lr`` may be a callable of the
    step counted from 0."""
    step = STEPS[name]
    out = {}
    for key, p0 in params.items():
        flat = [float(x) for x in np.ravel(p0)]
        states = [{} for _ in flat]
        for t, grads in enumerate(grads_seq, start=1):
            rate = lr(t - 1) if callable(lr) else lr
            g = np.ravel(grads[key])
            flat = [step(p, float(gi), s, t, rate, **hyper) for p, gi, s in zip(flat, g, states, strict=True)]
        out[key] = np.array(flat).reshape(np.shape(p0))
    return out
