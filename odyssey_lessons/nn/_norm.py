"""Batch normalization over (N, C) or (N, C, H, W) inputs, with PyTorch's running statistics."""

from __future__ import annotations

import numpy as np

from odyssey_lessons._validate import (
    check_bool,
    check_float_array,
    check_positive,
    check_positive_int,
    check_probability,
)
from odyssey_lessons.nn._base import Layer


class BatchNorm(Layer):
    """Batch normalization, per channel ``c`` (axis 1), for (N, C) and (N, C, H, W) inputs.

    Training: with the batch mean ``mu`` and *biased* variance ``var`` over all axes but the channel
    (``m = N`` or ``N*H*W`` values), ``xhat = (x - mu) / sqrt(var + eps)`` and ``y = weight * xhat + bias``
    (``weight``/``bias`` are the paper's gamma/beta). The running statistics follow PyTorch:
    ``running_mean = (1 - momentum) * running_mean + momentum * mu`` and
    ``running_var = (1 - momentum) * running_var + momentum * var * m / (m - 1)`` (the *unbiased* variance).

    Eval: ``y = weight * (x - running_mean) / sqrt(running_var + eps) + bias``.

    Backward in training (``mu`` and ``var`` depend on ``x`` too), with ``g = dy * weight`` and means over the ``m``
    values of a channel: ``dx = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)``;
    ``dweight = sum(dy * xhat)``, ``dbias = sum(dy)``.

    Args:
        num_features: Number of channels C.
        eps: Added to the variance for stability.
        momentum: Weight of the new batch in the running statistics.
    """

    def __init__(self, num_features: int, *, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        self.eps = check_positive("eps", eps)
        self.momentum = check_probability("momentum", momentum)
        self._add_param("weight", np.ones(self.num_features))
        self._add_param("bias", np.zeros(self.num_features))
        self._buffers["running_mean"] = np.zeros(self.num_features, dtype=np.float32)
        self._buffers["running_var"] = np.ones(self.num_features, dtype=np.float32)

    def _shaped(self, v: np.ndarray, ndim: int) -> np.ndarray:
        """A per-channel vector shaped to broadcast against an input of ``ndim`` dimensions: (C,) or (C, 1, 1)."""
        return v if ndim == 2 else v.reshape(-1, 1, 1)

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        training = check_bool("training", training)
        check_float_array("x", x, ndim=(2, 4), dtype=self.dtype)
        if x.shape[1] != self.num_features:
            raise ValueError(f"x must have {self.num_features} channels on axis 1, got x.shape={x.shape}")
        axes = (0,) if x.ndim == 2 else (0, 2, 3)
        m = x.size // self.num_features
        if training:
            if m < 2:
                raise ValueError(f"BatchNorm needs more than 1 value per channel in training, got x.shape={x.shape}")
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            mom = x.dtype.type(self.momentum)
            rm, rv = self._buffers["running_mean"], self._buffers["running_var"]
            rm[...] = (1 - mom) * rm + mom * mean
            rv[...] = (1 - mom) * rv + mom * var * x.dtype.type(m / (m - 1))
        else:
            mean, var = self._buffers["running_mean"], self._buffers["running_var"]
        inv_std = 1 / np.sqrt(var + x.dtype.type(self.eps))
        xhat = (x - self._shaped(mean, x.ndim)) * self._shaped(inv_std, x.ndim)
        self._xhat, self._inv_std, self._axes, self._training = xhat, inv_std, axes, training
        weight, bias = self._params["weight"], self._params["bias"]
        return self._remember_output(self._shaped(weight, x.ndim) * xhat + self._shaped(bias, x.ndim))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        grad_y = self._check_grad(grad_y)
        nd, axes, xhat = grad_y.ndim, self._axes, self._xhat
        self._grads["weight"] += (grad_y * xhat).sum(axis=axes)
        self._grads["bias"] += grad_y.sum(axis=axes)
        g = grad_y * self._shaped(self._params["weight"], nd)
        if self._training:
            g = g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True)
        return g * self._shaped(self._inv_std, nd)

    def __repr__(self) -> str:
        return f"BatchNorm({self.num_features}, eps={self.eps}, momentum={self.momentum})"
