"""Lesson 5 in a real browser: JupyterLab runs the notebook in Chromium and the regularization explorer answers its
controls (the regularizer dropdown and the strength slider), re-training and redrawing each time."""

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

LESSON = "notebooks/05_regularization.ipynb"


def test_lesson05_regularization_explorer(lab_page, lab_root):
    assert (lab_root / LESSON).exists(), f"{LESSON} is missing under {lab_root}"
    page = lab_page.page
    run_notebook_in_lab(page, lab_page.server, LESSON)

    readout = page.locator(".odyssey-regularization-readout").first
    readout.wait_for(state="visible", timeout=WIDGET_TIMEOUT_S * 1000)
    assert_no_cell_errors(page)
    assert_no_widget_errors(page)
    explorer = readout.locator("xpath=..")
    explorer.scroll_into_view_if_needed()
    screenshot(page, "lesson05-after-run-all")
    before = readout.inner_text()

    regularizer = explorer.get_by_label("Regularizer", exact=True)
    choice = "l2" if regularizer.input_value() != "l2" else "dropout"
    regularizer.select_option(choice)
    after_choice = wait_for_text_change(readout, before)
    assert choice in after_choice, f"the readout does not name {choice!r}:\n{after_choice}"

    strength = explorer.locator(".widget-readout").first  # the strength slider's editable number
    strength.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("0.02")
    page.keyboard.press("Enter")
    after_strength = wait_for_text_change(readout, after_choice)
    assert "0.02" in after_strength, f"the readout does not show the new strength:\n{after_strength}"
    screenshot(explorer, "lesson05-explorer-after-controls")

    assert_no_widget_errors(page)
    assert_no_cell_errors(page)
    lab_page.console.assert_clean()
