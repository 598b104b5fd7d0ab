"""Optimizers as pure ``init``/``update`` pairs (optax style) with PyTorch's update rules."""

from odyssey_lessons.optim._base import GradientTransformation, apply_updates, state_bytes
from odyssey_lessons.optim._optimizers import AdamState, SgdState, adam, adamw, sgd

__all__ = ["AdamState", "GradientTransformation", "SgdState", "adam", "adamw", "apply_updates", "sgd", "state_bytes"]
