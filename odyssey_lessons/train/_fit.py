"""The training loop: a model, a precision policy, an optimizer, a loss scaler and clipping -> a :class:`History`.

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

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from odyssey_lessons._threads import single_threaded
from odyssey_lessons._validate import check_int, check_nonnegative, check_positive, check_positive_int
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
from odyssey_lessons.train._kernels import store_cast_counting
from odyssey_lessons.train._policy import PrecisionPolicy, get_policy
from odyssey_lessons.train._regularize import EarlyStopping, max_norm_, weight_mask
from odyssey_lessons.train._scaler import LossScaler, NoScaler

_EXACT_FORWARD = (ReLU, Flatten, MaxPool2D)
_EXACT_BACKWARD = (ReLU, Flatten)
STEP_KEYS = ("loss", "lr", "scale", "skipped", "grad_norm", "underflow", "overflow")
EPOCH_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")


@dataclass
class History:
    """What :func:`fit` measured.

    Attributes:
        policy: The precision policy trained with.
        step: Arrays with one entry per optimizer step: ``loss`` (unscaled, float32 forward), ``lr``, ``scale`` (the
            loss scale used), ``skipped`` (1.0 when inf/NaN gradients skipped the update), ``grad_norm`` (global L2
            norm of the unscaled gradients before clipping), ``underflow`` / ``overflow`` (share of the nonzero finite
            parameter-gradient values, loss scale included, that the cast to the gradient format turned into 0 /
            into inf or NaN; the FP8 scaling recipes saturate instead of overflowing, so their overflow is 0; both
            are 0 for float32 gradients). ``grad_norm`` is that of the loss's gradients: the L2 term that ``l2``
            adds (in the optimizer chain, see :func:`fit`) is not in it.
        epoch: Arrays with one entry per epoch: ``epoch`` (1-based), ``train_loss``, ``train_acc``, ``val_loss``,
            ``val_acc`` (evaluated after the epoch under the policy's forward casts; NaN without validation data).
        seconds: Wall-clock time of the whole run.
        best_epoch, stopped_epoch: With early stopping, the epoch whose weights the model holds (when restored) and
            the epoch after which training stopped (``None`` when it ran to the end); ``None`` without.
    """

    policy: PrecisionPolicy
    step: dict[str, np.ndarray] = field(default_factory=dict)
    epoch: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    @property
    def skipped_steps(self) -> int:
        """Number of optimizer steps skipped for inf/NaN gradients."""
        return int(self.step["skipped"].sum())

    @property
    def final_val_acc(self) -> float:
        """Validation accuracy after the last epoch."""
        return float(self.epoch["val_acc"][-1])

    def __repr__(self) -> str:
        last = {k: round(float(v[-1]), 4) for k, v in self.epoch.items() if k != "epoch"}
        return (
            f"History(policy={self.policy.name!r}, steps={len(self.step['loss'])}, epochs={len(self.epoch['epoch'])}, "
            f"skipped={self.skipped_steps}, last_epoch={last}, seconds={self.seconds:.2f})"
        )


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


def fit(
    model: Layer,
    train: tuple[np.ndarray, np.ndarray],
    *,
    optimizer: GradientTransformation,
    epochs: int,
    batch_size: int = 64,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    policy: str | PrecisionPolicy = "fp32",
    scaler: LossScaler | None = None,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    label_smoothing: float = 0.0,
    l2: float = 0.0,
    max_norm: float | None = None,
    early_stopping: EarlyStopping | None = None,
    augment: Callable[[np.ndarray, int], np.ndarray] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train ``model`` in place with a precision policy and return what was measured at every step and epoch.

    The step is described in this module's docstring. With ``policy.master_weights`` the optimizer updates float32
    master weights and the model computes with their cast; without, the updated weights are rounded back to the weight
    format (nearest or stochastic, ``policy.update_rounding``) after every step, so updates smaller than half a spacing
    of a weight vanish (round to nearest) or survive on average (stochastic). After training the model holds the
    master (or stored low-precision) weights; :func:`evaluate` with the same policy measures it as trained.

    Args:
        model: The network (a :class:`~odyssey_lessons.nn.Sequential` is cast layer by layer).
        train: ``(x, y)``: float32 inputs and integer labels.
        optimizer: An :mod:`odyssey_lessons.optim` optimizer (its ``lr`` may be a schedule).
        epochs: Passes over ``train``.
        batch_size: Samples per step (the last batch of an epoch may be smaller).
        val: Optional validation ``(x, y)``, evaluated after every epoch.
        policy: A policy name from :data:`POLICIES` or a :class:`PrecisionPolicy`.
        scaler: A :class:`GradScaler`, :class:`StaticScaler` or :class:`NoScaler` (default: no scaling). It is
            advanced in place, so pass a fresh one per run.
        clip_norm: Clip the unscaled gradients to this global L2 norm (after unscaling and the L2 term):
            :func:`~odyssey_lessons.optim.clip_by_global_norm`, PyTorch's ``clip_grad_norm_`` with its ``1e-6``.
        clip_value: Then clamp every gradient value to ``[-clip_value, clip_value]``
            (:func:`~odyssey_lessons.optim.clip_by_value`).
        label_smoothing: Label smoothing of the cross-entropy, in [0, 1].
        l2: Coupled L2 regularization: ``(l2 / 2) ||W||^2`` over the weights is added to the objective, so ``l2 * W``
            to their gradients after unscaling and before clipping. The default mask decays the weights -- Linear
            and Conv weights, every parameter named ``"...weight"`` (:func:`weight_mask`) -- and not biases or
            BatchNorm's scale and shift. The step is ``chain(add_decayed_weights(l2, mask=weight_mask), <clipping>,
            optimizer)``: chain it yourself (with ``l2=0``) for another mask. The recorded loss is the data loss.
        max_norm: After every update, rescale each unit's incoming weight vector to norm at most ``max_norm``.
        early_stopping: An :class:`EarlyStopping`; it is reset at the start, consulted after every epoch, and with
            ``restore_best`` the model ends with the best epoch's weights.
        augment: ``augment(x_batch, seed) -> x_batch``, applied to every training batch (a new seed per step), e.g. a
            :class:`~odyssey_lessons.data.DigitAugmenter`. Labels are untouched; evaluation sees clean data.
        seed: Seed of the batch order (epoch ``e`` shuffles with ``seed * 1000 + e``) and of stochastic rounding.
        progress: Show a progress bar (it appears only when the run takes longer than a second).

    Returns:
        A :class:`History`.

    Raises:
        TypeError, ValueError: Bad data, policy, optimizer or hyperparameters (named in the message).
    """
    x_train, y_train = _check_data("train", train)
    val_data = _check_data("val", val) if val is not None else None
    if not isinstance(model, Layer):
        raise TypeError(f"model must be an odyssey_lessons.nn Layer, got {type(model).__name__}")
    if not isinstance(optimizer, GradientTransformation):
        raise TypeError(f"optimizer must come from odyssey_lessons.optim, got {type(optimizer).__name__}")
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    clip_norm = None if clip_norm is None else check_positive("clip_norm", clip_norm)
    clip_value = None if clip_value is None else check_positive("clip_value", clip_value)
    max_norm = None if max_norm is None else check_positive("max_norm", max_norm)
    l2 = check_nonnegative("l2", l2)
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping must be an EarlyStopping, got {type(early_stopping).__name__}")
    if early_stopping is not None and early_stopping.monitor.startswith("val") and val is None:
        raise ValueError(f"early_stopping monitors {early_stopping.monitor!r} but no val data was given")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be a function (x_batch, seed) -> x_batch, got {type(augment).__name__}")
    seed = check_int("seed", seed, minimum=0)
    scaler = NoScaler() if scaler is None else scaler
    if not isinstance(scaler, LossScaler):
        raise TypeError(f"scaler must be a GradScaler, StaticScaler or NoScaler, got {type(scaler).__name__}")
    policy = get_policy(policy)
    # One thread: small roundings between small BLAS calls (see odyssey_lessons._threads). errstate: inf/NaN
    # gradients are expected in low precision; the scaler detects them and the step is skipped, so no warnings.
    run = _Run(optimizer, epochs, batch_size, policy, scaler, clip_norm, clip_value, label_smoothing, float(l2),
               max_norm, early_stopping, augment, seed, progress)  # fmt: skip
    with single_threaded(), np.errstate(over="ignore", invalid="ignore"):
        return _fit(model, x_train, y_train, val_data, run)


@dataclass(frozen=True)
class _Run:
    """The validated settings of one :func:`fit` call."""

    optimizer: GradientTransformation
    epochs: int
    batch_size: int
    policy: PrecisionPolicy
    scaler: LossScaler
    clip_norm: float | None
    clip_value: float | None
    label_smoothing: float
    l2: float
    max_norm: float | None
    early_stopping: EarlyStopping | None
    augment: Callable[[np.ndarray, int], np.ndarray] | None
    seed: int
    progress: bool


def _augmented(augment: Callable[[np.ndarray, int], np.ndarray], xb: np.ndarray, seed: int) -> np.ndarray:
    out = augment(xb, seed)
    if not isinstance(out, np.ndarray) or out.shape != xb.shape:
        raise ValueError(
            f"augment must return an array of the batch's shape {xb.shape}, got {getattr(out, 'shape', out)}"
        )
    return np.ascontiguousarray(out, dtype=np.float32)


def _step_chain(run: _Run) -> GradientTransformation:
    """The transforms from the unscaled gradients to the update: the L2 gradient of the weights, clipping by global
    norm, then by value, then the optimizer; each only when asked for."""
    links = [add_decayed_weights(run.l2, mask=weight_mask)] if run.l2 else []
    links += [] if run.clip_norm is None else [clip_by_global_norm(run.clip_norm)]
    links += [] if run.clip_value is None else [clip_by_value(run.clip_value)]
    return chain(*links, run.optimizer) if links else run.optimizer


def _fit(model: Layer, x_train: np.ndarray, y_train: np.ndarray, val_data, run: _Run) -> History:
    caster = Caster(run.policy)

    master = _store(run.policy, {k: v.copy() for k, v in model.params().items()}, run.seed)
    optimizer = _step_chain(run)
    opt_state = optimizer.init(master)
    steps_per_epoch = -(-len(x_train) // run.batch_size)
    step_log: dict[str, list[float]] = {k: [] for k in STEP_KEYS}
    epoch_log: dict[str, list[float]] = {k: [] for k in EPOCH_KEYS}
    start = time.perf_counter()
    bar = tqdm(total=run.epochs * steps_per_epoch, desc=f"fit {run.policy.name}", delay=1.0, disable=not run.progress)
    step = applied = 0  # steps taken / updates applied (a schedule advances with the updates, as the optimizer's)
    if run.early_stopping is not None:
        run.early_stopping.reset()
    for epoch in range(run.epochs):
        for xb, yb in batches(x_train, y_train, batch_size=run.batch_size, seed=run.seed * 1000 + epoch):
            if run.augment is not None:
                xb = _augmented(run.augment, xb, run.seed * 1_000_003 + step)
            scale = run.scaler.get_scale()
            cast_weights(model, master, caster)
            model.zero_grad()
            logits = forward(model, xb, caster, training=True)
            loss, grad_logits = softmax_cross_entropy(logits, yb, label_smoothing=run.label_smoothing)
            backward(model, grad_logits * np.float32(scale), caster)
            grads = model.grads()
            under, over = _cast_param_grads(grads, caster)
            found_inf = bool(run.scaler.unscale(grads))
            norm = global_norm(grads)
            rate = optimizer.learning_rate
            lr = math.nan if rate is None else lr_at(rate, applied)
            if not found_inf:
                updates, opt_state = optimizer.update(grads, opt_state, master)
                applied += 1
                master = apply_updates(master, updates)
                if run.max_norm is not None:
                    master = max_norm_(master, run.max_norm)
                master = _store(run.policy, master, (run.seed << 32) + ((step + 1) << 8))
            run.scaler.update(found_inf)
            for key, value in zip(STEP_KEYS, (loss, lr, scale, float(found_inf), norm, under, over), strict=True):
                step_log[key].append(value)
            step += 1
            bar.update()
        cast_weights(model, master, caster)
        train_loss, train_acc = _evaluate(model, x_train, y_train, caster)
        val_loss, val_acc = _evaluate(model, *val_data, caster) if val_data else (math.nan, math.nan)
        for key, value in zip(EPOCH_KEYS, (epoch + 1, train_loss, train_acc, val_loss, val_acc), strict=True):
            epoch_log[key].append(value)
        bar.set_postfix(val_acc=f"{val_acc:.3f}", skipped=int(sum(step_log["skipped"])))
        es = run.early_stopping
        metrics = {"val_loss": val_loss, "val_acc": val_acc, "train_loss": train_loss}
        if es is not None and es.step(epoch + 1, metrics, master):
            break
    bar.close()
    es = run.early_stopping
    if es is not None and es.restore_best and es.best_params is not None:
        master = es.best_params
    model.load_params(master)
    return History(
        run.policy,
        {k: np.asarray(v, dtype=np.float64) for k, v in step_log.items()},
        {k: np.asarray(v, dtype=np.float64) for k, v in epoch_log.items()},
        time.perf_counter() - start,
        best_epoch=None if es is None else es.best_epoch,
        stopped_epoch=None if es is None else es.stopped_epoch,
    )
