"""Lesson 1 in a real browser: JupyterLab runs the notebook in Chromium and the format explorer answers its controls.

This is the one check that the widget works for a learner, not just in Python: the front-end extension loads, the
widget renders, and a change made in the page reaches the kernel and comes back as a new readout.
"""

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

# xdist_group + --dist loadgroup: every browser test runs on one worker, which starts the only JupyterLab.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

LESSON = "notebooks/01_number_formats.ipynb"


def test_lesson01_format_explorer(lab_page, lab_root):
    assert (lab_root / LESSON).exists(), f"{LESSON} is missing under {lab_root}"
    page = lab_page.page
    run_notebook_in_lab(page, lab_page.server, LESSON)

    readout = page.locator(".odyssey-readout").first
    readout.wait_for(state="visible", timeout=WIDGET_TIMEOUT_S * 1000)
    assert_no_cell_errors(page)
    assert_no_widget_errors(page)
    explorer = readout.locator("xpath=..")  # the explorer's box: its controls are the readout's siblings
    explorer.scroll_into_view_if_needed()
    screenshot(page, "lesson01-after-run-all")
    before = readout.inner_text()
    assert before.strip(), "the readout rendered empty"

    fmt = explorer.get_by_label("Format", exact=True)
    current = fmt.input_value()
    options = [o for o in fmt.locator("option").all_inner_texts() if o != current]
    assert options, f"the Format dropdown offers nothing but {current!r}"
    choice = "e5m2" if "e5m2" in options else options[0]
    fmt.select_option(choice)
    after_format = wait_for_text_change(readout, before)
    assert choice in after_format, f"readout does not name the chosen format {choice!r}:\n{after_format}"

    value = explorer.get_by_label("Value", exact=True)
    typed = "0.1" if value.input_value().strip() != "0.1" else "465"  # the lesson may have left either one there
    value.fill(typed)
    value.press("Enter")
    after_value = wait_for_text_change(readout, after_format)
    assert typed in after_value, f"readout does not show the typed value {typed}:\n{after_value}"
    screenshot(explorer, "lesson01-explorer-after-typing")

    assert_no_widget_errors(page)
    assert_no_cell_errors(page)
    lab_page.console.assert_clean()
