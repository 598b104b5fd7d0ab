"""The loss-scale sweep widget: a slider over log2(loss scale) and a gradient-format choice; shows the share of
gradients lost to underflow / overflow and the training run at that scale, recomputed live.

All numbers come from :func:`odyssey_lessons.train.loss_scale_point` (a real run per setting, cached); this module
only wires controls to it and draws. Headless use: set ``sweep.log2_scale.value = 12`` and read ``sweep.state``.
"""

from __future__ import annotations

import html
import time

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from odyssey_lessons.formats import get_format
from odyssey_lessons.train import LOG2_SCALE_RANGE, LossScalePoint, SweepSetup, loss_scale_point
from odyssey_lessons.widgets._png import show_png

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
    body = "".join(f"<tr><td>{html.escape(k)}</td><td style='text-align:right'><b>{v}</b></td></tr>" for k, v in rows)
    return f"<table class='odyssey-sweep-table'>{body}</table>"


class LossScaleSweep:
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
        self.setup = setup or SweepSetup()
        self._draw = draw
        self._state: LossScalePoint | None = None
        self.seconds = 0.0
        self.log2_scale = widgets.IntSlider(
            value=log2_scale,
            min=lo,
            max=hi,
            description="log2(loss scale)",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.grad_format = widgets.Dropdown(options=GRAD_FORMATS, value=grad_format, description="Gradients")
        self.readout = widgets.HTML()
        self.readout.add_class("odyssey-sweep-readout")
        self.plot = widgets.Output()
        self._setup_figure()
        for control in (self.log2_scale, self.grad_format):
            control.observe(lambda _change: self.update(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.log2_scale, self.grad_format]), self.readout, self.plot])
        self.update()

    def update(self) -> None:
        """Recompute (or fetch from the cache) the point for the current controls, then redraw."""
        start = time.perf_counter()
        self._state = loss_scale_point(int(self.log2_scale.value), self.grad_format.value, self.setup)
        self.seconds = time.perf_counter() - start
        if self._draw:
            self._redraw(self._state)
        self.readout.value = sweep_readout_html(self._state, self.seconds)  # last: a new readout means all is drawn

    @property
    def state(self) -> LossScalePoint | None:
        """The current :class:`~odyssey_lessons.train.LossScalePoint`."""
        return self._state

    # ----- drawing ------------------------------------------------------------------------------------------------
    def _setup_figure(self) -> None:
        self._fig = Figure(figsize=(10, 3.2), dpi=72)
        self._fig.subplots_adjust(left=0.06, right=0.94, bottom=0.17, top=0.86, wspace=0.25)
        self._ax_hist, self._ax_curve = self._fig.subplots(1, 2)
        self._ax_acc = self._ax_curve.twinx()

    def _redraw(self, point: LossScalePoint) -> None:
        ax = self._ax_hist
        ax.clear()
        sub, normal, top = point.log2_range
        centres = (point.hist_edges[:-1] + point.hist_edges[1:]) / 2
        total = max(int(point.hist_counts.sum()), 1)
        ax.bar(centres, point.hist_counts / total, width=1.0, color="#1f77b4")
        ax.axvspan(point.hist_edges[0], sub - 1, color="#d62728", alpha=0.15, label="underflow to 0")
        ax.axvspan(sub - 1, normal, color="#ff7f0e", alpha=0.12, label="subnormal")
        ax.axvspan(top + 1, point.hist_edges[-1], color="#d62728", alpha=0.3, label="overflow")
        ax.set_xlim(point.hist_edges[0], point.hist_edges[-1])
        ax.set_xlabel(f"log2 |loss scale x gradient|   ({point.grad_format} range shaded)")
        ax.set_ylabel("share of gradient values")
        ax.set_title(
            f"under {100 * point.underflow:.1f}%, over {100 * point.overflow:.1f}% at scale 2^{point.log2_scale}",
            fontsize=10,
        )
        ax.legend(fontsize=8, loc="upper left")

        ax = self._ax_curve
        ax.clear()
        h = point.history
        steps = np.arange(1, len(h.step["loss"]) + 1)
        ax.plot(steps, h.step["loss"], color="#1f77b4", lw=1, label="training loss (per step)")
        skipped = h.step["skipped"] > 0
        ax.plot(steps[skipped], h.step["loss"][skipped], "x", color="#d62728", ms=5, label="skipped step")
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        finite = h.step["loss"][np.isfinite(h.step["loss"])]
        ax.set_ylim(0, max(2.6, float(finite.max()) * 1.05 if finite.size else 0.0))
        ax2 = self._ax_acc
        ax2.clear()
        ax2.yaxis.tick_right()  # clear() resets a twin axis to the left side
        ax2.yaxis.set_label_position("right")
        per_epoch = len(steps) // max(len(h.epoch["epoch"]), 1)
        ax2.plot(h.epoch["epoch"] * per_epoch, h.epoch["val_acc"], "o-", color="#2ca02c", label="val accuracy")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("validation accuracy")
        ax.set_title(f"training: bf16 forward, {point.grad_format} gradients, static scale", fontsize=10)
        ax.legend(fontsize=8, loc="lower left")
        show_png(self.plot, self._fig, f"<loss scale 2^{point.log2_scale}, {point.grad_format}>")

    @property
    def figure(self) -> Figure:
        """The matplotlib figure (reused across updates)."""
        return self._fig

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
