"""The records of one :func:`~odyssey_lessons.train.fit` run: its settings (:class:`FitConfig`), the progress events it
reports while it runs (:class:`FitEvent`) and what it measured (:class:`History`, which carries the config).

Nothing here trains or draws: the loop is ``_fit.py``, a progress bar for the events is ``_progress.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from odyssey_lessons._validate import (
    check_int,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_probability,
)
from odyssey_lessons.optim import GradientTransformation
from odyssey_lessons.train._policy import PrecisionPolicy, get_policy
from odyssey_lessons.train._regularize import EarlyStopping
from odyssey_lessons.train._scaler import LossScaler

STEP_KEYS = ("loss", "lr", "scale", "skipped", "grad_norm", "underflow", "overflow")
EPOCH_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")


@dataclass(frozen=True)
class FitConfig:
    """The settings of one training run: everything :func:`~odyssey_lessons.train.fit` needs besides the model, the
    data and where progress goes. It is the one place a run's settings are checked and written down;
    ``fit(model, train, optimizer=..., epochs=...)`` builds one from its keywords, and :class:`History` keeps it.

    The scaler and the early stopper are *templates*: ``fit`` trains with copies of them, so the objects passed here
    are never changed and one config can start any number of runs.

    Args:
        optimizer: An :mod:`odyssey_lessons.optim` optimizer (its ``lr`` may be a schedule).
        epochs: Passes over the training data, >= 1.
        batch_size: Samples per step (the last batch of an epoch may be smaller), >= 1.
        policy: A policy name from :data:`POLICIES` or a :class:`PrecisionPolicy` (kept as the policy itself).
        scaler: A :class:`GradScaler`, :class:`StaticScaler` or :class:`NoScaler`; ``None``: no scaling.
        clip_norm: Clip the unscaled gradients to this global L2 norm (after unscaling and the L2 term):
            :func:`~odyssey_lessons.optim.clip_by_global_norm`, PyTorch's ``clip_grad_norm_`` with its ``1e-6``.
        clip_value: Then clamp every gradient value to ``[-clip_value, clip_value]``
            (:func:`~odyssey_lessons.optim.clip_by_value`).
        label_smoothing: Label smoothing of the cross-entropy, in [0, 1].
        l2: Coupled L2 regularization: ``(l2 / 2) ||W||^2`` over the weights is added to the objective, so ``l2 * W``
            to their gradients after unscaling and before clipping. The mask decays the weights -- Linear and Conv
            weights, every parameter named ``"...weight"`` (:func:`weight_mask`) -- and not biases or BatchNorm's
            scale and shift. The step is ``chain(add_decayed_weights(l2, mask=weight_mask), <clipping>, optimizer)``:
            chain it yourself (with ``l2=0``) for another mask. The recorded loss is the data loss.
        max_norm: After every update, rescale each unit's incoming weight vector to norm at most ``max_norm``.
        early_stopping: An :class:`EarlyStopping`, consulted after every epoch; with ``restore_best`` the model ends
            with the best epoch's weights.
        augment: ``augment(x_batch, seed) -> x_batch``, applied to every training batch (a new seed per step), e.g. a
            :class:`~odyssey_lessons.data.DigitAugmenter`. Labels are untouched; evaluation sees clean data.
        seed: Seed of the batch order (epoch ``e`` shuffles with ``seed * 1000 + e``) and of stochastic rounding.

    Raises:
        TypeError, ValueError: A setting of the wrong type or out of range (named in the message, with its value).
    """

    optimizer: GradientTransformation
    epochs: int
    batch_size: int = 64
    policy: str | PrecisionPolicy = "fp32"
    scaler: LossScaler | None = None
    clip_norm: float | None = None
    clip_value: float | None = None
    label_smoothing: float = 0.0
    l2: float = 0.0
    max_norm: float | None = None
    early_stopping: EarlyStopping | None = None
    augment: Callable[[np.ndarray, int], np.ndarray] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.optimizer, GradientTransformation):
            raise TypeError(f"optimizer must come from odyssey_lessons.optim, got optimizer={self.optimizer!r}")
        if self.scaler is not None and not isinstance(self.scaler, LossScaler):
            raise TypeError(f"scaler must be a GradScaler, StaticScaler, NoScaler or None, got scaler={self.scaler!r}")
        stopper = self.early_stopping
        if stopper is not None and not isinstance(stopper, EarlyStopping):
            raise TypeError(f"early_stopping must be an EarlyStopping or None, got early_stopping={stopper!r}")
        if self.augment is not None and not callable(self.augment):
            raise TypeError(f"augment must be a function (x_batch, seed) -> x_batch, got augment={self.augment!r}")
        checked = {
            "epochs": check_positive_int("epochs", self.epochs),
            "batch_size": check_positive_int("batch_size", self.batch_size),
            "policy": get_policy(self.policy),
            "clip_norm": _optional(check_positive, "clip_norm", self.clip_norm),
            "clip_value": _optional(check_positive, "clip_value", self.clip_value),
            "label_smoothing": check_probability("label_smoothing", self.label_smoothing),
            "l2": check_nonnegative("l2", self.l2),
            "max_norm": _optional(check_positive, "max_norm", self.max_norm),
            "seed": check_int("seed", self.seed, minimum=0),
        }
        for name, value in checked.items():  # frozen: the checked, converted values replace what was passed
            object.__setattr__(self, name, value)


def _optional(check: Callable[[str, object], float], name: str, value: object) -> float | None:
    return None if value is None else check(name, value)


@dataclass(frozen=True)
class FitEvent:
    """What :func:`~odyssey_lessons.train.fit` tells its ``progress`` callback, in this order: one ``"start"``, then
    a ``"step"`` after every optimizer step and an ``"epoch"`` after every epoch's evaluation, and one ``"end"``
    (also when early stopping ends the run before ``total_steps``, or an error does).

    Attributes:
        kind: ``"start"``, ``"step"``, ``"epoch"`` or ``"end"``.
        step: Steps done so far; ``total_steps``: steps the run would take without early stopping.
        epoch: Epochs done so far; ``epochs``: epochs asked for.
        policy: The precision policy's name.
        metrics: For ``"epoch"``, that epoch's ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` (NaN without
            validation data) and ``skipped`` (steps skipped for inf/NaN gradients so far); empty otherwise.
    """

    kind: Literal["start", "step", "epoch", "end"]
    step: int
    total_steps: int
    epoch: int
    epochs: int
    policy: str
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass
class History:
    """What :func:`fit` measured.

    Attributes:
        config: The settings of the run (:class:`FitConfig`); ``policy`` is ``config.policy``.
        step: Arrays with one entry per optimizer step: ``loss`` (unscaled, float32 forward), ``lr``, ``scale`` (the
            loss scale used), ``skipped`` (1.0 when inf/NaN gradients skipped the update), ``grad_norm`` (global L2
            norm of the unscaled gradients before clipping), ``underflow`` / ``overflow`` (share of the nonzero finite
            parameter-gradient values, loss scale included, that the cast to the gradient format turned into 0 /
            into inf or NaN; the FP8 scaling recipes saturate instead of overflowing, so their overflow is 0; both
            are 0 for float32 gradients). ``grad_norm`` is that of the loss's gradients: the L2 term that ``l2``
            adds (in the optimizer chain, see :class:`FitConfig`) is not in it.
        epoch: Arrays with one entry per epoch: ``epoch`` (1-based), ``train_loss``, ``train_acc``, ``val_loss``,
            ``val_acc`` (evaluated after the epoch under the policy's forward casts; NaN without validation data).
        seconds: Wall-clock time of the whole run.
        best_epoch, stopped_epoch: With early stopping, the epoch whose weights the model holds (when restored) and
            the epoch after which training stopped (``None`` when it ran to the end); ``None`` without.
        scaler_state: The run's loss scaler at the end (its ``state_dict()``): the scale a next run could start from.
    """

    config: FitConfig
    step: dict[str, np.ndarray] = field(default_factory=dict)
    epoch: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    best_epoch: int | None = None
    stopped_epoch: int | None = None
    scaler_state: dict[str, float | int] = field(default_factory=dict)

    @property
    def policy(self) -> PrecisionPolicy:
        """The precision policy trained with (``config.policy``)."""
        return self.config.policy

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
