"""Argument checks for the schedule factories; each raises with the argument's name, its value and what is allowed."""

from __future__ import annotations

import math
import numbers


def check_int(name: str, value: object, *, minimum: int) -> int:
    """Return ``value`` as an int, or raise if it is not an integer (bools excluded) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {name}={value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {name}={value!r}")
    return int(value)


def check_real(name: str, value: object) -> float:
    """Return ``value`` as a finite float, or raise (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {name}={value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {name}={value!r}")
    return float(value)


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a finite float ``> 0``, or raise."""
    x = check_real(name, value)
    if x <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {name}={value!r}")
    return x


def check_lr(value: object, name: str = "lr") -> float:
    """A learning rate is a finite number ``> 0``."""
    return check_positive(name, value)


def check_min_lr(value: object, lr: float, name: str = "min_lr") -> float:
    """A floor (or end value) of a decay: ``0 <= value <= lr``."""
    x = check_real(name, value)
    if not 0.0 <= x <= lr:
        raise ValueError(f"{name} must be in [0, lr={lr!r}], got {name}={value!r}")
    return x


def check_open_unit(name: str, value: object) -> float:
    """Return ``value`` as a float in the open interval ``(0, 1)``, or raise."""
    x = check_real(name, value)
    if not 0.0 < x < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {name}={value!r}")
    return x


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``allowed``, or raise."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {name}={value!r}")
    return str(value)
