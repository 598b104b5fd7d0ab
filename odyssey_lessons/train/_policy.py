"""Precision policies: which format weights, activations and gradients are rounded to during training.

A policy is data. The training step applies it at fixed points:

- before the forward pass, the weights used for compute are ``quantize(master, weights)``;
- after every layer's forward, its output is rounded to ``activations``;
- after every layer's backward, the gradient it passes on is rounded to ``gradients``, and so are the parameter
  gradients;
- sums inside matmuls and convolutions accumulate in float32 (as tensor cores do), and so does the loss.

With ``master_weights=True`` the optimizer updates a float32 copy; with ``False`` the updated weights are rounded back
to the ``weights`` format after every step (``update_rounding="stochastic"`` is the alternative to master weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from odyssey_lessons._validate import check_int
from odyssey_lessons.formats import FloatFormat, get_format, quantize

UPDATE_ROUNDINGS = ("nearest", "stochastic")
SCALINGS = ("none", "current", "delayed", "mx")


@dataclass(frozen=True)
class PrecisionPolicy:
    """Formats for weights, activations and gradients, and how weight updates are kept.

    Args:
        name: Short name shown in tables and plots.
        weights: Format the weights are rounded to for compute (and for storage without master weights).
        activations: Format of every layer output in the forward pass.
        gradients: Format of every gradient in the backward pass (activation and parameter gradients).
        master_weights: Keep float32 master weights for the optimizer update.
        update_rounding: Without master weights, how updated weights are rounded back: "nearest" or "stochastic".
        scaling: FP8 scaling recipe applied by the training loop to every cast: "none" (plain rounding, overflow to
            inf/NaN), "current" (per-tensor scale from the tensor's amax), "delayed" (per-tensor scale from an amax
            history of ``amax_history`` steps) or "mx" (blocks of 32 sharing a power-of-two scale). The ``round_*``
            methods below always round plainly; :class:`~odyssey_lessons.train.Caster` applies the recipe.
        amax_history: Length of the amax history for ``scaling="delayed"``.

    Raises:
        ValueError: Unknown format name, update_rounding or scaling, or amax_history < 1.
    """

    name: str
    weights: FloatFormat
    activations: FloatFormat
    gradients: FloatFormat
    master_weights: bool = True
    update_rounding: str = "nearest"
    scaling: str = "none"
    amax_history: int = 16

    def __post_init__(self) -> None:
        for field in ("weights", "activations", "gradients"):
            object.__setattr__(self, field, get_format(getattr(self, field)))
        if self.update_rounding not in UPDATE_ROUNDINGS:
            raise ValueError(f"update_rounding must be one of {UPDATE_ROUNDINGS}, got {self.update_rounding!r}")
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, got scaling={self.scaling!r}")
        check_int("amax_history", self.amax_history, minimum=1)

    @property
    def is_fp32(self) -> bool:
        """True when nothing is rounded (every format is fp32)."""
        return all(f.is_float32 for f in (self.weights, self.activations, self.gradients))

    def round_weights(self, x: np.ndarray) -> np.ndarray:
        return _round(x, self.weights)

    def round_activations(self, x: np.ndarray) -> np.ndarray:
        return _round(x, self.activations)

    def round_gradients(self, x: np.ndarray) -> np.ndarray:
        return _round(x, self.gradients)

    def store_weights(self, x: np.ndarray, *, seed: int) -> np.ndarray:
        """Weights after an update when there are no master weights: rounded to ``weights`` with
        ``update_rounding`` (float32 master weights are returned as they are)."""
        if self.master_weights or self.weights.is_float32:
            return x
        return quantize(x, self.weights, rounding=self.update_rounding, seed=seed)


def _round(x: np.ndarray, f: FloatFormat) -> np.ndarray:
    return x if f.is_float32 else quantize(x, f)


POLICIES: dict[str, PrecisionPolicy] = {
    p.name: p
    for p in [
        PrecisionPolicy("fp32", "fp32", "fp32", "fp32"),
        PrecisionPolicy("fp16", "fp16", "fp16", "fp16"),
        PrecisionPolicy("bf16", "bf16", "bf16", "bf16"),
        # FP8 "hybrid" (Micikevicius et al. 2022): E4M3 forward (weights, activations), E5M2 backward.
        PrecisionPolicy("fp8_hybrid", "e4m3fn", "e4m3fn", "e5m2"),
        PrecisionPolicy("fp8_current", "e4m3fn", "e4m3fn", "e5m2", scaling="current"),
        PrecisionPolicy("fp8_delayed", "e4m3fn", "e4m3fn", "e5m2", scaling="delayed"),
        PrecisionPolicy("fp8_mx", "e4m3fn", "e4m3fn", "e5m2", scaling="mx"),
    ]
}
"""Ready-made policies, all with master weights: fp32, fp16, bf16, the FP8 hybrid (E4M3 forward, E5M2 backward)
without scaling, and the hybrid with each FP8 scaling recipe (current, delayed, MX blocks)."""


def get_policy(policy: str | PrecisionPolicy) -> PrecisionPolicy:
    """Resolve a policy name or pass a :class:`PrecisionPolicy` through.

    Raises:
        ValueError: Unknown name (the message lists the known ones).
        TypeError: Neither a str nor a PrecisionPolicy.
    """
    if isinstance(policy, PrecisionPolicy):
        return policy
    if not isinstance(policy, str):
        raise TypeError(f"policy must be a name or a PrecisionPolicy, got {type(policy).__name__} {policy!r}")
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; known policies: {', '.join(POLICIES)}")
    return POLICIES[policy]
