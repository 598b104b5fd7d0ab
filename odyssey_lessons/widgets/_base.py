"""The skeleton every lesson widget shares: controls, a readout, one reused figure, and ``update`` wiring them.

A widget subclasses :class:`Dashboard` and provides only what is its own:

- its controls, as public attributes (tests and lessons set ``widget.<control>.value`` from Python), created in its
  ``__init__`` after ``super().__init__(...)``, which makes ``readout``, ``plot`` and the ``figure`` (the widget adds
  its axes, and artists if it reuses them);
- ``_compute()``: the compute call for the current controls, returning the data the widget shows (``state``); it
  raises :class:`NoResult` when the controls give no result (the readout then says why, and ``state`` is ``None``);
- ``_plot(state)``: draw ``state`` on ``figure`` and return the plain-text stand-in of the picture;
- ``_readout_html(state)``: the readout, as HTML;
- a last call to ``self._build(rows)`` with its control rows: it lays the widget out, watches the controls (a control
  whose change must first move others, such as a choice bringing its own slider range, gets its own handler, which
  sets them inside ``with self._synced():`` and then calls ``update``) and runs the first ``update``.

``update`` then computes, draws and writes the readout last, so a new readout means the picture is drawn too (the
browser tests wait on it). No pyplot: the figure is rendered to PNG in ``plot``, so nothing depends on a backend.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Generic, TypeVar

import ipywidgets as widgets
from matplotlib.figure import Figure

from odyssey_lessons.widgets._png import show_png

S = TypeVar("S")


def error_html(message: str) -> str:
    """The readout shown instead of the numbers when the controls give no result."""
    return f"<div class='odyssey-error' style='color:#b00020'><b>Cannot show this:</b> {html.escape(message)}</div>"


class NoResult(Exception):
    """Raised by ``_compute`` when the controls give no result (text that is not a number, a hyperparameter the
    optimizer rejects); the message is shown in the readout instead of raised to the notebook."""


class Dashboard(Generic[S]):
    """Controls -> ``_compute()`` -> ``state`` -> figure (``plot``) and ``readout``, redone on every control change.

    Args:
        readout_class: CSS class of the readout (the browser tests find the widget by it).
        figsize: Size of the figure in inches (drawn at 72 dpi).
        draw: Draw the figure (switch off in tests that only check numbers).
    """

    def __init__(self, *, readout_class: str, figsize: tuple[float, float], draw: bool = True) -> None:
        self._draw = draw
        self._state: S | None = None
        self._error: str | None = None
        self._syncing = False
        self.seconds = 0.0
        self.readout = widgets.HTML()
        self.readout.add_class(readout_class)
        self.plot = widgets.Output()
        self._fig = Figure(figsize=figsize, dpi=72)

    # ----- what a widget provides ---------------------------------------------------------------------------------
    def _compute(self) -> S:
        """The data shown for the current controls.

        Raises:
            NoResult: The controls give no result; the message says why.
        """
        raise NotImplementedError

    def _plot(self, state: S) -> str:
        """Draw ``state`` on :attr:`figure`; return the plain-text stand-in of the picture."""
        raise NotImplementedError

    def _readout_html(self, state: S) -> str:
        """The readout of ``state``, as HTML."""
        raise NotImplementedError

    # ----- the shared skeleton ------------------------------------------------------------------------------------
    def _build(
        self,
        rows: Sequence[widgets.ValueWidget | Sequence[widgets.ValueWidget]],
        *,
        handlers: Mapping[widgets.ValueWidget, Callable[[dict], None]] | None = None,
        notes: Sequence[widgets.Widget] = (),
        below: Sequence[widgets.Widget] = (),
    ) -> None:
        """Lay out the control ``rows`` (a control, or a list of controls side by side), ``notes``, the readout, the
        plot and ``below``; watch every control (a change calls :meth:`update`, or its entry in ``handlers``); run the
        first update."""
        handlers = handlers or {}
        boxes = [widgets.HBox(list(row)) if isinstance(row, Sequence) else row for row in rows]
        self.widget = widgets.VBox([*boxes, *notes, self.readout, self.plot, *below])
        for row in rows:
            for control in row if isinstance(row, Sequence) else [row]:
                control.observe(handlers.get(control, self._on_change), names="value")
        self.update()

    def _on_change(self, _change: dict) -> None:
        self.update()

    @contextmanager
    def _synced(self) -> Iterator[None]:
        """Set several controls at once (a choice bringing its own defaults) without an update for each."""
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False

    def update(self) -> None:
        """Recompute the state from the controls, redraw, then write the readout (called by every control change)."""
        if self._syncing:
            return
        start = time.perf_counter()
        try:
            state = self._compute()
        except NoResult as exc:
            self._state, self._error = None, str(exc)
            self._show_error(self._error)
            return
        self.seconds = time.perf_counter() - start
        self._state, self._error = state, None
        if self._draw:
            show_png(self.plot, self._fig, self._plot(state))
        self._write(state)

    def _write(self, state: S) -> None:
        """Write the readout (last: a new readout means everything else is shown)."""
        self.readout.value = self._readout_html(state)

    def _show_error(self, message: str) -> None:
        """Show why the controls give no result: the message instead of the readout, and no picture."""
        self.readout.value = error_html(message)
        self.plot.outputs = ()

    @property
    def state(self) -> S | None:
        """The data shown now (what the compute call returned), or ``None`` while the controls give none."""
        return self._state

    @property
    def error(self) -> str | None:
        """Why the current controls give no result, or ``None``."""
        return self._error

    @property
    def figure(self) -> Figure:
        """The matplotlib figure the plot is drawn on (reused across updates)."""
        return self._fig

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
