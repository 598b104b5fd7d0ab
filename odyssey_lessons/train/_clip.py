"""Gradient clipping by global norm in place, as ``torch.nn.utils.clip_grad_norm_``. Clip after
:meth:`GradScaler.unscale`, so the threshold refers to the true gradients.

The definition lives once, in :func:`odyssey_lessons.optim.clip_by_global_norm` (the transform ``fit`` chains); this
is its in-place form for a loop that holds the gradients, as lesson 2 does."""

from __future__ import annotations

import numpy as np

from odyssey_lessons._validate import check_positive
from odyssey_lessons.optim import clip_coefficient, global_norm
from odyssey_lessons.train._grads import Grads, check_grads


def clip_grad_norm(grads: Grads, max_norm: float, *, norm_type: float = 2.0) -> float:
    """Scale all gradients together so that their global norm is at most ``max_norm``; return the norm before.

    The global norm is the norm of the vector of per-tensor norms, i.e. of all values concatenated
    (:func:`~odyssey_lessons.optim.global_norm`)::

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
    max_norm = check_positive("max_norm", max_norm)
    total = global_norm(grads, norm_type)
    coef = clip_coefficient(total, max_norm)
    if coef < 1.0:
        for g in grads.values():
            np.multiply(g, np.asarray(coef, dtype=g.dtype), out=g)
    return total
