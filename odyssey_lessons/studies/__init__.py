"""The lessons' experiments: one module per lesson, above the engines (train, quant, perf) and below the widgets.

A study sets up a lesson's runs (models, data, budgets, seeds) and returns data; the lessons and widgets render it.
The verdicts on the seed material's claims are made from that data by :mod:`odyssey_lessons.evidence`.
"""

from odyssey_lessons.studies._capstone import CapstoneRun, Recipe, capstone_run, recipe_optimizer
from odyssey_lessons.studies._inference import (
    ENGINE_OURS,
    INT8_SPEEDUP,
    int8_speedups,
    int8_verdicts,
    onnxruntime_version,
)
from odyssey_lessons.studies._mixed_precision import (
    HIST_EDGES,
    LOG2_SCALE_RANGE,
    LossScalePoint,
    SweepSetup,
    initial_gradients,
    loss_scale_point,
)
from odyssey_lessons.studies._mnist1d import BestLR, at_best_lr, mnist1d_split, optimizer_study, schedule_study
from odyssey_lessons.studies._profiling import largest_share, repeated_profiles, row_shares
from odyssey_lessons.studies._quantization import (
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
from odyssey_lessons.studies._regularization import (
    MNIST1D_ARMS,
    REGULARIZERS,
    Mnist1dRegRun,
    Mnist1dRegSetup,
    RegRun,
    RegSetup,
    mnist1d_regularization_arms,
    mnist1d_regularization_run,
    regularization_run,
)
from odyssey_lessons.studies._schedules import ScheduleRun, schedule_run, steps_per_epoch

__all__ = [
    "HIST_EDGES",
    "largest_share",
    "repeated_profiles",
    "row_shares",
    "CapstoneRun",
    "Recipe",
    "capstone_run",
    "recipe_optimizer",
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
    "REGULARIZERS",
    "RegRun",
    "RegSetup",
    "regularization_run",
    "MNIST1D_ARMS",
    "Mnist1dRegRun",
    "Mnist1dRegSetup",
    "mnist1d_regularization_arms",
    "mnist1d_regularization_run",
    "ScheduleRun",
    "schedule_run",
    "steps_per_epoch",
    "LOG2_SCALE_RANGE",
    "LossScalePoint",
    "SweepSetup",
    "initial_gradients",
    "loss_scale_point",
    "ENGINE_OURS",
    "int8_speedups",
    "INT8_SPEEDUP",
    "int8_verdicts",
    "onnxruntime_version",
    "BestLR",
    "at_best_lr",
    "mnist1d_split",
    "optimizer_study",
    "schedule_study",
]
