"""Learning-rate schedules: functions of the step returning the learning rate, vectorised for plotting.

``schedule(k)`` is the learning rate of the k-th update, ``k = 0`` for the first: the convention of ``lr_at`` in
:mod:`odyssey_lessons.optim` (so a schedule can be passed as an optimizer's ``lr``) and the value torch leaves in
``optimizer.param_groups[0]["lr"]`` after ``k`` calls of ``scheduler.step()``. Pass an int for a float, an integer
array (``np.arange(n)``) for a float64 array of the same shape; negative steps raise ``ValueError``.

- :func:`constant`, :func:`step_decay`, :func:`multistep`, :func:`exponential`, :func:`linear`, :func:`polynomial`,
  :func:`cosine` -- closed-form decays, equal to torch's ``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``LinearLR``,
  ``PolynomialLR``, ``CosineAnnealingLR``.
- :func:`sgdr` (``CosineAnnealingWarmRestarts``) and :func:`one_cycle` (``OneCycleLR``) -- cyclic schedules.
- :func:`warmup` (linear warm-up in front of any schedule), :func:`warmup_cosine`, :func:`inverse_sqrt`
  (Transformer / Noam), :func:`wsd` (warmup-stable-decay).
- :func:`join` -- schedules end to end, each from its own step 0 (optax ``join_schedules``).
- :class:`ReduceLROnPlateau` -- the stateful one, driven by a metric (torch's rules exactly).
- :data:`SCHEDULES` (name -> factory) and :func:`example_schedules` (one of each, for plots and the widget).
"""

from odyssey_lessons.schedules._base import Schedule
from odyssey_lessons.schedules._combine import join
from odyssey_lessons.schedules._cyclic import one_cycle, sgdr
from odyssey_lessons.schedules._decay import constant, cosine, exponential, linear, multistep, polynomial, step_decay
from odyssey_lessons.schedules._plateau import ReduceLROnPlateau
from odyssey_lessons.schedules._registry import SCHEDULES, example_schedules
from odyssey_lessons.schedules._warmup import inverse_sqrt, warmup, warmup_cosine, wsd

__all__ = [
    "SCHEDULES",
    "ReduceLROnPlateau",
    "Schedule",
    "constant",
    "cosine",
    "example_schedules",
    "exponential",
    "inverse_sqrt",
    "join",
    "linear",
    "multistep",
    "one_cycle",
    "polynomial",
    "sgdr",
    "step_decay",
    "warmup",
    "warmup_cosine",
    "wsd",
]
