"""Calibration observers: watch tensors, then turn what they saw into :class:`~odyssey_lessons.quant.QParams`.

``obs = MinMaxObserver(bits=8, symmetric=False); for x in batches: obs.observe(x); qp = obs.qparams()``.

- :class:`MinMaxObserver`: running ``min``/``max`` over every call (PyTorch's ``MinMaxObserver``).
- :class:`MovingAverageMinMaxObserver`: the first call sets ``min``/``max``, later calls move them by
  ``min += c * (new_min - min)`` (PyTorch's ``MovingAverageMinMaxObserver``, ``c = averaging_constant``).
- :class:`PercentileObserver`: clips outliers: ``hi = percentile(x, p)``, ``lo = percentile(x, 100 - p)``
  (symmetric: ``hi = percentile(|x|, p)``, ``lo = -hi``).
- :class:`MSEObserver`: tries ``n_grid`` ranges ``alpha * [min, max]`` for ``alpha = 1, 1 - 1/n, ..., 1/n`` and keeps,
  per slice, the one whose fake-quantized values have the smallest mean squared error.

The percentile and MSE observers keep every observed value (they need the whole distribution); fine for a
calibration set of a few batches, not for streaming over a dataset. Every slice (channel or group) must have the same
reduced shape on every call; for channels the other axes (e.g. the batch) may change size.
"""

from __future__ import annotations

import numpy as np

from odyssey_lessons._validate import check_int, check_real
from odyssey_lessons.quant._affine import (
    GRANULARITIES,
    QParams,
    as_rows,
    calc_qparams,
    check_granularity,
    fake_quantize,
    qrange,
)


class Observer:
    """Base class: :meth:`observe` accumulates statistics, :meth:`qparams` turns them into :class:`QParams`.

    Args:
        bits: Integer width, 2..8.
        symmetric: Symmetric (signed, ``z = 0``) or asymmetric (unsigned with a zero point).
        granularity: ``"tensor"``, ``"channel"`` or ``"group"``.
        axis: The channel axis (default 0) or grouped axis (default -1); ``None`` per tensor.
        group_size: Elements per group (``"group"`` only).

    Raises:
        ValueError/TypeError: Bad bits, symmetric or granularity (axis and group size are checked on the first
            :meth:`observe`, when the tensor's shape is known).
    """

    def __init__(
        self,
        *,
        bits: int = 8,
        symmetric: bool = True,
        granularity: str = "tensor",
        axis: int | None = None,
        group_size: int | None = None,
    ) -> None:
        qrange(bits, symmetric)
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity=}")
        self.bits, self.symmetric = int(bits), bool(symmetric)
        self.granularity, self.axis, self.group_size = granularity, axis, group_size
        self._reduced: tuple[int, ...] | None = None
        self._ndim: int | None = None
        self._axis: int | None = None
        self._group: int | None = None

    def _rows(self, x: object) -> np.ndarray:
        """Validate ``x`` and return it as one row per slice (see :func:`~odyssey_lessons.quant._affine.as_rows`)."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x must be a numpy.ndarray, got {type(x).__name__}")
        if x.dtype.kind != "f":
            raise TypeError(f"x must have a float dtype, got x.dtype={x.dtype}")
        if x.size == 0:
            raise ValueError(f"empty calibration data: x.shape={x.shape} has no elements")
        if not np.all(np.isfinite(x)):
            raise ValueError("x must be finite (NaN or inf has no quantization range)")
        gran, axis, group = check_granularity(max(x.ndim, 1), self.granularity, self.axis, self.group_size)
        if gran != "tensor":
            check_granularity(x.ndim, gran, axis, group, dim=x.shape[axis])
        rows, red = as_rows(x.astype(np.float32), gran, axis, group)
        if self._reduced is not None and (red != self._reduced or x.ndim != self._ndim):
            raise ValueError(
                f"x.shape={x.shape} gives {gran} ranges of shape {red}, but earlier calls gave {self._reduced}"
            )
        self._reduced, self._ndim, self._axis, self._group = red, x.ndim, axis, group
        return rows

    def observe(self, x: np.ndarray) -> Observer:
        """Record the statistics of ``x``; returns ``self`` (so ``obs.observe(x).qparams()`` reads well).

        Raises:
            ValueError: ``x`` is empty or not finite, the axis does not exist, the group size does not divide the
                dimension, or the slices differ in shape from earlier calls.
            TypeError: ``x`` is not a float ndarray.
        """
        self._update(self._rows(x))
        return self

    def _update(self, rows: np.ndarray) -> None:
        raise NotImplementedError

    def ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """The calibrated ``(lo, hi)`` in the reduced keepdims shape.

        Raises:
            ValueError: Nothing has been observed ("empty calibration data").
        """
        if self._reduced is None:
            raise ValueError(f"empty calibration data: call {type(self).__name__}.observe(x) before qparams()")
        lo, hi = self._flat_ranges()
        return lo.reshape(self._reduced), hi.reshape(self._reduced)

    def _flat_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def qparams(self) -> QParams:
        """Scales and zero points for the observed ranges (see :func:`~odyssey_lessons.quant.calc_qparams`).

        Raises:
            ValueError: Nothing has been observed ("empty calibration data").
        """
        lo, hi = self.ranges()
        return calc_qparams(
            lo,
            hi,
            bits=self.bits,
            symmetric=self.symmetric,
            granularity=self.granularity,
            axis=self._axis,
            group_size=self._group,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(bits={self.bits}, symmetric={self.symmetric}, granularity={self.granularity!r}, "
            f"axis={self.axis}, group_size={self.group_size})"
        )


class MinMaxObserver(Observer):
    """Range = running ``[min, max]`` over every observed value (per slice)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.min_val: np.ndarray | None = None
        self.max_val: np.ndarray | None = None

    def _update(self, rows: np.ndarray) -> None:
        lo, hi = rows.min(axis=1).astype(np.float64), rows.max(axis=1).astype(np.float64)
        if self.min_val is None:
            self.min_val, self.max_val = lo, hi
        else:
            self.min_val, self.max_val = np.minimum(self.min_val, lo), np.maximum(self.max_val, hi)

    def _flat_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        return self.min_val, self.max_val


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Exponential moving average of each batch's ``[min, max]``: ``min += c * (batch_min - min)`` (the first batch
    sets it), as PyTorch's ``MovingAverageMinMaxObserver``; used for activations during QAT.

    Args:
        averaging_constant: ``c`` in (0, 1]; 1 keeps only the last batch.
    """

    def __init__(self, averaging_constant: float = 0.01, **kwargs: object) -> None:
        super().__init__(**kwargs)
        c = averaging_constant
        c = check_real("averaging_constant", c, low=0.0, high=1.0, low_open=True)
        self.averaging_constant = float(c)

    def _update(self, rows: np.ndarray) -> None:
        lo, hi = rows.min(axis=1).astype(np.float64), rows.max(axis=1).astype(np.float64)
        if self.min_val is None:
            self.min_val, self.max_val = lo, hi
        else:
            c = self.averaging_constant
            self.min_val = self.min_val + c * (lo - self.min_val)
            self.max_val = self.max_val + c * (hi - self.max_val)


class _StoringObserver(Observer):
    """Keeps every observed row; the range is computed from all of them in :meth:`ranges`."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._chunks: list[np.ndarray] = []

    def _update(self, rows: np.ndarray) -> None:
        self._chunks.append(np.array(rows, dtype=np.float32))

    def _all_rows(self) -> np.ndarray:
        return np.concatenate(self._chunks, axis=1)


class PercentileObserver(_StoringObserver):
    """Range from percentiles, ignoring the rarest outliers: asymmetric ``[percentile(x, 100 - p), percentile(x, p)]``,
    symmetric ``hi = percentile(|x|, p)``, ``lo = -hi`` (``np.percentile``, linear interpolation).

    Args:
        percentile: ``p`` in (50, 100]; 100 is the min-max range.
    """

    def __init__(self, percentile: float = 99.99, **kwargs: object) -> None:
        super().__init__(**kwargs)
        p = percentile
        p = check_real("percentile", p, low=50.0, high=100.0, low_open=True)
        self.percentile = float(p)

    def _flat_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self._all_rows().astype(np.float64)
        if self.symmetric:
            hi = np.percentile(np.abs(rows), self.percentile, axis=1)
            return -hi, hi
        return np.percentile(rows, 100.0 - self.percentile, axis=1), np.percentile(rows, self.percentile, axis=1)


class MSEObserver(_StoringObserver):
    """Range ``alpha * [min, max]`` with ``alpha`` from the grid ``1, 1 - 1/n, ..., 1/n`` minimising, per slice,
    ``mean((x - fake_quantize(x))**2)``. ``alpha = 1`` (min-max) is on the grid and wins ties, so the error is never
    worse than min-max's. Clipping a few outliers buys a finer grid for the bulk of the values.

    Args:
        n_grid: Number of candidate ranges (>= 1).
    """

    def __init__(self, n_grid: int = 100, **kwargs: object) -> None:
        super().__init__(**kwargs)
        n_grid = check_int("n_grid", n_grid, minimum=1)
        self.n_grid = int(n_grid)

    def _flat_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self._all_rows()
        lo, hi = rows.min(axis=1).astype(np.float64)[:, None], rows.max(axis=1).astype(np.float64)[:, None]
        best_lo, best_hi = lo.copy(), hi.copy()
        best_err = np.full(lo.shape, np.inf)
        rows64 = rows.astype(np.float64)
        for i in range(self.n_grid):
            alpha = 1.0 - i / self.n_grid
            qp = calc_qparams(
                alpha * lo, alpha * hi, bits=self.bits, symmetric=self.symmetric, granularity="channel", axis=0
            )
            err = np.mean((rows64 - fake_quantize(rows, qp)) ** 2, axis=1, keepdims=True)
            better = err < best_err
            best_err = np.where(better, err, best_err)
            best_lo = np.where(better, alpha * lo, best_lo)
            best_hi = np.where(better, alpha * hi, best_hi)
        return best_lo[:, 0], best_hi[:, 0]


OBSERVERS: dict[str, type[Observer]] = {
    "minmax": MinMaxObserver,
    "moving_average": MovingAverageMinMaxObserver,
    "percentile": PercentileObserver,
    "mse": MSEObserver,
}
"""Observer classes by name, for ``choose_qparams(..., observer=name)`` and ``FakeQuant(observer=name)``."""


def choose_qparams(
    x: np.ndarray,
    *,
    bits: int = 8,
    symmetric: bool = True,
    granularity: str = "tensor",
    axis: int | None = None,
    group_size: int | None = None,
    observer: str = "minmax",
    **observer_kwargs: object,
) -> QParams:
    """Calibrate on ``x`` with one of :data:`~odyssey_lessons.quant.OBSERVERS` and return its :class:`QParams`.

    ``choose_qparams(w, bits=4, granularity="channel", axis=0)`` is per-output-channel absmax 4-bit quantization.

    Raises:
        ValueError: Unknown observer, empty or non-finite ``x``, or a bad bits/granularity/axis/group_size.
        TypeError: ``x`` is not a float ndarray.
    """
    if observer not in OBSERVERS:
        raise ValueError(f"observer must be one of {tuple(OBSERVERS)}, got {observer=}")
    obs = OBSERVERS[observer](
        bits=bits, symmetric=symmetric, granularity=granularity, axis=axis, group_size=group_size, **observer_kwargs
    )
    return obs.observe(x).qparams()
