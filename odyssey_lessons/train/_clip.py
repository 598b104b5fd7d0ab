"""Gradient clipping by global norm and by value, with ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``
semantics. Clip after :meth:`GradScaler.unscale`, so the threshold refers to the true gradients."""

from __future__ import annotations

import math

import numpy as np

from odyssey_lessons.train._grads import Grads, check_grads

_EPS = 1e-6  # PyTorch's: keeps the coefficient finite for a zero norm and makes it a hair below max_norm / norm


def _norm_type(norm_type: object) -> float:
    if isinstance(norm_type, bool) or not isinstance(norm_type, int | float | np.integer | np.floating):
        raise TypeError(f"norm_type must be a positive number or math.inf, got {norm_type!r}")
    if not (norm_type > 0) or math.isnan(norm_type):
        raise ValueError(f"norm_type must be > 0 (e.g. 1, 2, math.inf), got norm_type={norm_type!r}")
    return float(norm_type)


def vector_norm(x: np.ndarray, p: float) -> float:
    """``||x||_p`` in float64: ``max|x_i|`` for ``p = inf``, else ``(sum |x_i|**p)**(1/p)``."""
    a = np.abs(np.asarray(x, dtype=np.float64)).reshape(-1)
    if a.size == 0:
        return 0.0
    if math.isinf(p):
        return float(a.max())
    if p == 2.0:
        return float(np.sqrt(np.dot(a, a)))
    if p == 1.0:
        return float(a.sum())
    return float(np.sum(a**p) ** (1.0 / p))


def clip_grad_norm(grads: Grads, max_norm: float, *, norm_type: float = 2.0) -> float:
    """Scale all gradients together so that their global norm is at most ``max_norm``; return the norm before.

    The global norm is the norm of the vector of per-tensor norms, i.e. of all values concatenated::

        total = ||(||g_1||_p, ..., ||g_k||_p)||_p        coef = max_norm / (total + 1e-6)
        if coef < 1:  g_i *= coef  (in place, for every i)

    Norms are computed in float64; the gradients are multiplied in their own dtype.

    Unlike PyTorch, a non-finite total norm (an inf or NaN gradient) leaves the gradients unchanged -- PyTorch would
    multiply them by 0 or NaN -- and is returned as is, so the caller can skip the step (a :class:`GradScaler` has
    already reported it).

    Args:
        grads: Dict ``name -> floating numpy array``, changed in place.
        max_norm: Largest allowed global norm, positive and finite.
        norm_type: ``p`` of the p-norm, > 0; ``math.inf`` for the largest absolute value.

    Returns:
        The global norm of the gradients before clipping.

    Raises:
        TypeError: ``grads`` is not a dict of floating arrays, or an argument has the wrong type.
        ValueError: ``max_norm`` or ``norm_type`` is out of range, or an array is read-only.
    """
    grads = check_grads(grads, writable=True)
    if isinstance(max_norm, bool) or not isinstance(max_norm, int | float | np.integer | np.floating):
        raise TypeError(f"max_norm must be a number, got {type(max_norm).__name__} {max_norm!r}")
    if not (math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be positive and finite, got max_norm={max_norm!r}")
    p = _norm_type(norm_type)
    total = vector_norm(np.array([vector_norm(g, p) for g in grads.values()]), p)
    if not math.isfinite(total):
        return total
    coef = float(max_norm) / (total + _EPS)
    if coef < 1.0:
        for g in grads.values():
            np.multiply(g, np.asarray(coef, dtype=g.dtype), out=g)
    return total


def clip_grad_value(grads: Grads, clip_value: float) -> None:
    """Clamp every gradient value to ``[-clip_value, clip_value]`` in place (NaN stays NaN).

    Raises:
        TypeError: ``grads`` is not a dict of floating arrays, or ``clip_value`` is not a number.
        ValueError: ``clip_value`` is not positive and finite, or an array is read-only.
    """
    grads = check_grads(grads, writable=True)
    if isinstance(clip_value, bool) or not isinstance(clip_value, int | float | np.integer | np.floating):
        raise TypeError(f"clip_value must be a number, got {type(clip_value).__name__} {clip_value!r}")
    if not (math.isfinite(clip_value) and clip_value > 0):
        raise ValueError(f"clip_value must be positive and finite, got clip_value={clip_value!r}")
    for g in grads.values():
        np.clip(g, -clip_value, clip_value, out=g)
