"""Lesson 3 in a real browser: JupyterLab runs the notebook in Chromium and the schedule explorer answers its
controls (the schedule dropdown and the epochs slider), re-training and redrawing each time."""

from __future__ import annotations

import pytest

from tests._lab import (
    WIDGET_TIMEOUT_S,
    assert_no_cell_errors,
    assert_no_widget_errors,
    run_notebook_in_lab,
    screenshot,
    wait_for_text_change,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

LESSON = "notebooks/03_lr_schedules.ipynb"


def test_lesson03_schedule_explorer(lab_page, lab_root):
    assert (lab_root / LESSON).exists(), f"{LESSON} is missing under {lab_root}"
    page = lab_page.page
    run_notebook_in_lab(page, lab_page.server, LESSON)

    readout = page.locator(".odyssey-schedule-readout").first
    readout.wait_for(state="visible", timeout=WIDGET_TIMEOUT_S * 1000)
    assert_no_cell_errors(page)
    assert_no_widget_errors(page)
    explorer = readout.locator("xpath=..")
    explorer.scroll_into_view_if_needed()
    screenshot(page, "lesson03-after-run-all")
    before = readout.inner_text()

    schedule = explorer.get_by_label("Schedule", exact=True)
    choice = "one_cycle" if schedule.input_value() != "one_cycle" else "sgdr"
    schedule.select_option(choice)
    after_schedule = wait_for_text_change(readout, before)
    assert choice in after_schedule, f"the readout does not name {choice!r}:\n{after_schedule}"

    epochs = explorer.locator(".widget-readout").last  # the epochs slider's editable number
    target = "2" if epochs.inner_text().strip() != "2" else "3"
    epochs.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(target)
    page.keyboard.press("Enter")
    after_epochs = wait_for_text_change(readout, after_schedule)
    assert f"({target} epochs)" in after_epochs, f"the readout does not show {target} epochs:\n{after_epochs}"
    screenshot(explorer, "lesson03-explorer-after-controls")

    assert_no_widget_errors(page)
    assert_no_cell_errors(page)
    lab_page.console.assert_clean()
