"""The checks particular to schedules (a learning rate and its floor); the general ones are in
:mod:`odyssey_lessons._validate`."""

from __future__ import annotations

from odyssey_lessons._validate import check_positive, check_real


def check_lr(value: object, name: str = "lr") -> float:
    """A learning rate is a finite number ``> 0``.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value`` is not finite or not ``> 0``.
    """
    return check_positive(name, value)


def check_min_lr(value: object, lr: float, name: str = "min_lr") -> float:
    """A floor (or end value) of a decay: ``0 <= value <= lr``.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value`` is outside ``[0, lr]``.
    """
    return check_real(name, value, low=0, high=lr)
