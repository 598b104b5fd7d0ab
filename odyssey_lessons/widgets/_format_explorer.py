"""An ipywidgets explorer: type a value, pick a format, see the rounded value, its errors and its bits.

All numbers come from :func:`odyssey_lessons.formats.explain`; this module only wires controls to it and
draws. The logic runs without a browser: set ``explorer.value.value = "465"`` in Python and read ``explorer.state``.
"""

from __future__ import annotations

import html
import math

import ipywidgets as widgets
import numpy as np

from odyssey_lessons.formats import (
    FORMATS,
    FloatFormat,
    FormatReadout,
    custom_format,
    explain,
    get_format,
    quantize,
    representable_values,
    ulp,
)
from odyssey_lessons.widgets._base import Dashboard, NoResult

CUSTOM = "custom"
FIELD_COLOURS: dict[str, str] = {"sign": "#d62728", "exponent": "#1f77b4", "mantissa": "#2ca02c"}
"""Colours of the sign, exponent and mantissa fields, shared by the readout and the lesson's layout diagrams."""

_MAX_LISTED_BITS = 16  # wider formats have too many values to draw: show the grid around the value instead
_GRID_NEIGHBOURS = 6


def parse_value(text: str) -> float:
    """Read a number typed by a learner: ``"0.1"``, ``"1e-5"``, ``"-465"``, ``"inf"``, ``"2**-14"``, ``"0x1p-3"``.

    Raises:
        ValueError: The text is not one of these forms; the message says what was typed.
    """
    s = str(text).strip().replace("_", "").replace(" ", "")
    if not s:
        raise ValueError("enter a number, e.g. 0.1, 1e-5 or 465")
    try:
        return float(s)
    except ValueError:
        pass
    if s.lstrip("+-").lower().startswith("0x"):
        try:
            return float.fromhex(s)
        except ValueError:
            pass
    if "**" in s:  # powers such as 2**-14 or -2**10 (no eval: only numbers on both sides)
        base, _, exp = s.partition("**")
        sign = -1.0 if base.startswith("-") else 1.0
        try:
            return sign * float(base.lstrip("+-")) ** float(exp)
        except (ValueError, OverflowError, ZeroDivisionError):
            pass
    raise ValueError(f"could not read {text!r} as a number; try 0.1, 1e-5, 465, 2**-14 or inf")


def _fmt_number(x: float) -> str:
    """A float as a learner reads it: exact-looking where short, scientific otherwise."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    return f"{x:.10g}"


def _pow2(x: float) -> str:
    """``x`` and, when it is a power of two, its exponent."""
    if x > 0 and math.frexp(x)[0] == 0.5:
        return f"{_fmt_number(x)} (2<sup>{math.frexp(x)[1] - 1}</sup>)"
    return _fmt_number(x)


def readout_html(state: FormatReadout) -> str:
    """The HTML readout of one :class:`FormatReadout`: coloured bit fields and a table of the numbers."""
    b = state.bits
    spans = "".join(
        f'<span class="odyssey-{name}" style="color:{FIELD_COLOURS[name]};font-weight:bold" title="{name}">'
        f"{bits}</span>" + (" " if bits else "")
        for name, bits in (("sign", b.sign), ("exponent", b.exponent), ("mantissa", b.mantissa))
    )
    legend = " ".join(f'<span style="color:{colour}">&#9632; {name}</span>' for name, colour in FIELD_COLOURS.items())
    rows = [
        ("Format", html.escape(state.format)),
        ("Input", _fmt_number(state.value)),
        ("Rounded", f"<b>{_fmt_number(state.rounded)}</b> &nbsp; ({html.escape(state.kind)})"),
        ("Bits", f'<code style="font-size:1.1em">{spans.strip()}</code> &nbsp; code 0x{state.code:X}'),
        ("Absolute error", f"{state.abs_error:.4g}"),
        ("Relative error", f"{state.rel_error:.4g}"),
        ("ulp at value", _pow2(state.ulp)),
        (
            "Range",
            f"smallest subnormal {_pow2(state.smallest_subnormal)}, smallest normal {_pow2(state.smallest_normal)}, "
            f"max {_fmt_number(state.max)}",
        ),
    ]
    body = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table><div style='font-size:0.85em'>{legend}</div>"


class FormatExplorer(Dashboard[FormatReadout]):
    """Interactive explorer of one value in one float format.

    Controls (public, so tests and lessons can drive them): ``format`` (Dropdown), ``exponent_bits`` and
    ``mantissa_bits`` (IntSliders; moving one switches the format to ``"custom"``), ``value`` (Text), ``rounding``
    (Dropdown) and ``saturate`` (Checkbox). Outputs: ``readout`` (HTML) and ``plot`` (Output holding a PNG of the
    representable values). ``state`` is the current :class:`FormatReadout` (``None`` while the inputs are invalid,
    with the reason in ``error``).

    Args:
        fmt: Initial format name (a key of ``FORMATS``) or ``"custom"``.
        value: Initial value, as text.
        rounding: Initial rounding mode.
        saturate: Initial saturation setting.
        seed: Seed of the generator that draws a fresh seed for every stochastic rounding (reproducible sessions).
        draw: Whether to draw the plot (tests may switch it off to time the readout alone).
    """

    def __init__(
        self,
        fmt: str = "e4m3fn",
        value: str = "0.1",
        *,
        rounding: str = "nearest",
        saturate: bool = False,
        seed: int = 0,
        draw: bool = True,
    ) -> None:
        if fmt != CUSTOM:
            fmt = get_format(fmt).name
        start = get_format(fmt) if fmt != CUSTOM else FORMATS["fp16"]
        super().__init__(readout_class="odyssey-readout", figsize=(7.5, 2.0), draw=draw)
        self._rng = np.random.default_rng(seed)
        self.format = widgets.Dropdown(options=[*FORMATS, CUSTOM], value=fmt, description="Format")
        self.exponent_bits = widgets.IntSlider(
            value=start.exponent_bits, min=1, max=8, description="Exponent bits", style={"description_width": "initial"}
        )
        self.mantissa_bits = widgets.IntSlider(
            value=start.mantissa_bits,
            min=0,
            max=23,
            description="Mantissa bits",
            style={"description_width": "initial"},
        )
        self.value = widgets.Text(value=str(value), description="Value", continuous_update=False)
        self.rounding = widgets.Dropdown(
            options=["nearest", "toward_zero", "stochastic"], value=rounding, description="Rounding"
        )
        self.saturate = widgets.Checkbox(value=bool(saturate), description="Saturate")
        self._setup_figure()
        self._build(
            [[self.format, self.rounding, self.saturate], [self.exponent_bits, self.mantissa_bits], self.value],
            handlers={
                self.format: self._on_format,
                self.exponent_bits: self._on_bits,
                self.mantissa_bits: self._on_bits,
            },
        )

    # ----- control logic ------------------------------------------------------------------------------------------
    def _on_format(self, change: dict) -> None:
        if change["new"] != CUSTOM:
            f = FORMATS[change["new"]]
            with self._synced():  # moving the sliders to match a named format must not switch to custom
                self.exponent_bits.value = f.exponent_bits
                self.mantissa_bits.value = f.mantissa_bits
        self.update()

    def _on_bits(self, _change: dict) -> None:
        if self._syncing:
            return
        if self.format.value != CUSTOM:
            self.format.value = CUSTOM  # _on_format then updates
        else:
            self.update()

    def current_format(self) -> FloatFormat:
        """The selected format; for ``"custom"``, an IEEE-style ``e{E}m{M}`` built from the sliders.

        Raises:
            ValueError: The custom combination is not a valid format (e.g. it exceeds float32).
        """
        if self.format.value == CUSTOM:
            return custom_format(self.exponent_bits.value, self.mantissa_bits.value)
        return FORMATS[self.format.value]

    def _compute(self) -> FormatReadout:
        try:
            fmt = self.current_format()
            value = parse_value(self.value.value)
        except ValueError as exc:  # text that is not a number, a custom format that is not valid
            raise NoResult(str(exc)) from exc
        seed = int(self._rng.integers(2**63)) if self.rounding.value == "stochastic" else None
        return explain(value, fmt, rounding=self.rounding.value, saturate=self.saturate.value, seed=seed)

    def _readout_html(self, state: FormatReadout) -> str:
        return readout_html(state)

    # ----- drawing ------------------------------------------------------------------------------------------------
    def _setup_figure(self) -> None:
        """Create the figure's axes and artists once; updates only change their data (fast, no re-layout)."""
        self._fig.subplots_adjust(left=0.03, right=0.97, bottom=0.3, top=0.8)
        ax = self._ax = self._fig.add_subplot()
        ax.set_yticks([])
        ax.set_ylim(-1, 1)
        (self._grid_artist,) = ax.plot([], [], "|", color="0.35", markersize=20)
        self._input_artist = ax.axvline(1.0, color=FIELD_COLOURS["sign"], lw=1.5)
        (self._rounded_artist,) = ax.plot([], [], "o", color=FIELD_COLOURS["mantissa"], ms=8)
        ax.set_xlabel("grey: representable values   red: |input|   green: |rounded|", fontsize=9)

    def _plot(self, state: FormatReadout) -> str:
        """Update the figure's artists for ``state``."""
        fmt, ax = self.current_format(), self._ax
        v, r = abs(state.value), abs(state.rounded)
        if fmt.bits <= _MAX_LISTED_BITS:
            grid = representable_values(fmt)
            grid = grid[grid > 0]
            title = f"{fmt.name}: all {grid.size} positive values, log2 axis (negatives mirror them)"
            lo, hi = grid[0] / 2, grid[-1] * 2
            if ax.get_xscale() != "log":
                ax.set_xscale("log", base=2)
            lo_e, hi_e = math.floor(math.log2(lo)), math.ceil(math.log2(hi))
            stride = max(1, math.ceil((hi_e - lo_e) / 8))
            ax.set_xticks([2.0**k for k in range(lo_e, hi_e + 1, stride)])
            ax.set_xticklabels([f"2^{k}" for k in range(lo_e, hi_e + 1, stride)], fontsize=9)
            ax.minorticks_off()
        else:
            centre = r if math.isfinite(r) and r > 0 else (v if math.isfinite(v) and v > 0 else 1.0)
            grid = _grid_near(centre, fmt)
            step = float(ulp(np.array([centre]), fmt)[0])
            title = f"{fmt.name}: the values nearest |rounded| (spacing {step:.4g} here)"
            lo, hi = grid[0] - step, grid[-1] + step
            if ax.get_xscale() != "linear":
                ax.set_xscale("linear")
            ticks = grid[:: max(1, grid.size // 4)]
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:.8g}" for t in ticks], fontsize=9)
        self._grid_artist.set_data(grid, np.zeros_like(grid))
        show_input = math.isfinite(v) and v > 0 and lo <= v <= hi
        self._input_artist.set_xdata([v if show_input else lo, v if show_input else lo])
        self._input_artist.set_visible(show_input)
        show_rounded = math.isfinite(r) and r > 0
        self._rounded_artist.set_data([r] if show_rounded else [], [0] if show_rounded else [])
        ax.set_xlim(lo, hi)
        ax.set_title(title, fontsize=10)
        return f"<representable values of {fmt.name}>"


def _grid_near(centre: float, fmt: FloatFormat) -> np.ndarray:
    """Representable values around ``centre`` (a few ulps each side), computed by rounding candidates to ``fmt``."""
    step = float(ulp(np.array([centre]), fmt)[0])
    base = float(quantize(np.array([centre]), fmt, rounding="toward_zero")[0])
    # Below a power of two the spacing halves: half-steps catch those values, rounding removes the duplicates.
    candidates = base + step / 2 * np.arange(-2 * _GRID_NEIGHBOURS, 2 * _GRID_NEIGHBOURS + 1)
    grid = quantize(candidates[candidates > 0], fmt, rounding="toward_zero").astype(np.float64)
    grid = grid[np.isfinite(grid) & (grid > 0)]
    return np.unique(grid)
