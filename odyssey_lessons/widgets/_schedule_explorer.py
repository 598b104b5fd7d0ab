"""The schedule explorer: pick a learning-rate schedule, its peak learning rate and the run length; see the schedule and
a live training run with it (SGD with momentum on the digits MLP).

All numbers come from :func:`odyssey_lessons.studies.schedule_run` (a real run per setting, cached); this module only
wires controls to it and draws. Headless use: set ``explorer.schedule.value = "cosine"`` and read ``explorer.state``.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from odyssey_lessons.schedules import SCHEDULES
from odyssey_lessons.studies import ScheduleRun, schedule_run
from odyssey_lessons.widgets._base import Dashboard
from odyssey_lessons.widgets._tables import readout_table


def schedule_readout_html(run: ScheduleRun, seconds: float) -> str:
    """The numbers of one run as a small HTML block."""
    h = run.history
    rows = [
        ("schedule", html.escape(repr(run.schedule))),
        ("steps", f"{len(run.lrs)} ({len(h.epoch['epoch'])} epochs)"),
        ("final training loss", f"{h.epoch['train_loss'][-1]:.4f}"),
        ("final validation accuracy", f"{100 * h.final_val_acc:.1f}%"),
        ("recomputed in", f"{seconds * 1000:.0f} ms"),
    ]
    return readout_table(rows)


class ScheduleExplorer(Dashboard[ScheduleRun]):
    """A schedule, its peak learning rate and the number of epochs -> the lr curve and a real training run.

    Args:
        schedule: Initial schedule name (a key of :data:`~odyssey_lessons.schedules.SCHEDULES`).
        peak_lr: Initial peak learning rate (the slider is logarithmic, 1e-3 .. 1).
        epochs: Initial run length in epochs (1 .. 15).
        seed: Seed of the model's initial weights and the batch order.
        draw: Draw the figure (switch off in tests that only check numbers).
    """

    def __init__(
        self, schedule: str = "cosine", peak_lr: float = 0.1, epochs: int = 5, *, seed: int = 0, draw: bool = True
    ) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
        super().__init__(readout_class="odyssey-schedule-readout", figsize=(10, 3.2), draw=draw)
        self.seed = seed
        self.schedule = widgets.Dropdown(options=list(SCHEDULES), value=schedule, description="Schedule")
        self.peak_lr = widgets.FloatLogSlider(
            value=peak_lr, base=10, min=-3, max=0, step=0.25, description="peak lr", continuous_update=False
        )
        self.epochs = widgets.IntSlider(value=epochs, min=1, max=15, description="epochs", continuous_update=False)
        self._fig.subplots_adjust(left=0.07, right=0.93, bottom=0.17, top=0.88, wspace=0.3)
        self._ax_lr, self._ax_loss = self._fig.subplots(1, 2)
        self._ax_acc = self._ax_loss.twinx()
        self._build([[self.schedule, self.peak_lr, self.epochs]])

    def _compute(self) -> ScheduleRun:
        """The run for the current controls (trained, or fetched from the cache)."""
        return schedule_run(
            self.schedule.value, peak_lr=float(self.peak_lr.value), epochs=int(self.epochs.value), seed=self.seed
        )

    def _readout_html(self, state: ScheduleRun) -> str:
        return schedule_readout_html(state, self.seconds)

    def _plot(self, run: ScheduleRun) -> str:
        steps = np.arange(len(run.lrs))
        ax = self._ax_lr
        ax.clear()
        ax.plot(steps, run.lrs, color="#1f77b4")
        ax.set_xlabel("step")
        ax.set_ylabel("learning rate")
        ax.set_ylim(0, max(float(run.lrs.max()) * 1.08, 1e-12))
        ax.set_title(f"{run.name} (peak {float(self.peak_lr.value):.3g})", fontsize=10)

        h = run.history
        ax = self._ax_loss
        ax.clear()
        ax.plot(steps + 1, h.step["loss"], color="#1f77b4", lw=1, label="training loss (per step)")
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (log scale)")
        ax.set_yscale("log")  # losses span 1e-3 .. 1e3 between a gentle and a too-large learning rate
        ax2 = self._ax_acc
        ax2.clear()
        ax2.yaxis.tick_right()  # clear() resets a twin axis to the left side
        ax2.yaxis.set_label_position("right")
        per_epoch = len(steps) // max(len(h.epoch["epoch"]), 1)
        ax2.plot(h.epoch["epoch"] * per_epoch, h.epoch["val_acc"], "o-", color="#2ca02c", label="val accuracy")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("validation accuracy")
        ax.set_title("SGD (momentum 0.9), digits MLP", fontsize=10)
        ax.legend(fontsize=8, loc="center right")
        return f"<{run.name} schedule run>"
