"""Dense layers, activations and the ``Sequential`` and ``Residual`` containers. Each backward sits right below its
forward."""

from __future__ import annotations

import numpy as np

from odyssey_lessons._validate import check_bool, check_float_array, check_positive_int, check_real, check_rng
from odyssey_lessons.nn._base import Layer


def he_uniform(shape: tuple[int, ...], fan_in: int, rng: np.random.Generator) -> np.ndarray:
    """He (Kaiming) uniform init: ``U(-b, b)`` with ``b = sqrt(6 / fan_in)``, so ``Var(w) = 2 / fan_in``.

    That variance keeps the activations' scale constant through a stack of ReLU layers (ReLU zeroes half the signal,
    the factor 2 makes up for it). PyTorch's default uses ``b = 1 / sqrt(fan_in)``, a smaller scale.
    """
    bound = np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


class Linear(Layer):
    """Fully connected layer: ``y = x @ W.T + b`` with ``W`` (out_features, in_features) and ``b`` (out_features,).

    Backward: ``dW += dy.T @ x``, ``db += sum_n dy``, ``dx = dy @ W``. The products run in numpy's BLAS.
    ``W`` is He-uniform initialised (see :func:`he_uniform`), ``b`` starts at 0.

    Args:
        in_features, out_features: Sizes of the input and output vectors.
        rng: Generator for the initial weights.
    """

    def __init__(self, in_features: int, out_features: int, *, rng: np.random.Generator) -> None:
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        self._add_param("weight", he_uniform((self.out_features, self.in_features), self.in_features, check_rng(rng)))
        self._add_param("bias", np.zeros(self.out_features))
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """``x`` (N, in_features) -> ``y`` (N, out_features)."""
        check_bool("training", training)
        check_float_array("x", x, ndim=(2,), dtype=self.dtype)
        if x.shape[1] != self.in_features:
            raise ValueError(f"x must have shape (N, {self.in_features}), got x.shape={x.shape}")
        self._x = x
        return self._remember_output(x @ self._params["weight"].T + self._params["bias"])

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        grad_y = self._check_grad(grad_y)
        self._grads["weight"] += grad_y.T @ self._x
        self._grads["bias"] += grad_y.sum(axis=0)
        return grad_y @ self._params["weight"]

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"


class ReLU(Layer):
    """``y = max(x, 0)``; backward ``dx = dy * (x > 0)`` (the subgradient at 0 is taken as 0, as in PyTorch).

    Both are plain arithmetic (``np.maximum`` and a product with a 0/1 mask): NaN inputs stay NaN, and an inf
    gradient reaching an inactive unit becomes NaN (``inf * 0``) -- either way the step is non-finite and a loss
    scaler skips it.
    """

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        check_bool("training", training)
        check_float_array("x", x, ndim=(1, 2, 3, 4, 5))
        self._mask = (x > 0).astype(x.dtype)  # 1.0 / 0.0: multiplying by it is ~8x faster than np.where here
        return self._remember_output(np.maximum(x, x.dtype.type(0)))  # NaN propagates, as in torch.relu

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        grad_y = self._check_grad(grad_y)
        return grad_y * self._mask


class Flatten(Layer):
    """Reshape ``(N, d1, d2, ...)`` to ``(N, d1 * d2 * ...)``; backward reshapes the gradient back."""

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        check_bool("training", training)
        check_float_array("x", x, ndim=(2, 3, 4, 5))
        self._in_shape = x.shape
        return self._remember_output(x.reshape(x.shape[0], -1))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return self._check_grad(grad_y).reshape(self._in_shape)


class Dropout(Layer):
    """Inverted dropout: in training ``y = x * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)`` per element; at eval
    ``y = x``.

    Dividing by ``1 - p`` keeps ``E[y] = x``, so nothing needs rescaling at eval time. Backward uses the same mask:
    ``dx = dy * m / (1 - p)``.

    Args:
        p: Probability of zeroing an element, in [0, 1).
        rng: Generator for the masks (a new mask on every training forward).
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator) -> None:
        super().__init__()
        p = check_real("p", p, low=0.0, high=1.0, high_open=True)
        self.p = float(p)
        self.rng = check_rng(rng)
        self._scale: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        training = check_bool("training", training)
        check_float_array("x", x, ndim=(1, 2, 3, 4, 5))
        if not training or self.p == 0.0:
            self._scale = None
            return self._remember_output(x)
        keep = self.rng.random(x.shape) >= self.p
        self._scale = keep.astype(x.dtype) / x.dtype.type(1.0 - self.p)
        return self._remember_output(x * self._scale)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        grad_y = self._check_grad(grad_y)
        return grad_y if self._scale is None else grad_y * self._scale

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class Sequential(Layer):
    """Layers applied in order; backward runs them in reverse.

    :meth:`params`, :meth:`grads` and :meth:`buffers` are flat dicts named like a PyTorch ``state_dict``:
    ``"0.weight"``, ``"0.bias"``, ``"3.running_mean"``, ... (index of the layer, then its own name).
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] must be a Layer, got {type(layer).__name__}")
        self.layers = list(layers)

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        check_bool("training", training)
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            grad_y = layer.backward(grad_y)
        return grad_y

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]

    def _flat(self, what: str) -> dict[str, np.ndarray]:
        return {f"{i}.{name}": a for i, layer in enumerate(self.layers) for name, a in getattr(layer, what)().items()}

    @property
    def dtype(self) -> np.dtype | None:
        return next(iter(self.params().values())).dtype if self.params() else None

    def params(self) -> dict[str, np.ndarray]:
        return self._flat("params")

    def grads(self) -> dict[str, np.ndarray]:
        return self._flat("grads")

    def buffers(self) -> dict[str, np.ndarray]:
        return self._flat("buffers")

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def load_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy a flat dict (names as in :meth:`params`) into the layers, in place."""
        own = self.params()
        if set(params) != set(own):
            raise ValueError(f"params must have the keys {sorted(own)}, got {sorted(params)}")
        for i, layer in enumerate(self.layers):
            prefix = f"{i}."
            layer.load_params({k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)})

    def to(self, dtype: type | np.dtype) -> Sequential:
        for layer in self.layers:
            layer.to(dtype)
        return self

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"


class Residual(Sequential):
    """A skip connection around layers: ``y = x + f(x)`` with ``f`` the layers applied in order (as
    :class:`Sequential`), so ``f`` must keep the shape. Backward: ``dx = dy + f'(x)^T dy``, the gradient flowing
    both around and through ``f``. Parameters are named as in :class:`Sequential` (``"0.weight"``, ...)."""

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        y = super().forward(x, training)
        if y.shape != x.shape:
            raise ValueError(f"the layers of a Residual must keep the shape, got {x.shape} -> {y.shape}")
        return self._remember_output(x + y)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        grad_y = self._check_grad(grad_y)
        return grad_y + super().backward(grad_y)

    def __repr__(self) -> str:
        inner = "".join(f"\n    ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Residual({inner}\n  )"
