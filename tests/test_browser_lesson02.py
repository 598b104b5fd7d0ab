"""Lesson 2 in a real browser: JupyterLab runs the notebook in Chromium and the loss-scale sweep answers its controls
(the gradient-format dropdown and the loss-scale slider), re-training and redrawing each time."""

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

LESSON = "notebooks/02_mixed_precision.ipynb"


def test_lesson02_loss_scale_sweep(lab_page, lab_root):
    assert (lab_root / LESSON).exists(), f"{LESSON} is missing under {lab_root}"
    page = lab_page.page
    run_notebook_in_lab(page, lab_page.server, LESSON)

    readout = page.locator(".odyssey-sweep-readout").first
    readout.wait_for(state="visible", timeout=WIDGET_TIMEOUT_S * 1000)
    assert_no_cell_errors(page)
    assert_no_widget_errors(page)
    sweep = readout.locator("xpath=..")  # the widget's box: its controls are the readout's siblings
    sweep.scroll_into_view_if_needed()
    screenshot(page, "lesson02-after-run-all")
    before = readout.inner_text()
    assert "loss scale" in before, f"the readout did not render its table:\n{before}"

    grads = sweep.get_by_label("Gradients", exact=True)
    current = grads.input_value()
    choice = "fp16" if current != "fp16" else "bf16"
    grads.select_option(choice)
    after_format = wait_for_text_change(readout, before)

    slider_value = sweep.locator(".widget-readout").first  # the slider's editable number
    old = slider_value.inner_text().strip()
    target = "20" if old != "20" else "8"
    slider_value.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(target)
    page.keyboard.press("Enter")
    after_scale = wait_for_text_change(readout, after_format)
    assert f"2{target}" in after_scale.replace(" ", "") or target in after_scale, (
        f"the readout does not show the loss scale 2^{target}:\n{after_scale}"
    )
    screenshot(sweep, "lesson02-sweep-after-controls")

    assert_no_widget_errors(page)
    assert_no_cell_errors(page)
    lab_page.console.assert_clean()
