"""The capstone's training recipe and its ablations: what Lesson 8 trains, as data.

A :class:`Recipe` names every choice of a training run of the digits CNN -- optimizer, learning-rate schedule,
dropout, weight decay, gradient clipping and precision policy -- so that a variant is one ``dataclasses.replace``
away (``replace(RECIPE, schedule="constant")``). :func:`recipe_optimizer` turns a recipe into a chained optimizer
(``clip_by_global_norm -> AdamW`` or ``SGD + momentum``, with warm-up + cosine or a constant learning rate);
:func:`capstone_run` trains one recipe at one learning rate and seed with :func:`~odyssey_lessons.train.fit` and
returns what it measured. Nothing here draws or prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from odyssey_lessons._validate import check_int, check_positive
from odyssey_lessons.data import digits_task
from odyssey_lessons.nn import Sequential, digits_cnn
from odyssey_lessons.optim import GradientTransformation, adam, adamw, chain, clip_by_global_norm, sgd
from odyssey_lessons.schedules import Schedule, warmup_cosine
from odyssey_lessons.train import GradScaler, History, evaluate, fit

OPTIMIZER_NAMES = ("adam", "adamw", "sgd_momentum")
SCHEDULE_NAMES = ("constant", "warmup_cosine")


@dataclass(frozen=True)
class Recipe:
    """Every choice of one training run of the digits CNN.

    Attributes:
        optimizer: ``"adam"`` (L2-free Adam), ``"adamw"`` (decoupled weight decay) or ``"sgd_momentum"`` (momentum
            0.9; its ``weight_decay`` is PyTorch's, added to the gradient).
        schedule: ``"constant"`` or ``"warmup_cosine"`` (linear warm-up over ``warmup_epochs``, then cosine to 0).
        dropout: Dropout probability before the last Linear layer (0: no Dropout layer).
        weight_decay: Weight decay of the optimizer (``"adam"`` ignores it and must have 0).
        clip_norm: Clip the gradients to this global L2 norm (None: no clipping).
        policy: Precision policy of :func:`~odyssey_lessons.train.fit` (``"fp32"``, ``"bf16"``, ``"fp16"``, ...);
            ``"fp16"`` trains with a fresh :class:`~odyssey_lessons.train.GradScaler`.
        epochs, batch_size, warmup_epochs: The budget, shared by every variant so they compare fairly.
        channels, hidden: Size of :func:`~odyssey_lessons.nn.digits_cnn`.
    """

    optimizer: str = "adamw"
    schedule: str = "warmup_cosine"
    dropout: float = 0.2
    weight_decay: float = 0.1
    clip_norm: float | None = 1.0
    policy: str = "bf16"
    epochs: int = 8
    batch_size: int = 64
    warmup_epochs: int = 1
    channels: int = 8
    hidden: int = 32

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZER_NAMES:
            raise ValueError(f"optimizer must be one of {OPTIMIZER_NAMES}, got optimizer={self.optimizer!r}")
        if self.schedule not in SCHEDULE_NAMES:
            raise ValueError(f"schedule must be one of {SCHEDULE_NAMES}, got schedule={self.schedule!r}")
        if self.optimizer == "adam" and self.weight_decay:
            raise ValueError(f"optimizer='adam' takes no weight decay here (use 'adamw'), got "
                             f"weight_decay={self.weight_decay!r}")  # fmt: skip
        check_int("epochs", self.epochs)
        check_int("warmup_epochs", self.warmup_epochs)
        if not (self.epochs >= 1 and 0 <= self.warmup_epochs < self.epochs):
            raise ValueError(f"need epochs >= 1 and 0 <= warmup_epochs < epochs, got epochs={self.epochs!r}, "
                             f"warmup_epochs={self.warmup_epochs!r}")  # fmt: skip

    def steps_per_epoch(self, n_train: int) -> int:
        """Optimizer steps per epoch for ``n_train`` examples (the last batch may be smaller)."""
        return -(-int(n_train) // self.batch_size)

    def model(self, seed: int) -> Sequential:
        """A fresh digits CNN initialised with ``seed`` (dropout as the recipe says)."""
        return digits_cnn(rng=np.random.default_rng(seed), channels=self.channels, hidden=self.hidden,
                          dropout=self.dropout)  # fmt: skip

    def learning_rate(self, lr: float, n_train: int) -> float | Schedule:
        """The recipe's learning rate at peak ``lr``: the constant, or the warm-up + cosine schedule over the run."""
        if self.schedule == "constant":
            return lr
        spe = self.steps_per_epoch(n_train)
        return warmup_cosine(lr, warmup_steps=self.warmup_epochs * spe, total_steps=self.epochs * spe)


def recipe_optimizer(
    lr: float | Schedule,
    *,
    optimizer: str = "adamw",
    weight_decay: float = 0.1,
    clip_norm: float | None = 1.0,
) -> GradientTransformation:
    """``chain(clip_by_global_norm(clip_norm), <optimizer>(lr, weight_decay))``: clip the gradients, then update.

    ``optimizer`` is one of :data:`OPTIMIZER_NAMES`; ``lr`` a constant or a schedule (``step -> lr``). Without
    clipping the optimizer is returned alone.

    Raises:
        ValueError: An unknown optimizer, weight decay with ``"adam"``, or a bad ``lr`` / ``clip_norm``.
    """
    if optimizer not in OPTIMIZER_NAMES:
        raise ValueError(f"optimizer must be one of {OPTIMIZER_NAMES}, got optimizer={optimizer!r}")
    if optimizer == "adam":
        if weight_decay:
            raise ValueError(f"optimizer='adam' takes no weight decay here (use 'adamw'), got {weight_decay=}")
        update = adam(lr)
    elif optimizer == "adamw":
        update = adamw(lr, weight_decay=weight_decay)
    else:
        update = sgd(lr, momentum=0.9, weight_decay=weight_decay)
    return update if clip_norm is None else chain(clip_by_global_norm(clip_norm), update)


@dataclass(frozen=True)
class CapstoneRun:
    """One trained recipe: its ``history`` (per step and epoch), test accuracy and the trained ``model``."""

    recipe: Recipe
    lr: float
    seed: int
    history: History
    test_acc: float
    model: Sequential

    @property
    def seconds_per_step(self) -> float:
        """Wall time of the whole run (epoch evaluations included) per optimizer step."""
        return self.history.seconds / len(self.history.step["loss"])

    @property
    def gap(self) -> float:
        """Training minus validation accuracy after the last epoch."""
        return float(self.history.epoch["train_acc"][-1] - self.history.epoch["val_acc"][-1])


def capstone_run(recipe: Recipe, lr: float, *, seed: int = 0) -> CapstoneRun:
    """Train ``recipe`` at peak learning rate ``lr`` with ``seed`` (initialisation, batch order, dropout masks) on
    the digits (:func:`~odyssey_lessons.data.digits_task`, CNN layout); test accuracy under the recipe's policy.

    Raises:
        ValueError: ``lr`` not a positive finite number, or a bad seed.
    """
    lr = check_positive("lr", lr)
    task = digits_task("cnn")
    model = recipe.model(seed)
    optimizer = recipe_optimizer(recipe.learning_rate(lr, len(task.train[1])), optimizer=recipe.optimizer,
                                 weight_decay=recipe.weight_decay, clip_norm=recipe.clip_norm)  # fmt: skip
    scaler = GradScaler() if recipe.policy == "fp16" else None
    history = fit(model, task.train, val=task.val, optimizer=optimizer, epochs=recipe.epochs,
                  batch_size=recipe.batch_size, policy=recipe.policy, scaler=scaler, seed=seed)  # fmt: skip
    _, test_acc = evaluate(model, *task.test, policy=recipe.policy)
    return CapstoneRun(recipe, float(lr), seed, history, float(test_acc), model)
