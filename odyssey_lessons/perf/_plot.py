"""Drawing a :class:`Roofline` (matplotlib is imported inside the function, so importing ``perf`` stays light)."""

from __future__ import annotations

from typing import Any

import numpy as np

from odyssey_lessons.perf._roofline import Roofline


def plot_roofline(ax: Any, roofline: Roofline, *, title: str | None = None) -> Any:
    """Draw the log-log roof (memory slope, compute ceiling, ridge) and one labelled point per kernel on ``ax``.

    Axes: arithmetic intensity (FLOP/byte) against GFLOP/s. Returns ``ax``.

    Raises:
        TypeError: ``roofline`` is not a Roofline, or ``ax`` is not a matplotlib Axes.
    """
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    if not isinstance(roofline, Roofline):
        raise TypeError(f"roofline must be a Roofline (from perf.roofline), got {type(roofline).__name__}")
    intensities = [p.intensity for p in roofline.points] + [roofline.ridge]
    lo, hi = min(intensities) / 4, max(intensities) * 4
    x = np.geomspace(lo, hi, 200)
    roof = np.minimum(roofline.peak_flops, roofline.bandwidth * x) / 1e9
    ax.plot(x, roof, color="black", lw=2, label="roof: min(peak, bandwidth × intensity)")
    ax.axvline(roofline.ridge, color="gray", ls=":", lw=1)
    ax.annotate(f"ridge {roofline.ridge:.3g} FLOP/B", (roofline.ridge, roofline.peak_flops / 1e9), fontsize=8,
                xytext=(4, -12), textcoords="offset points", color="gray")  # fmt: skip
    for p in roofline.points:
        color = "tab:blue" if p.bound == "memory" else "tab:red"
        ax.plot(p.intensity, p.achieved / 1e9, "o", color=color)
        ax.annotate(p.name, (p.intensity, p.achieved / 1e9), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("GFLOP/s")
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return ax
