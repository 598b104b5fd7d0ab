"""Training: precision policies, loss scaling, gradient clipping and statistics, FP8 scaling recipes."""

from odyssey_lessons.train._clip import clip_grad_norm, clip_grad_value
from odyssey_lessons.train._fp8 import (
    DelayedScaling,
    current_scale,
    fake_quantize_scaled,
    mx_block_dequantize,
    mx_block_quantize,
)
from odyssey_lessons.train._grads import GradStats, gradient_stats
from odyssey_lessons.train._policy import POLICIES, PrecisionPolicy, get_policy
from odyssey_lessons.train._scaler import GradScaler, LossScaler, NoScaler, StaticScaler

__all__ = [
    "POLICIES",
    "DelayedScaling",
    "GradScaler",
    "GradStats",
    "LossScaler",
    "NoScaler",
    "PrecisionPolicy",
    "StaticScaler",
    "clip_grad_norm",
    "clip_grad_value",
    "current_scale",
    "fake_quantize_scaled",
    "get_policy",
    "gradient_stats",
    "mx_block_dequantize",
    "mx_block_quantize",
]
