"""Lesson 4 in a real browser: JupyterLab runs the notebook in Chromium and the optimizer explorer answers its
controls (the optimizer dropdown and the learning-rate slider), re-running and redrawing each time."""

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

LESSON = "notebooks/04_optimizers.ipynb"


def test_lesson04_optimizer_explorer(lab_page, lab_root):
    assert (lab_root / LESSON).exists(), f"{LESSON} is missing under {lab_root}"
    page = lab_page.page
    run_notebook_in_lab(page, lab_page.server, LESSON)

    readout = page.locator(".odyssey-optimizer-readout").first
    readout.wait_for(state="visible", timeout=WIDGET_TIMEOUT_S * 1000)
    assert_no_cell_errors(page)
    assert_no_widget_errors(page)
    explorer = readout.locator("xpath=..")
    explorer.scroll_into_view_if_needed()
    screenshot(page, "lesson04-after-run-all")
    before = readout.inner_text()

    optimizer = explorer.get_by_label("Optimizer", exact=True)
    choice = "adam" if optimizer.input_value() != "adam" else "lion"
    optimizer.select_option(choice)
    after_optimizer = wait_for_text_change(readout, before)
    assert choice in after_optimizer, f"the readout does not name {choice!r}:\n{after_optimizer}"

    lr = explorer.locator(".widget-readout").first  # the learning-rate slider's editable number
    lr.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("0.001")
    page.keyboard.press("Enter")
    after_lr = wait_for_text_change(readout, after_optimizer)
    assert after_lr != after_optimizer
    screenshot(explorer, "lesson04-explorer-after-controls")

    assert_no_widget_errors(page)
    assert_no_cell_errors(page)
    lab_page.console.assert_clean()
