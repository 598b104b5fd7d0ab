"""The training loop: a model, data and a :class:`FitConfig` (policy, optimizer, loss scaler, clipping, ...) -> a
:class:`History`. Progress goes to a callback as :class:`FitEvent` records; this module draws nothing.

One step of :func:`fit`, in the order mixed-precision training does it::

    w = cast(master)                       weights rounded to the policy's weight format (per tensor)
    logits = forward(cast(x))              every layer's output rounded to the activation format
    loss, dz = cross_entropy(logits, y)    in float32
    backward(cast(dz * S))                 every gradient leaving a layer rounded to the gradient format
    grads = cast(grads)                    parameter gradients too; count what underflowed / overflowed
    found_inf = scaler.unscale(grads)      grads / S, before clipping, so max_norm means the true norm
    if not found_inf: master = store(master + step(grads))        else: skip the step
        step = chain(add_decayed_weights(l2, mask=weight_mask),   the L2 gradient, weights only
                     clip_by_global_norm(clip_norm), clip_by_value(clip_value), optimizer)
    scaler.update(found_inf)

Layers whose output is exactly representable when their input is (ReLU, Flatten, MaxPool2D forward; ReLU and
Flatten backward) are not cast again: autocast does not re-round them either.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from odyssey_lessons._threads import single_threaded
from odyssey_lessons.data import batches
from odyssey_lessons.nn import Flatten, Layer, MaxPool2D, ReLU, Sequential, softmax_cross_entropy
from odyssey_lessons.optim import (
    GradientTransformation,
    add_decayed_weights,
    apply_updates,
    chain,
    clip_by_global_norm,
    clip_by_value,
    global_norm,
    lr_at,
)
from odyssey_lessons.train._cast import Caster
from odyssey_lessons.train._config import EPOCH_KEYS, STEP_KEYS, FitConfig, FitEvent, History
from odyssey_lessons.train._kernels import store_cast_counting
from odyssey_lessons.train._policy import PrecisionPolicy
from odyssey_lessons.train._regularize import EarlyStopping, max_norm_, weight_mask
from odyssey_lessons.train._scaler import LossScaler, NoScaler

_EXACT_FORWARD = (ReLU, Flatten, MaxPool2D)
_EXACT_BACKWARD = (ReLU, Flatten)


def layers_of(model: Layer) -> list[Layer]:
    """The layers a step casts between: a :class:`Sequential`'s layers, or the model itself."""
    return list(model.layers) if isinstance(model, Sequential) else [model]


def cast_weights(model: Layer, master: dict[str, np.ndarray], caster: Caster) -> None:
    """Load ``caster.weights(name, master[name])`` into the model, for every parameter."""
    model.load_params({name: caster.weights(name, w) for name, w in master.items()})


def forward(model: Layer, x: np.ndarray, caster: Caster, *, training: bool, record: bool = True) -> np.ndarray:
    """Forward pass with the input and every layer's output cast to the activation format."""
    x = caster.cast("a:in", x, caster.policy.activations, record=record)
    for i, layer in enumerate(layers_of(model)):
        x = layer.forward(x, training)
        if not isinstance(layer, _EXACT_FORWARD):
            x = caster.cast(f"a:{i}", x, caster.policy.activations, record=record)
    return x


def backward(model: Layer, grad_logits: np.ndarray, caster: Caster) -> None:
    """Backward pass with the incoming gradient and every gradient passed between layers cast to the gradient
    format; parameter gradients accumulate in the layers (float32) and are cast by :func:`fit`."""
    layers = layers_of(model)
    g = caster.gradients("out", grad_logits)
    for i in range(len(layers) - 1, -1, -1):
        g = layers[i].backward(g)
        if i > 0 and not isinstance(layers[i], _EXACT_BACKWARD):
            g = caster.gradients(str(i), g)


def _cast_param_grads(grads: dict[str, np.ndarray], caster: Caster) -> tuple[float, float]:
    """Cast every parameter gradient in place; return the underflow and overflow shares (see :class:`History`)."""
    if caster.policy.gradients.is_float32:
        return 0.0, 0.0
    nonzero = under = over = 0
    for name, g in grads.items():
        q = caster.gradients("p:" + name, g)
        if g.dtype == np.float32 and g.flags.c_contiguous and q.dtype == np.float32 and q.flags.c_contiguous:
            live, lost, overflowed = store_cast_counting(g.reshape(-1), q.reshape(-1))
        else:  # layers keep float32 C-contiguous gradients; anything else takes the numpy passes
            finite = np.isfinite(g)
            live_mask = finite & (g != 0)
            live, lost = np.count_nonzero(live_mask), np.count_nonzero(live_mask & (q == 0))
            overflowed = np.count_nonzero(finite & ~np.isfinite(q))
            g[...] = q
        nonzero, under, over = nonzero + int(live), under + int(lost), over + int(overflowed)
    return (under / nonzero, over / nonzero) if nonzero else (0.0, 0.0)


def _store(policy: PrecisionPolicy, params: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """``policy.store_weights`` for every parameter; stochastic rounding gets a distinct seed per tensor."""
    return {name: policy.store_weights(w, seed=seed + i) for i, (name, w) in enumerate(params.items())}


def _check_data(name: str, data: object) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(data, tuple) and len(data) == 2):
        raise TypeError(f"{name} must be a tuple (x, y) of arrays, got {type(data).__name__}")
    x, y = data
    if not isinstance(x, np.ndarray) or x.dtype != np.float32:
        raise TypeError(f"{name}[0] (inputs) must be a float32 numpy array, got {getattr(x, 'dtype', type(x))}")
    if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name}[1] (labels) must be an integer numpy array, got {getattr(y, 'dtype', type(y))}")
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"{name} must hold the same nonzero number of inputs and labels, got {len(x)} and {len(y)}")
    return x, y


def _evaluate(model: Layer, x: np.ndarray, y: np.ndarray, caster: Caster, batch_size: int = 512) -> tuple[float, float]:
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logits = forward(model, xb, caster, training=False, record=False)
        loss, _ = softmax_cross_entropy(logits, yb)
        total_loss += loss * len(xb)
        correct += int(np.count_nonzero(np.argmax(logits, axis=1) == yb))
    return total_loss / len(x), correct / len(x)


def evaluate(
    model: Layer, x: np.ndarray, y: np.ndarray, *, policy: str | PrecisionPolicy = "fp32"
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)`` with the policy's forward casts (weights and
    activations; delayed scaling starts from a fresh history). The model's parameters are left as they were.

    Raises:
        TypeError, ValueError: Bad data or policy.
    """
    x, y = _check_data("(x, y)", (x, y))
    caster = Caster(policy)
    master = {k: v.copy() for k, v in model.params().items()}
    cast_weights(model, master, caster)
    try:
        return _evaluate(model, x, y, caster)
    finally:
        model.load_params(master)


def predict(
    model: Layer, x: np.ndarray, *, policy: str | PrecisionPolicy = "fp32", batch_size: int = 512
) -> np.ndarray:
    """Predicted labels (argmax of the logits) of ``model`` on ``x`` with the policy's forward casts, as
    :func:`evaluate` computes them: the per-example answers that paired comparisons of two models need.

    Raises:
        TypeError, ValueError: Bad data or policy.
    """
    x, _ = _check_data("(x, y)", (x, np.zeros(len(x), dtype=np.int64)))
    caster = Caster(policy)
    master = {k: v.copy() for k, v in model.params().items()}
    cast_weights(model, master, caster)
    try:
        out = [np.argmax(forward(model, x[s : s + batch_size], caster, training=False, record=False), axis=1)
               for s in range(0, len(x), batch_size)]  # fmt: skip
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    finally:
        model.load_params(master)


ProgressCallback = Callable[[FitEvent], None]


def fit(
    model: Layer,
    train: tuple[np.ndarray, np.ndarray],
    config: FitConfig | None = None,
    *,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    progress: ProgressCallback | None = None,
    **settings: object,
) -> History:
    """Train ``model`` in place with a precision policy and return what was measured at every step and epoch.

    The settings are one :class:`FitConfig`. Pass it, or pass its fields as keywords and ``fit`` builds it:
    ``fit(model, data, optimizer=adam(1e-3), epochs=5)`` is ``fit(model, data, FitConfig(optimizer=adam(1e-3),
    epochs=5))``; keywords given with a config replace its fields (``fit(model, data, config, seed=1)``). The run's
    config is ``history.config``. The config's scaler and early stopper are copied, never changed.

    The step is described in this module's docstring. With ``policy.master_weights`` the optimizer updates float32
    master weights and the model computes with their cast; without, the updated weights are rounded back to the weight
    format (nearest or stochastic, ``policy.update_rounding``) after every step, so updates smaller than half a spacing
    of a weight vanish (round to nearest) or survive on average (stochastic). After training the model holds the
    master (or stored low-precision) weights; :func:`evaluate` with the same policy measures it as trained.

    Args:
        model: The network (a :class:`~odyssey_lessons.nn.Sequential` is cast layer by layer).
        train: ``(x, y)``: float32 inputs and integer labels.
        config: The run's settings; or ``None`` and the settings as keywords.
        val: Optional validation ``(x, y)``, evaluated after every epoch.
        progress: ``None`` (quiet) or a callable that receives a :class:`FitEvent` at the start, after every step
            and epoch, and at the end: e.g. a :class:`ProgressBar`.
        **settings: Fields of :class:`FitConfig`.

    Returns:
        A :class:`History`.

    Raises:
        TypeError, ValueError: Bad data, model, settings or progress (named in the message).
    """
    config = _config_of(config, settings)
    x_train, y_train = _check_data("train", train)
    val_data = _check_data("val", val) if val is not None else None
    if not isinstance(model, Layer):
        raise TypeError(f"model must be an odyssey_lessons.nn Layer, got {type(model).__name__}")
    if config.early_stopping is not None and config.early_stopping.monitor.startswith("val") and val is None:
        raise ValueError(f"early_stopping monitors {config.early_stopping.monitor!r} but no val data was given")
    if isinstance(progress, bool) or not (progress is None or callable(progress)):
        raise TypeError(f"progress must be None or a callable taking a FitEvent (ProgressBar()), got {progress=}")
    # One thread: small roundings between small BLAS calls (see odyssey_lessons._threads). errstate: inf/NaN
    # gradients are expected in low precision; the scaler detects them and the step is skipped, so no warnings.
    with single_threaded(), np.errstate(over="ignore", invalid="ignore"):
        return _fit(model, x_train, y_train, val_data, config, progress or _quiet)


def _config_of(config: object, settings: dict[str, object]) -> FitConfig:
    """The run's :class:`FitConfig`: ``config``, with ``settings`` replacing its fields, or built from ``settings``."""
    if config is None:
        return FitConfig(**settings)
    if not isinstance(config, FitConfig):
        raise TypeError(f"config must be a FitConfig or None, got config={config!r}")
    return replace(config, **settings) if settings else config


def _quiet(event: FitEvent) -> None:
    """The progress callback of a run nobody watches."""


@dataclass
class _State:
    """What changes while a run trains: the master weights, the optimizer's state, the step counters, and the run's
    own scaler and early stopper (copies of the config's, so the caller's objects keep their state)."""

    master: dict[str, np.ndarray]
    opt_state: object
    scaler: LossScaler
    stopper: EarlyStopping | None
    step: int = 0  # steps taken
    applied: int = 0  # updates applied: a schedule advances with them, as the optimizer's step count does

    @classmethod
    def start(cls, model: Layer, config: FitConfig, optimizer: GradientTransformation) -> _State:
        master = _store(config.policy, {k: v.copy() for k, v in model.params().items()}, config.seed)
        stopper = copy.deepcopy(config.early_stopping)
        if stopper is not None:
            stopper.reset()
        scaler = NoScaler() if config.scaler is None else copy.deepcopy(config.scaler)
        return cls(master, optimizer.init(master), scaler, stopper)


def _augmented(augment: Callable[[np.ndarray, int], np.ndarray], xb: np.ndarray, seed: int) -> np.ndarray:
    out = augment(xb, seed)
    if not isinstance(out, np.ndarray) or out.shape != xb.shape:
        raise ValueError(
            f"augment must return an array of the batch's shape {xb.shape}, got {getattr(out, 'shape', out)}"
        )
    return np.ascontiguousarray(out, dtype=np.float32)


def _step_chain(config: FitConfig) -> GradientTransformation:
    """The transforms from the unscaled gradients to the update: the L2 gradient of the weights, clipping by global
    norm, then by value, then the optimizer; each only when asked for."""
    links = [add_decayed_weights(config.l2, mask=weight_mask)] if config.l2 else []
    links += [] if config.clip_norm is None else [clip_by_global_norm(config.clip_norm)]
    links += [] if config.clip_value is None else [clip_by_value(config.clip_value)]
    return chain(*links, config.optimizer) if links else config.optimizer


def _train_step(
    model: Layer, xb: np.ndarray, yb: np.ndarray, state: _State, config: FitConfig, optimizer, caster: Caster
) -> tuple[float, ...]:
    """One step (this module's docstring) on the batch ``(xb, yb)``; advances ``state`` and returns the values of
    :data:`STEP_KEYS`."""
    if config.augment is not None:
        xb = _augmented(config.augment, xb, config.seed * 1_000_003 + state.step)
    scale = state.scaler.get_scale()
    cast_weights(model, state.master, caster)
    model.zero_grad()
    logits = forward(model, xb, caster, training=True)
    loss, grad_logits = softmax_cross_entropy(logits, yb, label_smoothing=config.label_smoothing)
    backward(model, grad_logits * np.float32(scale), caster)
    grads = model.grads()
    under, over = _cast_param_grads(grads, caster)
    found_inf = bool(state.scaler.unscale(grads))
    norm = global_norm(grads)
    rate = optimizer.learning_rate
    lr = math.nan if rate is None else lr_at(rate, state.applied)
    if not found_inf:
        updates, state.opt_state = optimizer.update(grads, state.opt_state, state.master)
        state.applied += 1
        master = apply_updates(state.master, updates)
        if config.max_norm is not None:
            master = max_norm_(master, config.max_norm)
        state.master = _store(config.policy, master, (config.seed << 32) + ((state.step + 1) << 8))
    state.scaler.update(found_inf)
    state.step += 1
    return loss, lr, scale, float(found_inf), norm, under, over


def _fit(model: Layer, x_train: np.ndarray, y_train: np.ndarray, val_data, config: FitConfig, progress) -> History:
    caster = Caster(config.policy)
    optimizer = _step_chain(config)
    state = _State.start(model, config, optimizer)
    step_log: dict[str, list[float]] = {k: [] for k in STEP_KEYS}
    epoch_log: dict[str, list[float]] = {k: [] for k in EPOCH_KEYS}
    start = time.perf_counter()
    total = config.epochs * -(-len(x_train) // config.batch_size)
    event = partial(FitEvent, total_steps=total, epochs=config.epochs, policy=config.policy.name)
    progress(event("start", step=0, epoch=0))
    try:
        for epoch in range(1, config.epochs + 1):
            for xb, yb in batches(x_train, y_train, batch_size=config.batch_size, seed=config.seed * 1000 + epoch - 1):
                values = _train_step(model, xb, yb, state, config, optimizer, caster)
                for key, value in zip(STEP_KEYS, values, strict=True):
                    step_log[key].append(value)
                progress(event("step", step=state.step, epoch=epoch - 1))
            cast_weights(model, state.master, caster)
            train_loss, train_acc = _evaluate(model, x_train, y_train, caster)
            val_loss, val_acc = _evaluate(model, *val_data, caster) if val_data else (math.nan, math.nan)
            for key, value in zip(EPOCH_KEYS, (epoch, train_loss, train_acc, val_loss, val_acc), strict=True):
                epoch_log[key].append(value)
            metrics = {"train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc}
            skipped = float(sum(step_log["skipped"]))
            progress(event("epoch", step=state.step, epoch=epoch, metrics={**metrics, "skipped": skipped}))
            if state.stopper is not None and state.stopper.step(epoch, metrics, state.master):
                break
    finally:
        progress(event("end", step=state.step, epoch=len(epoch_log["epoch"])))
    return _finish(model, state, config, step_log, epoch_log, time.perf_counter() - start)


def _finish(model: Layer, state: _State, config: FitConfig, step_log, epoch_log, seconds: float) -> History:
    """Load the final weights (the best epoch's, when the early stopper restores them) and write the History."""
    stopper = state.stopper
    restore = stopper is not None and stopper.restore_best and stopper.best_params is not None
    model.load_params(stopper.best_params if restore else state.master)
    return History(
        config,
        {k: np.asarray(v, dtype=np.float64) for k, v in step_log.items()},
        {k: np.asarray(v, dtype=np.float64) for k, v in epoch_log.items()},
        seconds,
        best_epoch=None if stopper is None else stopper.best_epoch,
        stopped_epoch=None if stopper is None else stopper.stopped_epoch,
        scaler_state=state.scaler.state_dict(),
    )
