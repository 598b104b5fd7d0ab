"""The loss-scale sweep widget: a slider over log2(loss scale) and a gradient-format choice; shows the share of
gradients lost to underflow / overflow and the training run at that scale, recomputed live.

All numbers come from :func:`odyssey_lessons.studies.loss_scale_point` (a real run per setting, cached); this module
only wires controls to it and draws. Headless use: set ``sweep.log2_scale.value = 12`` and read ``sweep.state``.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from odyssey_lessons.formats import get_format
from odyssey_lessons.studies import LOG2_SCALE_RANGE, LossScalePoint, SweepSetup, loss_scale_point
from odyssey_lessons.widgets._base import Dashboard
from odyssey_lessons.widgets._tables import readout_table

GRAD_FORMATS = ("fp16", "bf16", "e5m2", "e4m3fn")


def sweep_readout_html(point: LossScalePoint, seconds: float) -> str:
    """The numbers of one sweep point as a small HTML block."""
    h = point.history
    steps = len(h.step["loss"])
    rows = [
        ("loss scale", f"2<sup>{point.log2_scale}</sup> = {2.0**point.log2_scale:g}"),
        ("initial gradients lost to underflow", f"{100 * point.underflow:.2f}%"),
        ("initial gradients lost to overflow", f"{100 * point.overflow:.2f}%"),
        ("steps skipped (inf/NaN gradients)", f"{h.skipped_steps} of {steps}"),
        ("validation accuracy after training", f"{100 * h.final_val_acc:.1f}%"),
        ("recomputed in", f"{seconds * 1000:.0f} ms"),
    ]
    return readout_table(rows)


class LossScaleSweep(Dashboard[LossScalePoint]):
    """Pick a static loss scale ``2**k`` and a gradient format; see what the gradients lose and how training goes.

    Args:
        log2_scale: Initial ``k`` in [0, 24].
        grad_format: Initial gradient format, one of :data:`GRAD_FORMATS`.
        setup: The network and data (:class:`~odyssey_lessons.train.SweepSetup`).
        draw: Draw the figure (switch off in tests that only check numbers).
    """

    def __init__(
        self, log2_scale: int = 0, grad_format: str = "e5m2", *, setup: SweepSetup | None = None, draw: bool = True
    ) -> None:
        if get_format(grad_format).name not in GRAD_FORMATS:
            raise ValueError(f"grad_format must be one of {GRAD_FORMATS}, got grad_format={grad_format!r}")
        lo, hi = LOG2_SCALE_RANGE
        super().__init__(readout_class="odyssey-sweep-readout", figsize=(10, 3.2), draw=draw)
        self.setup = setup or SweepSetup()
        self.log2_scale = widgets.IntSlider(
            value=log2_scale,
            min=lo,
            max=hi,
            description="log2(loss scale)",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.grad_format = widgets.Dropdown(options=GRAD_FORMATS, value=grad_format, description="Gradients")
        self._setup_figure()
        self._build([[self.log2_scale, self.grad_format]])

    def _compute(self) -> LossScalePoint:
        """The point for the current controls (computed, or fetched from the cache)."""
        return loss_scale_point(int(self.log2_scale.value), self.grad_format.value, self.setup)

    def _readout_html(self, state: LossScalePoint) -> str:
        return sweep_readout_html(state, self.seconds)

    # ----- drawing ------------------------------------------------------------------------------------------------
    def _setup_figure(self) -> None:
        """Create the figure's axes and artists once; updates only move their data (no clear, no re-layout)."""
        from odyssey_lessons.studies import HIST_EDGES

        self._fig.subplots_adjust(left=0.06, right=0.94, bottom=0.17, top=0.86, wspace=0.25)
        self._ax_hist, self._ax_curve = self._fig.subplots(1, 2)
        self._ax_acc = self._ax_curve.twinx()
        ax = self._ax_hist
        lo, hi = float(HIST_EDGES[0]), float(HIST_EDGES[-1])
        self._spans = [
            ax.axvspan(lo, lo, color="#d62728", alpha=0.15, label="underflow to 0"),
            ax.axvspan(lo, lo, color="#ff7f0e", alpha=0.12, label="subnormal"),
            ax.axvspan(hi, hi, color="#d62728", alpha=0.3, label="overflow"),
        ]
        self._hist = ax.stairs(np.zeros(len(HIST_EDGES) - 1), HIST_EDGES, fill=True, color="#1f77b4")
        ax.set_xlim(lo, hi)
        ax.set_ylabel("share of gradient values")
        ax.legend(fontsize=8, loc="upper left")
        ax = self._ax_curve
        (self._loss_line,) = ax.plot([], [], color="#1f77b4", lw=1, label="training loss (per step)")
        (self._skip_marks,) = ax.plot([], [], "x", color="#d62728", ms=5, label="skipped step")
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        ax.legend(fontsize=8, loc="lower left")
        (self._acc_line,) = self._ax_acc.plot([], [], "o-", color="#2ca02c", label="val accuracy")
        self._ax_acc.set_ylim(0, 1)
        self._ax_acc.set_ylabel("validation accuracy")

    @staticmethod
    def _span(rect, x0: float, x1: float) -> None:
        rect.set_x(x0)
        rect.set_width(max(x1 - x0, 0.0))

    def _plot(self, point: LossScalePoint) -> str:
        ax = self._ax_hist
        sub, normal, top = point.log2_range
        lo, hi = float(point.hist_edges[0]), float(point.hist_edges[-1])
        total = max(int(point.hist_counts.sum()), 1)
        shares = point.hist_counts / total
        self._hist.set_data(shares, point.hist_edges)
        self._span(self._spans[0], lo, sub - 1)
        self._span(self._spans[1], sub - 1, normal)
        self._span(self._spans[2], top + 1, hi)
        ax.set_ylim(0, max(float(shares.max()) * 1.1, 0.01))
        ax.set_xlabel(f"log2 |loss scale x gradient|   ({point.grad_format} range shaded)")
        ax.set_title(
            f"under {100 * point.underflow:.1f}%, over {100 * point.overflow:.1f}% at scale 2^{point.log2_scale}",
            fontsize=10,
        )
        h = point.history
        steps = np.arange(1, len(h.step["loss"]) + 1)
        skipped = h.step["skipped"] > 0
        self._loss_line.set_data(steps, h.step["loss"])
        self._skip_marks.set_data(steps[skipped], h.step["loss"][skipped])
        finite = h.step["loss"][np.isfinite(h.step["loss"])]
        self._ax_curve.set_xlim(0, len(steps) + 1)
        self._ax_curve.set_ylim(0, max(2.6, float(finite.max()) * 1.05 if finite.size else 0.0))
        per_epoch = len(steps) // max(len(h.epoch["epoch"]), 1)
        self._acc_line.set_data(h.epoch["epoch"] * per_epoch, h.epoch["val_acc"])
        self._ax_curve.set_title(f"training: bf16 forward, {point.grad_format} gradients, static scale", fontsize=10)
        return f"<loss scale 2^{point.log2_scale}, {point.grad_format}>"
