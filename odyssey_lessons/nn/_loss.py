"""Softmax cross-entropy with label smoothing: the loss and its gradient with respect to the logits."""

from __future__ import annotations

import numpy as np

from odyssey_lessons._validate import check_float_array, check_real


def softmax_cross_entropy(
    logits: np.ndarray, labels: np.ndarray, *, label_smoothing: float = 0.0
) -> tuple[float, np.ndarray]:
    """Mean cross-entropy between ``softmax(logits)`` and smoothed one-hot targets, and its gradient.

    With ``K`` classes and ``eps = label_smoothing`` the target of row ``n`` is
    ``t = (1 - eps) * onehot(labels[n]) + eps / K`` (PyTorch's rule). The log-softmax is computed stably with
    log-sum-exp, ``log p = z - max(z) - log(sum(exp(z - max(z))))``, so large logits never overflow.

    ``loss = -(1/N) * sum_n sum_k t[n, k] * log p[n, k]`` and ``dloss/dz = (softmax(z) - t) / N``.

    Args:
        logits: (N, K) float32 or float64 scores.
        labels: (N,) integer class indices in [0, K).
        label_smoothing: ``eps`` in [0, 1].

    Returns:
        ``(loss, grad_logits)``: a Python float and an array shaped and typed like ``logits``.

    Raises:
        TypeError: ``logits`` is not a float array or ``labels`` not an integer array.
        ValueError: Wrong shapes, labels out of range, or ``label_smoothing`` outside [0, 1].
    """
    check_float_array("logits", logits, ndim=(2,))
    n, k = logits.shape
    if n == 0:
        raise ValueError(f"logits must hold at least one row, got logits.shape={logits.shape}")
    if not isinstance(labels, np.ndarray) or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be an integer numpy.ndarray, got {getattr(labels, 'dtype', type(labels))}")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match logits.shape={logits.shape}, got {labels.shape}")
    if labels.min() < 0 or labels.max() >= k:
        bad = labels[(labels < 0) | (labels >= k)][0]
        raise ValueError(f"labels must lie in [0, {k}), got a label {bad}")
    eps = check_real("label_smoothing", label_smoothing, low=0, high=1)

    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    log_p = shifted - np.log(sum_exp)
    target = np.full_like(logits, eps / k)
    target[np.arange(n), labels] += 1 - eps
    loss = -float((target * log_p).sum()) / n
    grad = (exp / sum_exp - target) / logits.dtype.type(n)
    return loss, grad
