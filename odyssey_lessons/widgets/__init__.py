"""ipywidgets dashboards used by the lessons; each is testable headless through its public controls."""

from odyssey_lessons.widgets._format_explorer import FIELD_COLOURS, FormatExplorer, parse_value
from odyssey_lessons.widgets._loss_scale import GRAD_FORMATS, LossScaleSweep
from odyssey_lessons.widgets._optimizer_explorer import CHOICES, OptimizerExplorer, make_optimizer
from odyssey_lessons.widgets._schedule_explorer import ScheduleExplorer

__all__ = [
    "CHOICES",
    "FIELD_COLOURS",
    "GRAD_FORMATS",
    "FormatExplorer",
    "LossScaleSweep",
    "OptimizerExplorer",
    "ScheduleExplorer",
    "make_optimizer",
    "parse_value",
]
