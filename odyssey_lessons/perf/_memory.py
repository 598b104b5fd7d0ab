"""Training memory from the actual arrays: parameters + gradients + optimizer state + activations kept for backward.

Activations are found, not estimated: after a training-mode forward, every ndarray attribute of a layer that is not
one of its parameters, gradients or buffers is a cache its ``backward`` reads (Linear's input ``_x``, ReLU's
``_mask``, Conv2D's im2col matrix ``_cols``, MaxPool2D's winner indices ``_arg``, BatchNorm's ``_xhat`` and
``_inv_std``, Dropout's ``_scale``). An array reachable from two places (a view of another) is counted once. A
first Linear layer keeps the batch itself as its input: that counts too, since backward needs it alive.
"""

from __future__ import annotations

import copy
import tracemalloc
from dataclasses import dataclass
from typing import Any

import numpy as np

from odyssey_lessons.nn import Layer, Sequential, softmax_cross_entropy
from odyssey_lessons.optim import GradientTransformation, apply_updates, state_bytes
from odyssey_lessons.perf._counts import layer_name


@dataclass(frozen=True)
class LayerMemory:
    """Bytes held by one layer: ``params``, ``grads``, ``buffers`` and ``activations`` (caches for backward)."""

    name: str
    params: int
    grads: int
    buffers: int
    activations: int

    @property
    def total(self) -> int:
        return self.params + self.grads + self.buffers + self.activations


@dataclass(frozen=True)
class MemoryReport:
    """Bytes of training state, summed from the real arrays (see :func:`memory_report`).

    ``total = params + grads + buffers + optimizer_state + activations``; ``layers`` breaks all but the optimizer
    state down per layer.
    """

    params: int
    grads: int
    buffers: int
    optimizer_state: int
    activations: int
    layers: tuple[LayerMemory, ...]

    @property
    def total(self) -> int:
        return self.params + self.grads + self.buffers + self.optimizer_state + self.activations

    def as_table(self) -> list[dict]:
        """One dict per layer (name, params, grads, buffers, activations, total bytes), then a ``"total"`` row that
        also carries the optimizer state."""
        rows = [
            {"name": m.name, "params": m.params, "grads": m.grads, "buffers": m.buffers,
             "activations": m.activations, "optimizer_state": 0, "total": m.total}
            for m in self.layers
        ]  # fmt: skip
        rows.append(
            {"name": "total", "params": self.params, "grads": self.grads, "buffers": self.buffers,
             "activations": self.activations, "optimizer_state": self.optimizer_state, "total": self.total}
        )  # fmt: skip
        return rows


def _root(a: np.ndarray) -> object:
    """The object that owns ``a``'s memory (follow ``.base`` through views)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a.base if a.base is not None else a


def _nbytes(arrays: dict[str, np.ndarray]) -> int:
    return sum(int(a.nbytes) for a in arrays.values())


def cached_arrays(layer: Layer) -> dict[str, np.ndarray]:
    """The ndarray attributes of ``layer`` that are not its params, grads or buffers: what ``backward`` will read.

    Raises:
        TypeError: ``layer`` is not an nn Layer.
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layer must be an nn Layer, got {type(layer).__name__}")
    own = {id(a) for store in (layer.params(), layer.grads(), layer.buffers()) for a in store.values()}
    return {k: v for k, v in vars(layer).items() if isinstance(v, np.ndarray) and id(v) not in own}


def _layers(model: Layer) -> list[Layer]:
    return list(model.layers) if isinstance(model, Sequential) else [model]


def activation_bytes(layers: list[Layer]) -> list[int]:
    """Bytes of the arrays each layer keeps for backward (:func:`cached_arrays`), an array shared by two layers (one
    a view of the other) counted at the first."""
    seen: set[int] = set()
    out = []
    for layer in layers:
        total = 0
        for a in cached_arrays(layer).values():
            key = id(_root(a))
            if key not in seen:
                seen.add(key)
                total += int(a.nbytes)
        out.append(total)
    return out


def memory_report(model: Layer, x: np.ndarray | None = None, *, opt_state: Any = None) -> MemoryReport:
    """Bytes of parameters, gradients, buffers, optimizer state and saved activations, per layer and in total.

    Args:
        model: A Sequential (or a single layer).
        x: A batch: a training-mode forward runs on a deep copy of ``model`` (so its BatchNorm statistics and Dropout
            generator are untouched) and the copy's caches are measured. None: measure the caches ``model`` holds now
            (from its last forward; 0 for a fresh model).
        opt_state: The optimizer state (``opt.init(params)``), summed with :func:`odyssey_lessons.optim.state_bytes`.

    Raises:
        TypeError: ``model`` is not an nn Layer.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"model must be an nn Layer (e.g. nn.Sequential), got {type(model).__name__}")
    if x is not None:
        model = copy.deepcopy(model)
        model.forward(x, True)
    layers = _layers(model)
    rows = tuple(
        LayerMemory(
            name=layer_name(layer, i),
            params=_nbytes(layer.params()),
            grads=_nbytes(layer.grads()),
            buffers=_nbytes(layer.buffers()),
            activations=act,
        )
        for i, (layer, act) in enumerate(zip(layers, activation_bytes(layers), strict=True))
    )
    return MemoryReport(
        params=sum(r.params for r in rows),
        grads=sum(r.grads for r in rows),
        buffers=sum(r.buffers for r in rows),
        optimizer_state=0 if opt_state is None else state_bytes(opt_state),
        activations=sum(r.activations for r in rows),
        layers=rows,
    )


def _drop_caches(model: Layer) -> None:
    for layer in _layers(model):
        for name in cached_arrays(layer):
            setattr(layer, name, None)


def _step(model: Layer, x: np.ndarray, y: np.ndarray, optimizer: GradientTransformation | None, state: Any) -> Any:
    model.zero_grad()
    logits = model.forward(x, True)
    _, grad = softmax_cross_entropy(logits, y)
    model.backward(grad)
    if optimizer is None:
        return state
    params = model.params()
    updates, state = optimizer.update(model.grads(), state, params)
    model.load_params(apply_updates(params, updates))
    return state


def peak_step_memory(
    model: Layer, x: np.ndarray, y: np.ndarray, *, optimizer: GradientTransformation | None = None
) -> int:
    """Peak bytes of one training step (forward, softmax cross-entropy, backward, optimizer update if given).

    Measured, not estimated: ``peak = resident + traced``. ``resident`` is what exists before the step (parameters,
    gradients, buffers and optimizer state, summed from the arrays); ``traced`` is the peak of memory allocated during
    the step, from :mod:`tracemalloc` (numpy reports its array allocations to it; BLAS's private work buffers are not
    seen). The step runs on a deep copy of ``model`` after one untimed warm-up step (so JIT compilation is not
    counted), with the copy's cached activations dropped first: this is the peak of a step that starts with no
    activations held, and the activations it builds all count.

    Raises:
        TypeError: ``model`` is not an nn Layer or ``optimizer`` not a GradientTransformation.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"model must be an nn Layer (e.g. nn.Sequential), got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, GradientTransformation):
        raise TypeError(f"optimizer must be an optim GradientTransformation, got {type(optimizer).__name__}")
    model = copy.deepcopy(model)
    state = None if optimizer is None else optimizer.init(model.params())
    state = _step(model, x, y, optimizer, state)  # warm-up: compiles kernels, fills the optimizer's recyclers
    _drop_caches(model)
    resident = sum(_nbytes(getattr(model, what)()) for what in ("params", "grads", "buffers"))
    resident += 0 if state is None else state_bytes(state)
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        _step(model, x, y, optimizer, state)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return resident + peak - base
