"""ML Odyssey Lessons: the support package of an interactive course on fast and small neural-network training.

Subpackages, from the bottom layer up (a lower layer never imports a higher one):

- :mod:`odyssey_lessons.formats` -- simulated low-precision float formats, bit-exact with ml_dtypes.
- :mod:`odyssey_lessons.data` -- the 8x8 digits (vendored) and synthetic problems.
- :mod:`odyssey_lessons.nn` / :mod:`odyssey_lessons.optim` / :mod:`odyssey_lessons.schedules` -- a small neural-net
  engine, optimizers and learning-rate schedules.
- :mod:`odyssey_lessons.quant` -- integer and low-precision-float quantization, calibration observers, bit packing,
  fake quantization for QAT, and integer-only inference kernels.
- :mod:`odyssey_lessons.train` -- the training loop, precision policies, loss scaling, clipping, FP8 scaling recipes.
- :mod:`odyssey_lessons.perf` -- timing harness, FLOP/byte counts, memory accounting, the per-layer profiler, machine
  probes and the roofline.
- :mod:`odyssey_lessons.measured` -- measurements made elsewhere, with their provenance.
- :mod:`odyssey_lessons.widgets` -- ipywidgets dashboards used by the lessons.
- :mod:`odyssey_lessons.grading` -- the solution -> exercise pipeline and the self-check.
"""

from odyssey_lessons._numba_cache import configure_numba_cache

configure_numba_cache()

__version__ = "0.1.0"
__all__ = ["__version__", "configure_numba_cache"]
