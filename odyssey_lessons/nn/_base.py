"""The ``Layer`` base class.

A layer owns three dicts of arrays: ``params`` (what the optimizer updates), ``grads`` (same names and shapes,
accumulated by ``backward`` until ``zero_grad``) and ``buffers`` (state that is not trained, e.g. BatchNorm's running
statistics). Parameters are float32; ``layer.to(np.float64)`` converts everything for finite-difference checks.
"""

from __future__ import annotations

import numpy as np

from odyssey_lessons._validate import FLOAT_DTYPES


class Layer:
    """Base class: a layer maps ``x -> y`` in :meth:`forward` and ``dL/dy -> dL/dx`` in :meth:`backward`.

    ``forward`` caches what ``backward`` needs, so call them in pairs. ``backward`` *adds* parameter gradients to
    :meth:`grads` (as PyTorch does); call :meth:`zero_grad` between steps.
    """

    def __init__(self) -> None:
        self._params: dict[str, np.ndarray] = {}
        self._grads: dict[str, np.ndarray] = {}
        self._buffers: dict[str, np.ndarray] = {}
        self._out_shape: tuple[int, ...] | None = None
        self._out_dtype: np.dtype | None = None

    def _add_param(self, name: str, value: np.ndarray) -> None:
        self._params[name] = value.astype(np.float32)
        self._grads[name] = np.zeros_like(self._params[name])

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray, training: bool) -> np.ndarray:
        return self.forward(x, training)

    def _remember_output(self, y: np.ndarray) -> np.ndarray:
        self._out_shape, self._out_dtype = y.shape, y.dtype
        return y

    def _check_grad(self, grad_y: object) -> np.ndarray:
        """``grad_y`` must be an array shaped and typed like the last output of :meth:`forward`."""
        if self._out_shape is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        if not isinstance(grad_y, np.ndarray):
            raise TypeError(f"grad_y must be a numpy.ndarray, got {type(grad_y).__name__}")
        if grad_y.shape != self._out_shape:
            raise ValueError(f"grad_y must have the output's shape {self._out_shape}, got grad_y.shape={grad_y.shape}")
        if grad_y.dtype != self._out_dtype:
            raise TypeError(f"grad_y must have the output's dtype {self._out_dtype}, got grad_y.dtype={grad_y.dtype}")
        return grad_y

    @property
    def dtype(self) -> np.dtype | None:
        """The dtype of the parameters, or ``None`` for a layer without parameters (it accepts both floats)."""
        return next(iter(self._params.values())).dtype if self._params else None

    def params(self) -> dict[str, np.ndarray]:
        """Parameters by name (the layer's own arrays: writing into them changes the layer)."""
        return dict(self._params)

    def grads(self) -> dict[str, np.ndarray]:
        """Accumulated gradients, with the names and shapes of :meth:`params`."""
        return dict(self._grads)

    def buffers(self) -> dict[str, np.ndarray]:
        """Non-trained state (e.g. running statistics), by name."""
        return dict(self._buffers)

    def zero_grad(self) -> None:
        """Set every gradient to 0."""
        for g in self._grads.values():
            g.fill(0)

    def load_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy ``params`` (e.g. from ``optim.apply_updates``) into the layer's arrays, in place.

        Raises:
            ValueError: The names or shapes differ from :meth:`params`.
        """
        if set(params) != set(self._params):
            raise ValueError(f"params must have the keys {sorted(self._params)}, got {sorted(params)}")
        for name, value in params.items():
            if np.shape(value) != self._params[name].shape:
                raise ValueError(f"params[{name!r}] must have shape {self._params[name].shape}, got {np.shape(value)}")
        for name, value in params.items():
            self._params[name][...] = value

    def to(self, dtype: type | np.dtype) -> Layer:
        """Convert params, grads and buffers to float32 or float64 (float64 is for gradient checks); returns self.

        The arrays are replaced, so dicts taken from :meth:`params` before the call no longer alias the layer.
        """
        dtype = np.dtype(dtype)
        if dtype not in FLOAT_DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got dtype={dtype}")
        for store in (self._params, self._grads, self._buffers):
            for name in store:
                store[name] = store[name].astype(dtype)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
