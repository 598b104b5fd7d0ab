"""Lessons 2-5 in a real browser: JupyterLab runs each notebook in Chromium, and its training widget answers a
dropdown and a slider -- each change reaches the kernel, re-trains (or re-runs), and comes back as a new readout.

(Lesson 1's format explorer, with its text field, has its own test in test_browser_lesson01.py.)
"""

from __future__ import annotations

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
]  # fmt: skip


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
    screenshot(widget, f"lesson{shot}-widget-after-controls")

    assert_no_widget_errors(page)
    assert_no_cell_errors(page)
    lab_page.console.assert_clean()
