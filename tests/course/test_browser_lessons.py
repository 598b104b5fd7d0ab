"""Lessons 2-7 in a real browser: JupyterLab runs each notebook in Chromium, and its widget answers a dropdown and
a slider -- each change reaches the kernel, re-trains (or re-runs), and comes back as a new readout -- then every
other control of the widget is changed once.

(Lesson 1's format explorer, with its text field, has its own test in test_browser_lesson01.py.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from tests._lab import (
    WIDGET_TIMEOUT_S,
    assert_no_cell_errors,
    assert_no_widget_errors,
    run_notebook_in_lab,
    screenshot,
    wait_for_text_change,
)

# xdist_group + --dist loadgroup: every browser test runs on one worker, which starts the only JupyterLab.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@dataclass(frozen=True)
class WidgetDrive:
    """How to drive one lesson's widget: a dropdown option, then a number typed into a slider's readout."""

    lesson: str
    readout: str  # CSS class of the widget's readout (its controls are the readout's siblings)
    dropdown: str  # the dropdown's label
    options: tuple[str, str]  # the option to pick, and the one to pick if the first is already selected
    named_in_readout: bool  # whether the readout names the chosen option
    slider: int  # which slider readout to type into: 0 = first, -1 = last
    values: tuple[str, str]  # the number to type, and the one to type if the first is already there
    expect: str  # text the readout must show afterwards; {value} is the number typed


DRIVES = [
    WidgetDrive("02_mixed_precision", "odyssey-sweep-readout", "Gradients", ("fp16", "bf16"), False, 0, ("20", "8"),
                "2{value}"),
    WidgetDrive("03_lr_schedules", "odyssey-schedule-readout", "Schedule", ("one_cycle", "sgdr"), True, -1,
                ("2", "3"), "({value} epochs)"),
    WidgetDrive("04_optimizers", "odyssey-optimizer-readout", "Optimizer", ("adam", "lion"), True, 0,
                ("0.001", "0.002"), "steps"),
    WidgetDrive("05_regularization", "odyssey-regularization-readout", "Regularizer", ("l2", "dropout"), True, 0,
                ("0.02", "0.03"), "{value}"),
    WidgetDrive("06_quantization", "odyssey-quant-readout", "Calibration", ("percentile", "mse"), True, 0,
                ("3", "5"), "{value}-bit"),
    WidgetDrive("07_profiling", "odyssey-profile-readout", "Pass", ("forward", "forward+backward"), True, 0,
                ("100", "50"), "batch{value}"),
]  # fmt: skip


def _widget_html(widget) -> str:
    return widget.inner_html()


def exercise_every_control(page, widget, *, skip_select) -> list[str]:
    """Change every dropdown, slider and checkbox of ``widget`` once (the driven dropdown aside); each change must reach
    the kernel and come back as a new rendering (readout or figure). Returns a description of each change made.

    Dropdowns get their first option not currently selected; sliders get one keyboard step on their handle (right,
    or left where the first step changed nothing because the handle sat at its maximum); checkboxes are clicked.
    """
    done = []
    selects = widget.locator("select")
    skip_id = skip_select.get_attribute("id")
    for i in range(selects.count()):
        select = selects.nth(i)
        if skip_id is not None and select.get_attribute("id") == skip_id:
            continue
        current = select.input_value()
        options = [o for o in select.locator("option").all_inner_texts() if o != current]
        if not options:
            continue
        before = _widget_html(widget)
        select.select_option(options[0])
        wait_for_text_change(widget, before, text=_widget_html)
        done.append(f"select {i} -> {options[0]}")
    handles = widget.locator(".noUi-handle")
    for i in range(handles.count()):
        before = _widget_html(widget)
        handle = handles.nth(i)
        handle.focus()
        page.keyboard.press("ArrowRight")
        if handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax") and _settled(widget, before):
            page.keyboard.press("ArrowLeft")
        wait_for_text_change(widget, before, text=_widget_html)
        done.append(f"slider {i} one step")
    boxes = widget.locator("input[type=checkbox]")
    for i in range(boxes.count()):
        before = _widget_html(widget)
        boxes.nth(i).click()
        wait_for_text_change(widget, before, text=_widget_html)
        done.append(f"checkbox {i}")
    return done


def _settled(widget, before: str, wait_s: float = 1.0) -> bool:
    """True when the widget still renders ``before`` after ``wait_s`` (the last key press changed nothing)."""
    time.sleep(wait_s)
    return _widget_html(widget) == before


@pytest.mark.parametrize("drive", DRIVES, ids=lambda d: d.lesson)
def test_lesson_widget_in_the_browser(drive: WidgetDrive, lab_page, lab_root):
    path = f"notebooks/{drive.lesson}.ipynb"
    assert (lab_root / path).exists(), f"{path} is missing under {lab_root}"
    page = lab_page.page
    run_notebook_in_lab(page, lab_page.server, path)
    shot = drive.lesson[:2]

    readout = page.locator(f".{drive.readout}").first
    readout.wait_for(state="visible", timeout=WIDGET_TIMEOUT_S * 1000)
    assert_no_cell_errors(page)
    assert_no_widget_errors(page)
    widget = readout.locator("xpath=..")
    widget.scroll_into_view_if_needed()
    screenshot(page, f"lesson{shot}-after-run-all")
    before = readout.inner_text()
    assert before.strip(), "the readout rendered empty"

    dropdown = widget.get_by_label(drive.dropdown, exact=True)
    choice = drive.options[0] if dropdown.input_value() != drive.options[0] else drive.options[1]
    dropdown.select_option(choice)
    after_choice = wait_for_text_change(readout, before)
    if drive.named_in_readout:
        assert choice in after_choice, f"the readout does not name {choice!r}:\n{after_choice}"

    number = widget.locator(".widget-readout").nth(drive.slider)  # a slider's editable number
    value = drive.values[0] if number.inner_text().strip() != drive.values[0] else drive.values[1]
    number.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")
    after_value = wait_for_text_change(readout, after_choice)
    expected = drive.expect.format(value=value)
    assert expected in after_value.replace(" ", "").replace("\n", "") or expected in after_value, (
        f"the readout does not show {expected!r} after typing {value}:\n{after_value}"
    )
    changed = exercise_every_control(page, widget, skip_select=dropdown)
    screenshot(widget, f"lesson{shot}-widget-after-controls")
    assert changed, "the widget has no other control to exercise"

    assert_no_widget_errors(page)
    assert_no_cell_errors(page)
    lab_page.console.assert_clean()


# Lessons with no course widget to drive: each must still run top to bottom in JupyterLab without a traceback, a
# widget error or a console error. The start page's own slider must answer a drag (its label echoes the value).
PLAIN = ["00_start_here", "08_capstone"]


@pytest.mark.parametrize("lesson", PLAIN)
def test_lesson_runs_in_the_browser(lesson: str, lab_page, lab_root):
    path = f"notebooks/{lesson}.ipynb"
    assert (lab_root / path).exists(), f"{path} is missing under {lab_root}"
    page = lab_page.page
    run_notebook_in_lab(page, lab_page.server, path)
    assert_no_cell_errors(page)
    assert_no_widget_errors(page)
    handles = page.locator(".jp-OutputArea-output .noUi-handle")
    if lesson == "00_start_here":
        assert handles.count() >= 1, "the start page's slider did not render"
        widget = handles.first.locator("xpath=ancestor::div[contains(@class, 'widget-hbox')][1]")
        before = widget.inner_text()
        handles.first.focus()
        page.keyboard.press("ArrowRight")
        wait_for_text_change(widget, before)
    screenshot(page, f"lesson{lesson[:2]}-after-run-all")
    assert_no_widget_errors(page)
    assert_no_cell_errors(page)
    lab_page.console.assert_clean()
