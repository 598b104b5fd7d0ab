"""Training: the ``fit`` loop, precision policies, loss scaling, clipping, gradient statistics, FP8 recipes."""

from odyssey_lessons.train._capstone import CapstoneRun, Recipe, capstone_run, recipe_optimizer
from odyssey_lessons.train._cast import Caster, mx_fake_quantize
from odyssey_lessons.train._clip import clip_grad_norm, clip_grad_value
from odyssey_lessons.train._fit import History, evaluate, fit
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
from odyssey_lessons.train._quant_study import (
    CALIBRATIONS,
    ActivationQuantizer,
    LayerQuant,
    PTQResult,
    QuantSetup,
    TrainedDigits,
    calibrate_activations,
    float_copy,
    ptq_evaluate,
    ptq_run,
    trained_digits,
)
from odyssey_lessons.train._reg_study import REGULARIZERS, RegRun, RegSetup, regularization_run
from odyssey_lessons.train._regularize import EarlyStopping, add_l2_gradient, l2_penalty, max_norm_
from odyssey_lessons.train._scaler import GradScaler, LossScaler, NoScaler, StaticScaler
from odyssey_lessons.train._schedule_run import ScheduleRun, schedule_run, steps_per_epoch
from odyssey_lessons.train._sweep import (
    LOG2_SCALE_RANGE,
    LossScalePoint,
    SweepSetup,
    initial_gradients,
    loss_scale_point,
)

__all__ = [
    "CALIBRATIONS",
    "ActivationQuantizer",
    "LayerQuant",
    "PTQResult",
    "QuantSetup",
    "TrainedDigits",
    "calibrate_activations",
    "float_copy",
    "ptq_evaluate",
    "ptq_run",
    "trained_digits",
    "CapstoneRun",
    "Recipe",
    "capstone_run",
    "recipe_optimizer",
    "LOG2_SCALE_RANGE",
    "POLICIES",
    "REGULARIZERS",
    "Caster",
    "DelayedScaling",
    "EarlyStopping",
    "GradScaler",
    "GradStats",
    "History",
    "LossScalePoint",
    "LossScaler",
    "NoScaler",
    "PrecisionPolicy",
    "RangeTest",
    "RegRun",
    "RegSetup",
    "ScheduleRun",
    "StaticScaler",
    "SweepSetup",
    "add_l2_gradient",
    "clip_grad_norm",
    "clip_grad_value",
    "current_scale",
    "evaluate",
    "fake_quantize_scaled",
    "fit",
    "get_policy",
    "gradient_stats",
    "initial_gradients",
    "l2_penalty",
    "loss_scale_point",
    "lr_range_test",
    "max_norm_",
    "mx_block_dequantize",
    "mx_block_quantize",
    "mx_fake_quantize",
    "regularization_run",
    "schedule_run",
    "smooth_losses",
    "steps_per_epoch",
]
