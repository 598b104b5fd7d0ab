"""The optimizer explorer: pick a 2-D landscape, an optimizer, its learning rate and its main hyperparameter; see the
path it takes over the contour plot and its loss per step.

Every point comes from :func:`odyssey_lessons.optim.trajectory` (the package's optimizers, run in float32); this
module only wires controls to it and draws. Headless use: set ``explorer.optimizer.value = "adam"`` and read
``explorer.state``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import LogNorm

from odyssey_lessons.optim import LANDSCAPES, OPTIMIZERS, GradientTransformation, Trajectory, trajectory
from odyssey_lessons.widgets._base import Dashboard, NoResult
from odyssey_lessons.widgets._tables import readout_table


def _using(name: str, knob: Callable[[float], dict]) -> Callable[[float, float], GradientTransformation]:
    """``(lr, k) -> OPTIMIZERS[name](lr, **knob(k))``: an entry of the package's registry with the knob set."""
    return lambda lr, k: OPTIMIZERS[name](lr, **knob(k))


# name -> (factory of (lr, knob), knob label, knob range, default knob, default lr)
CHOICES: dict[str, tuple] = {
    "sgd": (_using("sgd", lambda k: {}), "(none)", (0.0, 0.0), 0.0, 0.03),
    "sgd + momentum": (_using("sgd", lambda k: {"momentum": k}), "momentum", (0.0, 0.99), 0.9, 0.01),
    "sgd + nesterov": (
        _using("sgd", lambda k: {"momentum": max(k, 0.01), "nesterov": True}),
        "momentum",
        (0.0, 0.99),
        0.9,
        0.01,
    ),
    "adagrad": (
        _using("adagrad", lambda k: {"initial_accumulator_value": k}),
        "initial accumulator",
        (0.0, 1.0),
        0.0,
        0.5,
    ),
    "rmsprop": (_using("rmsprop", lambda k: {"alpha": k}), "alpha", (0.5, 0.999), 0.99, 0.01),
    "adam": (_using("adam", lambda k: {"betas": (k, 0.999)}), "beta1", (0.0, 0.99), 0.9, 0.1),
    "adamw": (_using("adamw", lambda k: {"betas": (k, 0.999)}), "beta1", (0.0, 0.99), 0.9, 0.1),
    "lion": (_using("lion", lambda k: {"betas": (k, 0.99)}), "beta1", (0.0, 0.99), 0.9, 0.03),
}
"""The optimizers the explorer offers (entries of :data:`odyssey_lessons.optim.OPTIMIZERS`), with the hyperparameter
its second slider sets."""


def make_optimizer(name: str, lr: float, knob: float) -> GradientTransformation:
    """The optimizer ``name`` of :data:`CHOICES` with learning rate ``lr`` and its main hyperparameter ``knob``.

    Raises:
        ValueError: Unknown name, or a hyperparameter the optimizer rejects.
    """
    if name not in CHOICES:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(CHOICES)}")
    return CHOICES[name][0](lr, knob)


def explorer_readout_html(name: str, traj: Trajectory, seconds: float) -> str:
    """The numbers of one trajectory as a small HTML block."""
    end = traj.points[-1]
    gap = traj.final_gap
    rows = [
        ("optimizer", html.escape(name)),
        ("steps", str(len(traj.points) - 1)),
        ("final point", f"({end[0]:.4g}, {end[1]:.4g})"),
        ("final loss − minimum", f"{gap:.3g}" if math.isfinite(gap) else "diverged"),
        ("computed in", f"{seconds * 1000:.0f} ms"),
    ]
    return readout_table(rows)


class OptimizerExplorer(Dashboard[Trajectory]):
    """A landscape, an optimizer, its learning rate and main hyperparameter -> its path and loss.

    ``state`` is ``None`` (with the reason in ``error``) while the optimizer rejects a hyperparameter at the slider's
    edge.

    Args:
        landscape: A key of :data:`~odyssey_lessons.optim.LANDSCAPES`.
        optimizer: A key of :data:`CHOICES`.
        steps: Updates per run.
        draw: Draw the figure (switch off in tests that only check numbers).
    """

    def __init__(
        self, landscape: str = "ill_conditioned", optimizer: str = "sgd + momentum", *, steps: int = 150,
        draw: bool = True,
    ) -> None:  # fmt: skip
        if landscape not in LANDSCAPES:
            raise ValueError(f"unknown landscape {landscape!r}; known: {', '.join(LANDSCAPES)}")
        if optimizer not in CHOICES:
            raise ValueError(f"unknown optimizer {optimizer!r}; known: {', '.join(CHOICES)}")
        super().__init__(readout_class="odyssey-optimizer-readout", figsize=(10, 3.6), draw=draw)
        self.steps = steps
        _, label, (lo, hi), knob, lr = CHOICES[optimizer]
        self.landscape = widgets.Dropdown(options=list(LANDSCAPES), value=landscape, description="Landscape")
        self.optimizer = widgets.Dropdown(options=list(CHOICES), value=optimizer, description="Optimizer")
        self.lr = widgets.FloatLogSlider(value=lr, base=10, min=-4, max=0.5, step=0.05, description="lr",
                                         continuous_update=False)  # fmt: skip
        self.knob = widgets.FloatSlider(value=knob, min=lo, max=hi, step=0.01, description=label,
                                        continuous_update=False, style={"description_width": "initial"})  # fmt: skip
        self._fig.subplots_adjust(left=0.06, right=0.98, bottom=0.15, top=0.88, wspace=0.25)
        self._ax_path, self._ax_loss = self._fig.subplots(1, 2)
        self._build([[self.landscape, self.optimizer], [self.lr, self.knob]],
                   handlers={self.optimizer: self._on_optimizer})  # fmt: skip

    def _on_optimizer(self, change: dict) -> None:
        """A new optimizer brings its own hyperparameter slider range and default learning rate."""
        _, label, (lo, hi), knob, lr = CHOICES[change["new"]]
        with self._synced():
            self.knob.description = label
            if lo > self.knob.max:  # traitlets keeps min <= max at every assignment: order them
                self.knob.max, self.knob.min = hi, lo
            else:
                self.knob.min, self.knob.max = lo, hi
            self.knob.disabled = lo == hi
            self.knob.value = knob
            self.lr.value = lr
        self.update()

    def _compute(self) -> Trajectory:
        """Run the chosen optimizer on the chosen landscape."""
        try:
            opt = make_optimizer(self.optimizer.value, float(self.lr.value), float(self.knob.value))
        except ValueError as exc:  # e.g. a hyperparameter at the edge the optimizer rejects
            raise NoResult(str(exc)) from exc
        return trajectory(opt, self.landscape.value, steps=self.steps)

    def _readout_html(self, state: Trajectory) -> str:
        return explorer_readout_html(self.optimizer.value, state, self.seconds)

    def _show_error(self, message: str) -> None:
        """The message in red instead of the readout; the last picture stays."""
        self.readout.value = f"<span style='color:#d62728'>{html.escape(message)}</span>"

    def _plot(self, traj: Trajectory) -> str:
        land = LANDSCAPES[traj.landscape]
        x0, x1, y0, y1 = land.bounds
        gx, gy = np.meshgrid(np.linspace(x0, x1, 160), np.linspace(y0, y1, 160))
        z = land.loss(gx, gy) - min(float(land.loss(gx, gy).min()), land.min_value()) + 1e-3
        ax = self._ax_path
        ax.clear()
        ax.contour(gx, gy, z, levels=np.geomspace(z.min(), z.max(), 18), norm=LogNorm(), cmap="Greys", linewidths=0.7)
        pts = traj.points[np.all(np.isfinite(traj.points), axis=1)]
        ax.plot(pts[:, 0], pts[:, 1], ".-", color="#d62728", ms=3, lw=1)
        ax.plot(*land.start, "o", color="#1f77b4", label="start")
        ax.plot(*land.minimum, "*", color="#2ca02c", ms=12, label="minimum")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_title(f"{self.optimizer.value} on {traj.landscape}", fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
        ax = self._ax_loss
        ax.clear()
        gap = traj.losses - land.min_value()
        ax.semilogy(np.arange(len(gap)), np.maximum(gap, 1e-16), color="#d62728")
        ax.set_xlabel("step")
        ax.set_ylabel("loss − minimum (log)")
        ax.set_title("loss per step", fontsize=10)
        return f"<{self.optimizer.value} on {traj.landscape}>"
