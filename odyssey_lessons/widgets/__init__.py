"""ipywidgets dashboards used by the lessons (each testable headless through its public controls), and the small
HTML tables the lessons print."""

from odyssey_lessons.widgets._format_explorer import FIELD_COLOURS, FormatExplorer, parse_value
from odyssey_lessons.widgets._loss_scale import GRAD_FORMATS, LossScaleSweep
from odyssey_lessons.widgets._optimizer_explorer import CHOICES, OptimizerExplorer, make_optimizer
from odyssey_lessons.widgets._profile_explorer import (
    PASSES,
    MachineRoofs,
    ProfileExplorer,
    ProfileSetting,
    machine_roofs,
    profile_setting,
)
from odyssey_lessons.widgets._quant_explorer import QuantExplorer
from odyssey_lessons.widgets._regularization import RegularizationExplorer
from odyssey_lessons.widgets._schedule_explorer import ScheduleExplorer
from odyssey_lessons.widgets._tables import html_table

__all__ = [
    "QuantExplorer",
    "PASSES",
    "MachineRoofs",
    "ProfileExplorer",
    "ProfileSetting",
    "machine_roofs",
    "profile_setting",
    "CHOICES",
    "FIELD_COLOURS",
    "GRAD_FORMATS",
    "FormatExplorer",
    "LossScaleSweep",
    "OptimizerExplorer",
    "RegularizationExplorer",
    "ScheduleExplorer",
    "html_table",
    "make_optimizer",
    "parse_value",
]
