"""The bit-width widget: drag the weight bit width, pick the scale granularity and the calibration method; the trained
digits MLP is quantized after training and the weight histogram of a chosen layer (with the quantization levels drawn),
its quantization error, the test accuracy and the real size update.

Every number comes from :func:`odyssey_lessons.studies.ptq_run` (a real post-training quantization and a
test-set evaluation per setting, cached, so moving back is instant); this module only wires controls to it and draws.
Headless use: set ``widget.bits.value = 3`` and read ``widget.state``.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from odyssey_lessons._validate import check_choice, check_int
from odyssey_lessons.quant import GRANULARITIES, OBSERVERS, levels
from odyssey_lessons.studies import PTQResult, QuantSetup, ptq_run, trained_digits
from odyssey_lessons.widgets._base import Dashboard
from odyssey_lessons.widgets._tables import readout_table

BITS_RANGE = (2, 8)
SLICE_NAMES = {"tensor": "tensor", "channel": "output channel", "group": "group of inputs"}


def quant_readout_html(result: PTQResult, layer: str, seconds: float) -> str:
    """The numbers of one setting as a small HTML block."""
    q = result.layer(layer)
    scheme = f"per {SLICE_NAMES[result.granularity]}"
    rows = [
        ("weights", f"{result.bits}-bit symmetric, {html.escape(scheme)}, {html.escape(result.observer)} calibration"),
        (f"layer {html.escape(layer)}: quantization error",
         f"SQNR {q.error['sqnr_db']:.1f} dB, max |w − ŵ| {q.error['max_abs']:.3g}"),
        ("test accuracy",
         f"{100 * result.test_acc:.1f}% (float32: {100 * result.float_test_acc:.1f}%; "
         f"{100 * result.agreement:.1f}% of predictions unchanged)"),
        ("size: packed weights + scales + biases",
         f"{result.nbytes:,} B vs {result.float_nbytes:,} B float32 ({result.compression:.1f}× smaller)"),
        ("activations", f"{result.act_bits}-bit asymmetric, per tensor"),
        ("recomputed in", f"{seconds * 1000:.0f} ms"),
    ]  # fmt: skip
    return readout_table(rows)


class QuantExplorer(Dashboard[PTQResult]):
    """Bits, granularity and calibration -> weight histogram with levels, quantization error, accuracy and size.

    ``state`` is the :class:`~odyssey_lessons.studies.PTQResult` of the chosen bits (the chosen layer:
    ``state.layer(name)``); ``curve`` holds the results of every width at the same granularity and calibration.

    Args:
        bits: Initial weight width, 2..8.
        granularity: ``"tensor"``, ``"channel"`` or ``"group"``.
        observer: A calibration method, one of the names of :data:`~odyssey_lessons.quant.OBSERVERS`.
        layer: The weight shown (a parameter name of the MLP, e.g. ``"0.weight"``).
        setup: The trained models and calibration.
        draw: Draw the figure (switch off in tests that only check numbers).
    """

    def __init__(
        self, bits: int = 4, granularity: str = "channel", observer: str = "minmax", layer: str = "0.weight", *,
        setup: QuantSetup | None = None, draw: bool = True,
    ) -> None:  # fmt: skip
        check_choice("granularity", granularity, GRANULARITIES)
        check_choice("observer", observer, tuple(OBSERVERS))
        bits = check_int("bits", bits, minimum=BITS_RANGE[0], maximum=BITS_RANGE[1])
        self.setup = setup or QuantSetup()
        names = [f"{i}.weight" for i, layer_ in enumerate(trained_digits("mlp", self.setup).model.layers)
                 if "weight" in layer_.params()]  # fmt: skip
        if layer not in names:
            raise ValueError(f"layer must be one of {names}, got {layer=}")
        super().__init__(readout_class="odyssey-quant-readout", figsize=(10, 3.4), draw=draw)
        self.curve: dict[int, PTQResult] = {}
        style = {"description_width": "initial"}
        self.bits = widgets.IntSlider(value=bits, min=BITS_RANGE[0], max=BITS_RANGE[1], description="Bits",
                                      continuous_update=False)  # fmt: skip
        self.granularity = widgets.Dropdown(options=list(GRANULARITIES), value=granularity, description="Granularity",
                                            style=style)  # fmt: skip
        self.observer = widgets.Dropdown(options=list(OBSERVERS), value=observer, description="Calibration",
                                         style=style)  # fmt: skip
        self.layer = widgets.Dropdown(options=names, value=layer, description="Layer", style=style)
        self._fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.88, wspace=0.25)
        self._ax_hist, self._ax_acc = self._fig.subplots(1, 2)
        self._build([[self.bits, self.granularity], [self.observer, self.layer]])

    def _compute(self) -> PTQResult:
        """Quantize (or fetch from the cache) the current setting, and the accuracy curve over every width."""
        gran, obs = self.granularity.value, self.observer.value
        self.curve = {
            b: ptq_run("mlp", b, gran, obs, setup=self.setup) for b in range(BITS_RANGE[0], BITS_RANGE[1] + 1)
        }
        return self.curve[int(self.bits.value)]

    def _readout_html(self, state: PTQResult) -> str:
        return quant_readout_html(state, self.layer.value, self.seconds)

    def _plot(self, result: PTQResult) -> str:
        q = result.layer(self.layer.value)
        ax = self._ax_hist
        ax.clear()
        w = q.weight.reshape(-1)
        counts, edges = np.histogram(w, bins=120)
        ax.stairs(counts, edges, fill=True, color="0.6")  # one artist, not 120 bars: a faster redraw
        ax.set_yscale("symlog", linthresh=1)
        qp = q.qparams
        scales = np.asarray(qp.scale).reshape(-1)
        shown = [(int(np.argmax(scales)), "#d62728", "-", "widest slice")]
        if scales.size > 1:
            shown.append((int(np.argmin(scales)), "#1f77b4", "--", "narrowest slice"))
        for index, colour, style, what in shown:
            lv = levels(qp, index)
            label = f"{lv.size} levels" + ("" if scales.size == 1 else f", {what}")
            ax.vlines(
                lv,
                0,
                1,
                transform=ax.get_xaxis_transform(),
                colors=colour,
                linestyles=style,
                lw=0.8,
                alpha=0.7 if lv.size <= 31 else 0.25,
                label=label,
            )  # one collection: fast to draw
        ax.set_xlim(1.05 * w.min(), 1.05 * w.max())
        ax.set_xlabel("weight value")
        ax.set_ylabel("count (log)")
        ax.set_title(f"{self.layer.value}: {result.bits}-bit, per {SLICE_NAMES[result.granularity]}", fontsize=10)
        ax.legend(fontsize=7, loc="upper right")
        ax = self._ax_acc
        ax.clear()
        bits = sorted(self.curve)
        ax.plot(bits, [100 * self.curve[b].test_acc for b in bits], marker="o", color="#2ca02c")
        ax.plot([result.bits], [100 * result.test_acc], "o", ms=12, mfc="none", mec="k", label="chosen")
        ax.axhline(100 * result.float_test_acc, color="k", ls=":", label="float32")
        ax.set_xlabel("weight bits")
        ax.set_ylabel("test accuracy %")
        ax.set_ylim(min(50.0, 100 * min(r.test_acc for r in self.curve.values()) - 2), 100)
        ax.set_title(f"accuracy vs bits: per {result.granularity}, {result.observer}", fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
        return f"<{result.bits}-bit {result.granularity} {result.observer}>"
