"""Two-dimensional test problems for watching optimizers move: each is a loss ``f(x, y)`` with its exact gradient.

- ``ill_conditioned``: ``f = (x**2 + 25 y**2) / 2``, a quadratic bowl 25 times steeper in ``y`` than in ``x``
  (condition number 25): plain gradient descent zig-zags across the valley and crawls along it.
- ``rosenbrock``: ``f = (1 - x)**2 + 100 (y - x**2)**2``, a curved, narrow valley with its minimum at (1, 1).
- ``saddle``: ``f = x**2 - y**2 + y**4 / 4``, a saddle point at the origin and minima at (0, +-sqrt(2)): starting
  almost on the ridge, an optimizer must find the way down.

:func:`trajectory` runs any :mod:`odyssey_lessons.optim` optimizer on one of them, in float32 like training does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from odyssey_lessons._validate import check_int
from odyssey_lessons.optim._base import GradientTransformation, apply_updates


@dataclass(frozen=True)
class Landscape:
    """A 2-D loss with its gradient, a starting point, its minimum and a plotting window."""

    name: str
    loss: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[float, float], tuple[float, float]]
    start: tuple[float, float]
    minimum: tuple[float, float]
    bounds: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max

    def min_value(self) -> float:
        return float(self.loss(np.array(self.minimum[0]), np.array(self.minimum[1])))


def _quad(x, y):
    return 0.5 * (x * x + 25.0 * y * y)


def _rosen(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _saddle(x, y):
    return x * x - y * y + y**4 / 4.0


LANDSCAPES: dict[str, Landscape] = {
    "ill_conditioned": Landscape(
        "ill_conditioned", _quad, lambda x, y: (x, 25.0 * y), (-9.0, 1.5), (0.0, 0.0), (-10.0, 2.0, -2.0, 2.0)
    ),
    "rosenbrock": Landscape(
        "rosenbrock",
        _rosen,
        lambda x, y: (-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)),
        (-1.5, 2.0),
        (1.0, 1.0),
        (-2.0, 2.0, -1.0, 3.0),
    ),
    "saddle": Landscape(
        "saddle",
        _saddle,
        lambda x, y: (2.0 * x, -2.0 * y + y**3),
        (1.5, 1e-3),
        (0.0, np.sqrt(2.0)),
        (-2.0, 2.0, -2.5, 2.5),
    ),  # fmt: skip
}
"""The three problems by name."""


@dataclass(frozen=True)
class Trajectory:
    """Where an optimizer went: ``points[k]`` is ``(x, y)`` after ``k`` updates, ``losses[k]`` the loss there."""

    landscape: str
    points: np.ndarray
    losses: np.ndarray

    @property
    def final_gap(self) -> float:
        """Final loss minus the landscape's minimum value."""
        return float(self.losses[-1] - LANDSCAPES[self.landscape].min_value())


def trajectory(
    optimizer: GradientTransformation, landscape: str | Landscape, *, steps: int = 200, start=None
) -> Trajectory:
    """Run ``optimizer`` for ``steps`` updates from the landscape's start (or ``start``), parameters in float32.

    Raises:
        ValueError: Unknown landscape or ``steps < 1``.
        TypeError: ``optimizer`` is not a GradientTransformation.
    """
    if isinstance(landscape, str):
        if landscape not in LANDSCAPES:
            raise ValueError(f"unknown landscape {landscape!r}; known: {', '.join(LANDSCAPES)}")
        landscape = LANDSCAPES[landscape]
    if not isinstance(optimizer, GradientTransformation):
        raise TypeError(f"optimizer must come from odyssey_lessons.optim, got {type(optimizer).__name__}")
    steps = check_int("steps", steps, minimum=1)
    params = {"xy": np.array(landscape.start if start is None else start, dtype=np.float32)}
    state = optimizer.init(params)
    points = np.empty((steps + 1, 2))
    points[0] = params["xy"]
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is shown as it is, not as a warning
        for k in range(steps):
            x, y = (float(v) for v in params["xy"])
            gx, gy = landscape.grad(x, y)
            grads = {"xy": np.array([gx, gy], dtype=np.float32)}
            updates, state = optimizer.update(grads, state, params)
            params = apply_updates(params, updates)
            points[k + 1] = params["xy"]
        losses = landscape.loss(points[:, 0], points[:, 1])
    return Trajectory(landscape.name, points, losses)
