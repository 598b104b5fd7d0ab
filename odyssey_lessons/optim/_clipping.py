"""Gradient clipping as transforms: by the global norm (PyTorch's ``clip_grad_norm_``, the one definition of clipping
in the package) and by value (``clip_grad_value_``). :func:`odyssey_lessons.train.clip_grad_norm` is the in-place form
of :func:`clip_by_global_norm` for lesson 2, built on the same :func:`global_norm` and :func:`clip_coefficient`.
"""

from __future__ import annotations

import math

import numpy as np

from odyssey_lessons._validate import check_positive, check_real
from odyssey_lessons.optim._base import GradientTransformation, Params
from odyssey_lessons.optim._transforms import EmptyState, scaled

CLIP_EPS = 1e-6  # PyTorch's, in max_norm / (norm + eps): finite for a zero norm, a hair below max_norm / norm


def _norm_type(norm_type: object) -> float:
    p = check_real("norm_type", norm_type, low=0, low_open=True, finite=False)
    if math.isnan(p):
        raise ValueError(f"norm_type must be > 0 (e.g. 1, 2, math.inf), got {norm_type=}")
    return p


def _vector_norm(x: np.ndarray, p: float) -> float:
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


def global_norm(tree: Params, norm_type: float = 2.0) -> float:
    """The p-norm of all arrays together, in float64, as ``torch.nn.utils.clip_grad_norm_`` computes it: the norm of
    the per-array norms, ``||(||g_1||_p, ..., ||g_k||_p)||_p`` (``max |g|`` for ``norm_type = math.inf``).

    Raises:
        TypeError, ValueError: ``norm_type`` is not a number > 0.
    """
    p = _norm_type(norm_type)
    return _vector_norm(np.array([_vector_norm(g, p) for g in tree.values()]), p)


def clip_coefficient(norm: float, max_norm: float) -> float:
    """The factor global-norm clipping multiplies by: ``min(1, max_norm / (norm + 1e-6))`` (PyTorch's rule), and 1
    for a non-finite ``norm`` -- an inf/NaN gradient is left as it is for the loss scaler to skip, where PyTorch would
    multiply it by 0 or NaN."""
    if not math.isfinite(norm):
        return 1.0
    return min(1.0, max_norm / (norm + CLIP_EPS))


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Scale all updates together by ``c = max_norm / (norm + 1e-6)`` when ``c < 1``, ``norm`` = the L2 norm of all
    arrays together (:func:`global_norm`): ``torch.nn.utils.clip_grad_norm_``, the one definition of clipping here
    (:func:`odyssey_lessons.train.clip_grad_norm` is its in-place form). Updates within the norm are returned as they
    are; so are non-finite ones (see :func:`clip_coefficient`).

    Raises:
        TypeError, ValueError: ``max_norm`` is not a finite number > 0.
    """
    max_norm = check_positive("max_norm", max_norm)

    def update(updates: Params, state: EmptyState, params: Params | None = None) -> tuple[Params, EmptyState]:
        coef = clip_coefficient(global_norm(updates), max_norm)
        if coef >= 1.0:
            return updates, state
        return scaled(updates, np.float32(coef)), state

    return GradientTransformation(lambda params: EmptyState(), update)


def clip_by_value(max_value: float) -> GradientTransformation:
    """Clamp every update value to ``[-max_value, max_value]`` (``torch.nn.utils.clip_grad_value_``; NaN stays NaN).

    Raises:
        TypeError, ValueError: ``max_value`` is not a finite number > 0.
    """
    max_value = check_positive("max_value", max_value)

    def update(updates: Params, state: EmptyState, params: Params | None = None) -> tuple[Params, EmptyState]:
        return {k: np.clip(u, -max_value, max_value).astype(np.float32) for k, u in updates.items()}, state

    return GradientTransformation(lambda params: EmptyState(), update)
