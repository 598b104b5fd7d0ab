"""The checks particular to optimizers (a learning rate or schedule, a pair of betas, a tree of arrays that must match
another); the general ones are in :mod:`odyssey_lessons._validate`, whose convention these keep: ``TypeError`` for a
wrong type, ``ValueError`` for a wrong value, the message naming the argument and the bad value."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numpy as np

from odyssey_lessons._validate import check_fraction, check_positive

if TYPE_CHECKING:  # _base checks trees with check_tree; the types are only needed for the annotations here
    from odyssey_lessons.optim._base import Params, Schedule


def check_lr(lr: float | Schedule) -> None:
    """Check a constant learning rate: a finite number > 0 (a schedule, any callable, is checked by its factory).

    Raises:
        TypeError: ``lr`` is neither a real number nor callable.
        ValueError: ``lr`` is not finite or not > 0.
    """
    if callable(lr):
        return
    if isinstance(lr, bool | np.bool_) or not isinstance(lr, numbers.Real):
        raise TypeError(f"lr must be a number > 0 or a schedule (a callable step -> lr), got lr={lr!r}")
    check_positive("lr", lr)


def check_betas(betas: tuple[float, float]) -> tuple[float, float]:
    """Return ``(b1, b2)`` after checking that both are in [0, 1).

    Raises:
        TypeError: ``betas`` is not a tuple or list, or a beta is not a real number.
        ValueError: Not two betas, or a beta outside [0, 1).
    """
    if not isinstance(betas, tuple | list):
        raise TypeError(f"betas must be a pair (b1, b2) of numbers in [0, 1), got betas={betas!r}")
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (b1, b2) of numbers in [0, 1), got betas={betas!r}")
    return check_fraction("betas[0]", betas[0]), check_fraction("betas[1]", betas[1])


def check_tree(tree: Params, reference: Params, name: str, reference_name: str) -> None:
    """Raise unless ``tree`` is a dict with the keys of ``reference`` and arrays of the same shapes.

    Raises:
        TypeError: ``tree`` is not a dict (the message gives its type: its value may be a large array).
        ValueError: Different keys or a shape mismatch (named in the message).
    """
    if not isinstance(tree, dict):
        raise TypeError(f"{name} must be a dict name -> array, got {name} of type {type(tree).__name__}")
    if tree.keys() != reference.keys():
        raise ValueError(
            f"{name} must have the keys of {reference_name}, {sorted(reference)}, got {name} keys {sorted(tree)}"
        )
    for key, x in tree.items():
        if np.shape(x) != np.shape(reference[key]):
            raise ValueError(
                f"{name}[{key!r}] must have the shape of {reference_name}[{key!r}], {np.shape(reference[key])}, "
                f"got {name}[{key!r}].shape={np.shape(x)}"
            )


def need_params(params: Params | None, what: str) -> Params:
    """Return ``params``, which ``what`` (a transform, an optimizer's weight decay) reads.

    Raises:
        ValueError: ``params`` is None.
    """
    if params is None:
        raise ValueError(f"{what} needs params: call update(grads, state, params), got params=None")
    return params
