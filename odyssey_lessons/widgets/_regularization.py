"""The regularization-strength widget: choose a regularizer and drag its strength; the train/validation curves and
the generalisation gap update from a real training run of the overfitting setting.

All numbers come from :func:`odyssey_lessons.studies.regularization_run` (a real run per setting, cached, so moving
back is instant); this module only wires controls to it and draws. Headless use: set
``widget.regularizer.value = "dropout"`` and read ``widget.state``.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from odyssey_lessons.studies import REGULARIZERS, RegRun, RegSetup, regularization_run
from odyssey_lessons.widgets._base import Dashboard
from odyssey_lessons.widgets._tables import readout_table


def regularization_readout_html(run: RegRun, baseline: RegRun, seconds: float) -> str:
    """The numbers of one run next to the unregularized baseline, as a small HTML block."""
    h = run.history
    rows = [
        ("regularizer", f"{html.escape(run.regularizer)} = {run.strength:g}"),
        ("train / validation accuracy", f"{100 * h.epoch['train_acc'][-1]:.1f}% / {100 * h.final_val_acc:.1f}%"),
        ("generalisation gap (train − val)", f"{100 * run.gap:.1f} points (none: {100 * baseline.gap:.1f})"),
        ("test accuracy", f"{100 * run.test_acc:.1f}% (none: {100 * baseline.test_acc:.1f}%)"),
        (
            "epochs trained",
            f"{len(h.epoch['epoch'])}" + (f", stopped early (best {h.best_epoch})" if h.stopped_epoch else ""),
        ),  # fmt: skip
        ("recomputed in", f"{seconds * 1000:.0f} ms"),
    ]
    return readout_table(rows)


class RegularizationExplorer(Dashboard[RegRun]):
    """A regularizer and its strength -> train/validation curves, the gap, and the test accuracy.

    Args:
        regularizer: A key of :data:`~odyssey_lessons.train.REGULARIZERS`.
        strength: Initial strength (defaults to the regularizer's typical value).
        seed: Seed of the model and batch order.
        setup: The overfitting setting.
        draw: Draw the figure (switch off in tests that only check numbers).
    """

    def __init__(
        self, regularizer: str = "dropout", strength: float | None = None, *, seed: int = 0,
        setup: RegSetup | None = None, draw: bool = True,
    ) -> None:  # fmt: skip
        if regularizer not in REGULARIZERS:
            raise ValueError(f"unknown regularizer {regularizer!r}; known: {', '.join(REGULARIZERS)}")
        super().__init__(readout_class="odyssey-regularization-readout", figsize=(10, 3.4), draw=draw)
        self.seed = seed
        self.setup = setup or RegSetup()
        label, (lo, hi), typical = REGULARIZERS[regularizer]
        self.regularizer = widgets.Dropdown(options=list(REGULARIZERS), value=regularizer, description="Regularizer",
                                            style={"description_width": "initial"})  # fmt: skip
        self.strength = widgets.FloatSlider(
            value=typical if strength is None else strength, min=lo, max=hi, step=(hi - lo) / 20 if hi > lo else 0.1,
            description="strength", continuous_update=False, disabled=hi == lo, readout_format=".3g",
        )  # fmt: skip
        self.meaning = widgets.HTML(f"<i>{html.escape(label)}</i>")
        self._fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.88, wspace=0.25)
        self._ax_loss, self._ax_acc = self._fig.subplots(1, 2)
        self._build([[self.regularizer, self.strength]], handlers={self.regularizer: self._on_regularizer},
                   notes=[self.meaning])  # fmt: skip

    def _on_regularizer(self, change: dict) -> None:
        """A new regularizer brings its own strength range, typical value and meaning."""
        label, (lo, hi), typical = REGULARIZERS[change["new"]]
        with self._synced():
            if lo > self.strength.max:  # traitlets keeps min <= max at every assignment: order them
                self.strength.max, self.strength.min = hi, lo
            else:
                self.strength.min, self.strength.max = lo, hi
            self.strength.step = (hi - lo) / 20 if hi > lo else 0.1
            self.strength.disabled = hi == lo
            self.strength.value = typical
            self.meaning.value = f"<i>{html.escape(label)}</i>"
        self.update()

    def _compute(self) -> RegRun:
        """Train (or fetch from the cache) the run for the current controls, and the unregularized baseline."""
        name = self.regularizer.value
        strength = float(self.strength.value) if name != "none" else 0.0
        run = regularization_run(name, strength, seed=self.seed, setup=self.setup)
        self._baseline = regularization_run("none", 0.0, seed=self.seed, setup=self.setup)
        return run

    def _readout_html(self, state: RegRun) -> str:
        return regularization_readout_html(state, self._baseline, self.seconds)

    def _setup_artists(self) -> None:
        """Create the lines once; updates only move their data (a redraw without re-layout is about twice as fast)."""
        self._lines = {}
        for ax, metric, label in [(self._ax_loss, "loss", "loss"), (self._ax_acc, "acc", "accuracy")]:
            for who, style in [("none", ":"), ("run", "-")]:
                for split, colour in [("train", "#1f77b4"), ("val", "#d62728")]:
                    name = f"{'validation' if split == 'val' else 'train'} ({'none' if who == 'none' else 'chosen'})"
                    (self._lines[(metric, who, split)],) = ax.plot([], [], style, color=colour, label=name)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
        self._ax_loss.set_yscale("log")
        self._ax_acc.set_ylim(0.5, 1.01)
        self._ax_acc.legend(fontsize=7, loc="lower right")
        self._best_lines = [ax.axvline(1, color="0.5", lw=1, visible=False) for ax in (self._ax_loss, self._ax_acc)]

    def _plot(self, run: RegRun) -> str:
        if not hasattr(self, "_lines"):
            self._setup_artists()
        for who, r in [("none", self._baseline), ("run", run)]:
            e = r.history.epoch
            for metric in ("loss", "acc"):
                for split in ("train", "val"):
                    self._lines[(metric, who, split)].set_data(e["epoch"], e[f"{split}_{metric}"])
        title = f"{run.regularizer} {run.strength:g} (solid) vs none (dotted)"
        self._ax_loss.set_title(f"loss: {title}", fontsize=10)
        self._ax_acc.set_title(f"accuracy: {title}", fontsize=10)
        for ax in (self._ax_loss, self._ax_acc):
            ax.relim()
            ax.autoscale_view(scalex=True, scaley=ax is self._ax_loss)
        stopped = run.history.best_epoch is not None and run.history.stopped_epoch is not None
        for line in self._best_lines:
            line.set_visible(stopped)
            if stopped:
                line.set_xdata([run.history.best_epoch, run.history.best_epoch])
        return f"<{run.regularizer} {run.strength:g}>"
