"""Objects a check makes on both sides of its calls, to watch how the learner's code uses them.

A check makes one with ``answers.call("odyssey_lessons.grading.fixtures:Name", ...)``: the learner's kernel and the
reference each build their own, the check passes it to the learner's function, then reads what happened with
``remote.get("attribute")`` or calls its methods, compared like any call.

- :class:`FakeClock` and :class:`Workload`: time that moves only when the timed function runs, so a timing harness
  can be checked exactly (which calls it timed, how often it called).
- :func:`replay_in_place`: an early-stopping object stepped as a training loop steps it, with one dict of weight
  arrays updated in place every epoch, so a stopper that keeps references instead of copies is seen.
- :class:`OptimizerRun`: an optimizer stepped on its own copy of the parameters. Its state stays inside, so two
  optimizers that compute the same updates compare equal however they structure their state (a chain of four
  transforms and a fused kernel, say).
"""

from __future__ import annotations

import numpy as np

from odyssey_lessons.optim import GradientTransformation, apply_updates

__all__ = ["FakeClock", "OptimizerRun", "Workload", "replay_in_place"]

Params = dict[str, np.ndarray]


class FakeClock:
    """A clock (call it for the time in seconds) that moves only when a :class:`Workload` on it runs."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now


class Workload:
    """A function of no arguments whose k-th call advances ``clock`` by ``durations[k]`` seconds.

    Attributes:
        calls: How many times it was called.

    Raises:
        AssertionError: When called more than ``len(durations)`` times (the harness called it too often).
    """

    def __init__(self, clock: FakeClock, durations: list[float]) -> None:
        self.clock, self.durations, self.calls = clock, [float(d) for d in durations], 0

    def __call__(self) -> None:
        if self.calls >= len(self.durations):
            raise AssertionError(f"fn was called more than {len(self.durations)} times")
        self.clock.now += self.durations[self.calls]
        self.calls += 1


class OptimizerRun:
    """``optimizer`` on a copy of ``params``: each :meth:`step` applies one update and returns the new parameters.

    ``step(grads)``: ``updates, state = optimizer.update(grads, state, params)``, then ``params + updates``.
    """

    def __init__(self, optimizer: GradientTransformation, params: Params) -> None:
        if not isinstance(optimizer, GradientTransformation):
            raise TypeError(f"optimizer must be a GradientTransformation, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.params = {k: np.array(v, dtype=np.float32) for k, v in params.items()}
        self.state = optimizer.init(self.params)

    def step(self, grads: Params) -> Params:
        """One optimizer step on ``grads``; returns the parameters after it (copies)."""
        updates, self.state = self.optimizer.update(grads, self.state, self.params)
        self.params = apply_updates(self.params, updates)
        return {k: np.array(v) for k, v in self.params.items()}


def replay_in_place(stopper: object, losses: list[float]) -> tuple[int | None, int | None, Params | None]:
    """Step ``stopper`` (``step(epoch, val_loss, params) -> bool``) through ``losses`` as a training loop would.

    One dict of weights is updated *in place* every epoch (``w = epoch``, ``b = -epoch``) before ``step`` sees it.

    Returns:
        ``(the epoch it stopped after, or None; its best_epoch; a copy of its best_params)``.
    """
    params = {"w": np.zeros(3, np.float32), "b": np.zeros(1, np.float32)}
    stopped = None
    for epoch, loss in enumerate(losses, start=1):
        params["w"][:] = epoch
        params["b"][:] = -epoch
        if stopper.step(epoch, float(loss), params):
            stopped = epoch
            break
    best = stopper.best_params
    kept = None if best is None else {name: np.array(value) for name, value in best.items()}
    return stopped, stopper.best_epoch, kept
