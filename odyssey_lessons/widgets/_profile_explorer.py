"""The profile explorer: batch size, model width and pass -> a per-layer profile table and a roofline plot, live.

Every number comes from :func:`odyssey_lessons.perf.profile` run on the digits CNN of lesson 7 at the chosen setting
(computed once per setting and cached, so moving back is instant), placed under the roofs of *this* machine
(:func:`machine_roofs`: a STREAM triad and a single-threaded matmul, probed once per session). This module only wires
controls to those computations and draws. Headless use: set ``explorer.batch_size.value = 128`` and read
``explorer.state``.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from functools import cache, lru_cache

import ipywidgets as widgets
import numpy as np

from odyssey_lessons._validate import check_positive_int
from odyssey_lessons.data import digits_task
from odyssey_lessons.nn import profiled_cnn
from odyssey_lessons.perf import (
    Counts,
    Profile,
    Roofline,
    format_seconds,
    model_counts,
    peak_gflops,
    plot_roofline,
    profile,
    roofline,
    stream_bandwidth,
)
from odyssey_lessons.widgets._base import Dashboard
from odyssey_lessons.widgets._tables import html_table, readout_table

PASSES: dict[str, bool] = {"forward+backward": True, "forward": False}
"""The dropdown's choices -> ``backward`` of :func:`odyssey_lessons.perf.profile` (a training step, or inference)."""

MAX_BATCH = 512
WIDTHS = (4, 64)


@dataclass(frozen=True)
class MachineRoofs:
    """The two roofs of this machine, as one thread sees them: ``peak_flops`` (FLOP/s, a float32 matmul) and
    ``bandwidth`` (bytes/s, the STREAM triad); ``stream`` keeps all four STREAM kernels of the same probe (GB/s), so
    a lesson that shows them shows the very run whose triad is the roof."""

    peak_flops: float
    bandwidth: float
    stream: dict[str, float] = field(default_factory=dict)

    @property
    def ridge(self) -> float:
        """``peak_flops / bandwidth`` (FLOP/byte)."""
        return self.peak_flops / self.bandwidth


@cache
def machine_roofs() -> MachineRoofs:
    """Probe this machine once per session (about 0.2 s): :func:`odyssey_lessons.perf.peak_gflops` (512×512 float32,
    one thread, as the profile runs) and the triad of :func:`odyssey_lessons.perf.stream_bandwidth` (48 MB arrays)."""
    stream = stream_bandwidth(2_000_000, 3)
    return MachineRoofs(
        peak_flops=peak_gflops(512, np.float32, 3, threads="single") * 1e9,
        bandwidth=stream["triad"] * 1e9,
        stream=stream,
    )


@dataclass(frozen=True)
class ProfileSetting:
    """One setting of the explorer and what was measured there (plain data).

    Attributes:
        batch_size, width, backward: The setting (``backward``: a training step, not only a forward pass).
        profile: The :class:`~odyssey_lessons.perf.Profile` (one row per layer, plus the loss in a training step).
        counts: :func:`~odyssey_lessons.perf.model_counts` of the model at this batch size, one per layer.
        roofline: The profiled layers under :func:`machine_roofs`.
        seconds: Wall time of computing the setting (profile and counts).
    """

    batch_size: int
    width: int
    backward: bool
    profile: Profile
    counts: tuple[Counts, ...]
    roofline: Roofline
    seconds: float

    @property
    def flops(self) -> int:
        """FLOPs of the profiled pass, all rows (the loss included in a training step)."""
        return sum(r.flops for r in self.profile.rows)

    @property
    def slowest(self) -> str:
        """Name of the row with the largest self time."""
        return max(self.profile.rows, key=lambda r: r.self_s).name


@cache
def _batches() -> np.ndarray:
    return digits_task("cnn").train[0][:MAX_BATCH]


@lru_cache(maxsize=256)
def profile_setting(batch_size: int, width: int, backward: bool = True, *, repeats: int = 3) -> ProfileSetting:
    """Profile :func:`profiled_cnn` of ``width`` on the first ``batch_size`` training digits (cached per setting).

    Raises:
        TypeError, ValueError: ``batch_size`` not in 1..512 or ``width`` not an int >= 1.
    """
    batch_size = check_positive_int("batch_size", batch_size)
    if batch_size > MAX_BATCH:
        raise ValueError(f"batch_size must be <= {MAX_BATCH}, got batch_size={batch_size}")
    start = time.perf_counter()
    model = profiled_cnn(width)
    x = _batches()[:batch_size]
    prof = profile(model, x, repeats=repeats, warmup=1, backward=bool(backward))
    counts = tuple(model_counts(model, x.shape, training=bool(backward)))
    roofs = machine_roofs()
    roof = roofline(prof, peak_flops=roofs.peak_flops, bandwidth=roofs.bandwidth)
    return ProfileSetting(batch_size, width, bool(backward), prof, counts, roof, time.perf_counter() - start)


def profile_table_html(setting: ProfileSetting) -> str:
    """The profile as an HTML table: one row per layer (and the loss), with time, share, FLOPs, GFLOP/s, FLOP/byte,
    the roofline bound and the activation memory kept for backward."""
    bounds = {p.name: p.bound for p in setting.roofline.points}
    rows = [
        [r.name, f"{1e3 * r.forward_s:.3f}", f"{1e3 * r.backward_s:.3f}", f"{r.pct_total:.1f}", f"{r.flops:,}",
         "—" if not r.flops or np.isnan(r.gflops_per_s) else f"{r.gflops_per_s:.2f}",
         "—" if not r.bytes else f"{r.intensity:.2f}", bounds.get(r.name, "—"),
         f"{r.activation_bytes / 1024:.1f}"]
        for r in setting.profile.rows
    ]  # fmt: skip
    headers = ["layer", "forward ms", "backward ms", "% of step", "FLOPs", "GFLOP/s", "FLOP/byte", "bound",
               "activations KiB"]  # fmt: skip
    return html_table(headers, rows).data


def profile_readout_html(setting: ProfileSetting, pass_name: str) -> str:
    """The headline numbers of one setting, as a small HTML block."""
    p, roof = setting.profile, setting.roofline
    slowest = max(p.rows, key=lambda r: r.self_s)
    memory_bound = sum(pt.bound == "memory" for pt in roof.points)
    rows = [
        ("setting", f"batch {setting.batch_size}, width {setting.width}, {html.escape(pass_name)}"),
        ("step: sum of layers / timed whole", f"{format_seconds(p.total_s)} / {format_seconds(p.step_s)}"),
        ("per sample", format_seconds(p.step_s / setting.batch_size)),
        ("slowest row", f"{html.escape(slowest.name)} ({slowest.pct_total:.0f}% of the step)"),
        ("whole pass", f"{setting.flops / 1e6:.2f} MFLOP at {setting.flops / p.total_s / 1e9:.2f} GFLOP/s"),
        ("memory-bound layers", f"{memory_bound} of {len(roof.points)} (ridge {roof.ridge:.1f} FLOP/byte)"),
        ("activations kept for backward", f"{sum(r.activation_bytes for r in p.rows) / 1024:.0f} KiB"),
        ("recomputed in", f"{setting.seconds * 1000:.0f} ms"),
    ]
    return readout_table(rows)


class ProfileExplorer(Dashboard[ProfileSetting]):
    """Batch size, model width and pass -> the per-layer profile table and the roofline, live.

    Args:
        batch_size: Initial batch size (1..512).
        width: Initial number of convolution channels (4..64, in steps of 4).
        pass_name: A key of :data:`PASSES`.
        draw: Draw the figure (switch off in tests that only check numbers).
    """

    def __init__(
        self, batch_size: int = 64, width: int = 8, pass_name: str = "forward+backward", *, draw: bool = True
    ) -> None:
        if pass_name not in PASSES:
            raise ValueError(f"unknown pass {pass_name!r}; known: {', '.join(PASSES)}")
        super().__init__(readout_class="odyssey-profile-readout", figsize=(11, 3.8), draw=draw)
        style = {"description_width": "initial"}
        self.pass_name = widgets.Dropdown(options=list(PASSES), value=pass_name, description="Pass", style=style)
        self.batch_size = widgets.IntSlider(value=batch_size, min=1, max=MAX_BATCH, step=1, description="Batch size",
                                            continuous_update=False, style=style)  # fmt: skip
        self.width = widgets.IntSlider(value=width, min=WIDTHS[0], max=WIDTHS[1], step=4, description="Width",
                                       continuous_update=False, style=style)  # fmt: skip
        self.table = widgets.HTML()
        self._fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.9, wspace=0.45)
        self._ax_roof, self._ax_time = self._fig.subplots(1, 2)
        self._build([[self.pass_name, self.batch_size, self.width]], below=[self.table])

    def _compute(self) -> ProfileSetting:
        """Profile (or fetch from the cache) the current setting."""
        return profile_setting(int(self.batch_size.value), int(self.width.value), PASSES[self.pass_name.value])

    def _write(self, state: ProfileSetting) -> None:
        self.table.value = profile_table_html(state)
        super()._write(state)  # the readout last

    def _readout_html(self, state: ProfileSetting) -> str:
        return profile_readout_html(state, self.pass_name.value)

    def _plot(self, setting: ProfileSetting) -> str:
        self._ax_roof.clear()
        title = f"batch {setting.batch_size}, width {setting.width}"
        plot_roofline(self._ax_roof, setting.roofline, title=f"roofline of this machine (1 thread): {title}")
        self._ax_roof.title.set_fontsize(9)
        ax = self._ax_time
        ax.clear()
        rows = setting.profile.rows
        names = [r.name for r in rows]
        y = np.arange(len(rows))
        fwd = np.array([1e3 * r.forward_s for r in rows])
        bwd = np.array([1e3 * r.backward_s for r in rows])
        ax.barh(y, fwd, color="tab:blue", label="forward")
        ax.barh(y, bwd, left=fwd, color="tab:orange", label="backward")
        ax.set_yticks(y, names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("ms per step (median)")
        ax.set_title(f"where the time goes: {title}", fontsize=9)
        ax.legend(fontsize=8, loc="lower right")
        return f"<profile {title}>"
