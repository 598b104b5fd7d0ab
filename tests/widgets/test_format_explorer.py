"""FormatExplorer driven headless: set the controls from Python, check the state and readout against oracles."""

from __future__ import annotations

import base64
import math
import re

import ipywidgets as widgets
import numpy as np
import pytest

from odyssey_lessons.formats import FORMATS, custom_format, encode, finfo, quantize
from odyssey_lessons.formats._explain import explain
from odyssey_lessons.widgets import FormatExplorer, parse_value
from tests.oracles import require

ml_dtypes = require("ml_dtypes")


@pytest.fixture
def explorer() -> FormatExplorer:
    return FormatExplorer(fmt="e4m3fn", value="0.1")


def _readout_bits(html_text: str) -> dict[str, str]:
    """The bit strings inside the coloured spans of the readout."""
    return dict(re.findall(r'class="odyssey-(sign|exponent|mantissa)"[^>]*>([01]*)</span>', html_text))


def test_controls_are_public_widgets_with_the_documented_descriptions(explorer):
    assert isinstance(explorer.widget, widgets.VBox)
    for name, kind, description in [
        ("format", widgets.Dropdown, "Format"),
        ("exponent_bits", widgets.IntSlider, "Exponent bits"),
        ("mantissa_bits", widgets.IntSlider, "Mantissa bits"),
        ("value", widgets.Text, "Value"),
        ("rounding", widgets.Dropdown, "Rounding"),
        ("saturate", widgets.Checkbox, "Saturate"),
    ]:
        control = getattr(explorer, name)
        assert isinstance(control, kind) and control.description == description
    assert list(explorer.format.options) == [*FORMATS, "custom"]
    assert (explorer.exponent_bits.min, explorer.exponent_bits.max) == (1, 8)
    assert (explorer.mantissa_bits.min, explorer.mantissa_bits.max) == (0, 23)
    assert "odyssey-readout" in explorer.readout._dom_classes
    assert explorer.readout in explorer.widget.children and explorer.plot in explorer.widget.children
    assert callable(explorer._ipython_display_)


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_rounds_like_quantize(explorer, name):
    explorer.format.value = name
    for text in ["0.1", "1e-5", "465", "-3.75", "70000"]:
        explorer.value.value = text
        r = float(quantize(np.array([float(text)]), name)[0])
        assert explorer.state is not None and explorer.state.format == name
        assert explorer.state.rounded == r or (math.isnan(r) and math.isnan(explorer.state.rounded))
        assert repr(explorer.state) == repr(explain(float(text), name))  # repr: NaN fields compare equal


def test_465_in_e4m3fn_is_nan_and_saturates_to_max(explorer):
    explorer.value.value = "465"
    oracle = float(np.float32(465).astype(ml_dtypes.float8_e4m3fn))
    assert math.isnan(oracle) and math.isnan(explorer.state.rounded)
    assert explorer.state.kind == "overflow->nan"
    assert "NaN" in explorer.readout.value
    explorer.saturate.value = True
    assert (
        explorer.state.rounded == finfo("e4m3fn").max == float(quantize(np.array([465.0]), "e4m3fn", saturate=True)[0])
    )
    assert explorer.state.kind == "overflow->max"


def test_e5m2_overflows_to_inf(explorer):
    explorer.format.value = "e5m2"
    explorer.value.value = "1e6"
    assert explorer.state.rounded == float(np.float32(1e6).astype(ml_dtypes.float8_e5m2)) == math.inf
    assert "+inf" in explorer.readout.value


@pytest.mark.parametrize(
    "name, dtype", [("fp16", np.float16), ("bf16", ml_dtypes.bfloat16), ("e5m2", ml_dtypes.float8_e5m2)]
)
def test_readout_bits_are_the_oracle_bit_pattern(explorer, name, dtype):
    explorer.format.value = name
    for text in ["0.1", "-2.5", "3e-5", "1000"]:
        explorer.value.value = text
        arr = np.array([float(text)], np.float32).astype(dtype)
        code = int(arr.view(np.uint8 if arr.itemsize == 1 else np.uint16)[0])
        expected = format(code, f"0{FORMATS[name].bits}b")
        shown = _readout_bits(explorer.readout.value)
        assert shown["sign"] + shown["exponent"] + shown["mantissa"] == expected
        assert explorer.state.code == code == int(encode(np.array([float(text)], np.float32), name)[0])


def test_fp32_readout_bits_are_the_float32_pattern(explorer):
    explorer.format.value = "fp32"
    explorer.value.value = "0.1"
    shown = _readout_bits(explorer.readout.value)
    assert shown["sign"] + shown["exponent"] + shown["mantissa"] == format(
        int(np.array([0.1], np.float32).view(np.uint32)[0]), "032b"
    )


def test_bad_value_shows_a_message_and_recovers(explorer):
    explorer.value.value = "abc"
    assert explorer.state is None
    assert "could not read 'abc'" in explorer.error
    assert "could not read" in explorer.readout.value and "odyssey-error" in explorer.readout.value
    explorer.value.value = "0.1"
    assert explorer.error is None and explorer.state.rounded == float(quantize(np.array([0.1]), "e4m3fn")[0])


def test_sliders_switch_to_custom_and_named_formats_move_the_sliders(explorer):
    explorer.mantissa_bits.value = 5
    assert explorer.format.value == "custom"
    assert explorer.state.format == "e4m5"
    assert explorer.state == explain(0.1, custom_format(4, 5))
    explorer.format.value = "bf16"
    assert (explorer.exponent_bits.value, explorer.mantissa_bits.value) == (8, 7)
    assert explorer.format.value == "bf16"  # syncing the sliders did not switch back to custom
    explorer.exponent_bits.value = 5
    assert explorer.format.value == "custom" and explorer.state.format == "e5m7"


def test_invalid_custom_format_shows_the_error(explorer):
    explorer.format.value = "custom"
    explorer.exponent_bits.value = 1
    assert explorer.state is None
    with pytest.raises(ValueError) as excinfo:
        custom_format(1, explorer.mantissa_bits.value)
    assert explorer.error == str(excinfo.value)
    assert "exponent_bits" in explorer.readout.value
    explorer.exponent_bits.value = 5
    assert explorer.error is None and explorer.state is not None


def test_rounding_modes(explorer):
    lo = float(quantize(np.array([0.1]), "e4m3fn", rounding="toward_zero")[0])
    explorer.rounding.value = "toward_zero"
    assert explorer.state.rounded == lo
    explorer.rounding.value = "stochastic"
    seen = set()
    for i in range(30):
        explorer.value.value = f"0.1{'0' * i}"  # same number, new text: every update draws a new stochastic seed
        seen.add(explorer.state.rounded)
    hi = float(quantize(np.array([0.1]), "e4m3fn", rounding="nearest")[0])
    assert seen == {lo, hi}


def test_plot_is_one_reused_figure_rendered_to_png(explorer):
    fig = explorer.figure
    for name in ["fp16", "fp32", "e2m1fn", "tf32"]:
        explorer.format.value = name
        assert explorer.figure is fig
        (output,) = explorer.plot.outputs
        assert base64.b64decode(output["data"]["image/png"]).startswith(b"\x89PNG")
    explorer.value.value = "nope"
    assert explorer.plot.outputs == ()


def test_wide_format_plot_shows_the_grid_near_the_value(explorer):
    explorer.format.value = "fp32"
    explorer.value.value = "0.1"
    grid = explorer._grid_artist.get_xdata()
    r = explorer.state.rounded
    assert r in grid
    steps = np.diff(grid)
    assert np.all(steps == float(np.spacing(np.float32(r))))  # within one binade the gap is numpy's spacing


@pytest.mark.parametrize(
    "text, expected",
    [("0.1", 0.1), ("1e-5", 1e-5), ("465", 465.0), (" -3.5 ", -3.5), ("2**-14", 2.0**-14), ("-2**10", -1024.0),
     ("0x1p-3", 0.125), ("inf", math.inf), ("1_000", 1000.0)],
)  # fmt: skip
def test_parse_value_accepts_what_learners_type(text, expected):
    assert parse_value(text) == expected


@pytest.mark.parametrize("text", ["abc", "", "1e", "2**x", "0.1.2"])
def test_parse_value_rejects_with_a_message(text):
    with pytest.raises(ValueError, match="could not read|enter a number"):
        parse_value(text)
