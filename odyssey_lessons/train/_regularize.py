"""Regularizers the training loop applies: which parameters L2 acts on, the L2 penalty, a max-norm constraint on
weights, and early stopping with best-weight restore. (The L2 gradient is ``optim.add_decayed_weights`` with
:func:`weight_mask`, chained by ``fit``; dropout is a layer, label smoothing is in the loss, decoupled weight decay is
in the optimizers, augmentation is a function of the batch.)"""

from __future__ import annotations

import math

import numpy as np

from odyssey_lessons._validate import check_bool, check_choice, check_int, check_nonnegative


def is_weight(name: str) -> bool:
    """Parameters that regularizers act on: weight matrices and filters (``"...weight"``), not biases or BatchNorm's
    scale and shift (``"...gamma"``/``"...beta"``), as is customary."""
    return name.endswith("weight")


def weight_mask(params: dict[str, np.ndarray]) -> dict[str, bool]:
    """``name -> True`` for the weights (:func:`is_weight`), ``False`` for biases and norm scales and shifts: the
    ``mask`` of :func:`~odyssey_lessons.optim.add_decayed_weights` that ``fit(l2=...)`` uses."""
    return {name: is_weight(name) for name in params}


def l2_penalty(params: dict[str, np.ndarray], l2: float) -> float:
    """``(l2 / 2) * sum ||W||^2`` over the weights (float64 sum); its gradient ``l2 * W`` is
    ``add_decayed_weights(l2, mask=weight_mask)``."""
    return 0.5 * l2 * sum(float(np.sum(np.square(w, dtype=np.float64))) for n, w in params.items() if is_weight(n))


def max_norm_(params: dict[str, np.ndarray], max_norm: float) -> dict[str, np.ndarray]:
    """Rescale every unit's incoming weight vector to L2 norm at most ``max_norm`` (Srebro et al. 2005; used with
    dropout by Srivastava et al. 2014): rows of a Linear weight ``(out, in)``, filters of a Conv2D weight
    ``(out, in, kh, kw)``. Returns new arrays for the weights it changes; others are passed through.
    """
    out = {}
    for name, w in params.items():
        if not is_weight(name) or w.ndim < 2:
            out[name] = w
            continue
        rows = w.reshape(w.shape[0], -1).astype(np.float64)
        norms = np.sqrt(np.sum(rows * rows, axis=1, keepdims=True))
        factor = np.minimum(1.0, max_norm / np.maximum(norms, 1e-12))
        out[name] = (rows * factor).astype(np.float32).reshape(w.shape) if np.any(factor < 1) else w
    return out


MONITORS = ("val_loss", "val_acc", "train_loss")


class EarlyStopping:
    """Stop when the monitored metric has not improved for ``patience`` epochs; optionally restore the best weights.

    An epoch *improves* when ``val_loss`` (or ``train_loss``) falls below ``best - min_delta``, or ``val_acc`` rises
    above ``best + min_delta`` (Keras's rule). After ``patience`` epochs without improvement training stops; with
    ``restore_best=True`` :func:`~odyssey_lessons.train.fit` puts back the weights of the best epoch. ``fit`` trains
    with a copy of the stopper it is given (its ``History`` reports ``best_epoch`` and ``stopped_epoch``); the object
    itself changes only when you call :meth:`step` yourself.

    Args:
        patience: Epochs without improvement before stopping, >= 1.
        min_delta: The smallest change that counts as an improvement, >= 0.
        monitor: ``"val_loss"``, ``"val_acc"`` or ``"train_loss"``.
        restore_best: Restore the weights of the best epoch when training ends (stopped or not).

    Raises:
        TypeError: An argument of the wrong type; ValueError: one out of range (named in the message).
    """

    def __init__(
        self, *, patience: int = 5, min_delta: float = 0.0, monitor: str = "val_loss", restore_best: bool = True
    ) -> None:
        patience = check_int("patience", patience, minimum=1)
        self.patience = patience
        self.min_delta = check_nonnegative("min_delta", min_delta)
        self.monitor = check_choice("monitor", monitor, MONITORS)
        self.restore_best = check_bool("restore_best", restore_best)
        self.reset()

    def reset(self) -> None:
        """Forget everything seen (``fit`` calls this on its own copy at the start of a run)."""
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_params: dict[str, np.ndarray] | None = None
        self.bad_epochs = 0
        self.stopped_epoch: int | None = None

    def step(self, epoch: int, metrics: dict[str, float], params: dict[str, np.ndarray]) -> bool:
        """Record epoch ``epoch`` (1-based) with its ``metrics``; keep a copy of ``params`` when it is the best so far.
        Returns True when training should stop.

        Raises:
            ValueError: ``metrics`` lacks the monitored value (e.g. ``val_loss`` without validation data).
        """
        if self.monitor not in metrics or math.isnan(metrics[self.monitor]):
            raise ValueError(
                f"early stopping monitors {self.monitor!r}, which this run does not measure (validation data missing?)"
            )
        value = metrics[self.monitor]
        better = self.best is None or (
            value > self.best + self.min_delta if self.monitor == "val_acc" else value < self.best - self.min_delta
        )
        if better:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            self.best_params = {k: v.copy() for k, v in params.items()}
            return False
        self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, monitor={self.monitor!r}, "
            f"restore_best={self.restore_best})"
        )
