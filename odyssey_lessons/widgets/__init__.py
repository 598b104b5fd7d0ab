"""ipywidgets dashboards used by the lessons; each is testable headless through its public controls."""

from odyssey_lessons.widgets._format_explorer import FIELD_COLOURS, FormatExplorer, parse_value

__all__ = ["FIELD_COLOURS", "FormatExplorer", "parse_value"]
