"""Training: the ``fit`` loop (its settings one ``FitConfig``, its progress reported to a callback such as
``ProgressBar``), precision policies, loss scaling, clipping, gradient statistics, FP8 recipes.

The lessons' experiments built on it live one layer up, in :mod:`odyssey_lessons.studies`."""

from odyssey_lessons.train._cast import Caster, mx_fake_quantize
from odyssey_lessons.train._clip import clip_grad_norm
from odyssey_lessons.train._config import FitConfig, FitEvent, History
from odyssey_lessons.train._fit import evaluate, fit, predict
from odyssey_lessons.train._fp8 import (
    DelayedScaling,
    current_scale,
    fake_quantize_scaled,
    mx_block_dequantize,
    mx_block_quantize,
)
from odyssey_lessons.train._grads import GradStats, gradient_stats
from odyssey_lessons.train._lr_range import RangeTest, lr_range_test, smooth_losses
from odyssey_lessons.train._policy import POLICIES, PrecisionPolicy, get_policy
from odyssey_lessons.train._progress import ProgressBar
from odyssey_lessons.train._regularize import EarlyStopping, l2_penalty, max_norm_, weight_mask
from odyssey_lessons.train._scaler import GradScaler, LossScaler, NoScaler, StaticScaler

__all__ = [
    "POLICIES",
    "Caster",
    "DelayedScaling",
    "EarlyStopping",
    "FitConfig",
    "FitEvent",
    "GradScaler",
    "GradStats",
    "History",
    "LossScaler",
    "NoScaler",
    "PrecisionPolicy",
    "ProgressBar",
    "RangeTest",
    "StaticScaler",
    "clip_grad_norm",
    "current_scale",
    "evaluate",
    "fake_quantize_scaled",
    "fit",
    "predict",
    "get_policy",
    "gradient_stats",
    "l2_penalty",
    "lr_range_test",
    "max_norm_",
    "mx_block_dequantize",
    "mx_block_quantize",
    "mx_fake_quantize",
    "smooth_losses",
    "weight_mask",
]
