"""Scenario 2: digits drawn with the mouse are read by the model; Clear empties everything."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PREDICT_TIMEOUT_MS = 30_000
EMPTY = "–"  # the Prediction metric with nothing drawn


def _clear(st) -> None:
    st.button("Clear").click()
    expect(st.metric("Prediction")).to_have_text(EMPTY)
    st.wait_idle()
    assert st.ink_pixels() == 0, "Clear left ink on the canvas"


def _set_pen_width(st, key: str) -> int:
    """Press Home/End on the "Pen width" slider; returns the width it shows."""
    slider = st.main.get_by_test_id("stSlider").filter(has_text="Pen width")
    thumb = slider.get_by_role("slider")
    thumb.focus()
    # the canvas must have the new width before the stroke: a rerun mid-stroke replaces the
    # brush, and the stroke loses its start
    st.after_rerun(lambda: thumb.press(key))
    return int(slider.get_by_test_id("stSliderThumbValue").inner_text())


def test_drawn_digits_are_predicted_and_clear_empties(st) -> None:
    st.open("draw")
    expect(st.metric("Prediction")).to_have_text(EMPTY)
    st.canvas.wait_for()
    assert st.ink_pixels() == 0

    for digit in ("1", "0", "7"):
        st.draw_digit(digit)
        expect(st.metric("Prediction")).to_have_text(digit, timeout=PREDICT_TIMEOUT_MS)
        st.wait_idle()
        assert st.ink_pixels() > 0
        st.shot(f"digit-{digit}")
        st.assert_no_errors()
        _clear(st)
    st.shot("cleared")


def test_thin_and_thick_strokes(st) -> None:
    st.open("draw")
    st.canvas.wait_for()
    ink = {}
    for name, key in (("thin", "Home"), ("thick", "End")):
        width = _set_pen_width(st, key)
        assert (width < 10) if name == "thin" else (width > 30), f"{name} pen width is {width}"
        st.draw_digit("1")
        expect(st.metric("Prediction")).to_have_text("1", timeout=PREDICT_TIMEOUT_MS)
        st.wait_idle()
        ink[name] = st.ink_pixels()
        st.shot(f"{name}-{width}px")
        _clear(st)
    assert ink["thick"] > 3 * ink["thin"] > 0, f"ink per pen width: {ink}"
    st.assert_no_errors()


def test_the_input_toggle_keeps_a_choice(st) -> None:
    """A click on the active segment does not deselect it (Upload used to become the canvas)."""
    st.open("draw")
    st.canvas.wait_for()
    toggle = st.main.get_by_test_id("stButtonGroup")
    uploader = st.main.get_by_test_id("stFileUploader").filter(has_text="Upload a photo")
    st.after_rerun(lambda: toggle.locator("button", has_text="Upload").click())
    expect(uploader).to_have_count(1)
    toggle.locator("button", has_text="Upload").click()  # the active one: nothing changes
    st.wait_idle()
    expect(uploader).to_have_count(1)
    expect(st.canvas).to_have_count(0)
    st.after_rerun(lambda: toggle.locator("button", has_text="Draw").click())
    expect(uploader).to_have_count(0)
    st.canvas.wait_for()
    st.assert_no_errors()


PHONE = {"width": 390, "height": 844}


def test_on_a_phone_the_answer_and_the_ten_digits_fit_the_screen(new_st) -> None:
    """Issue 27, item 8, at 390x844: the sidebar covered 3/4 of the screen on a first visit;
    after drawing, the prediction was below the fold; the "No, it is" row cut the 9 off."""
    st = new_st("phone", viewport=PHONE)
    st.open("draw")
    expect(st.sidebar).not_to_be_in_viewport()  # closed: the page is the canvas
    st.canvas.wait_for()
    st.draw_digit("0")
    answer = st.page.locator(".st-key-draw_phone_answer")
    expect(answer).to_contain_text("Prediction: 0", timeout=PREDICT_TIMEOUT_MS)
    st.wait_idle()
    box = answer.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"], box
    nine = st.page.locator("[class*='st-key-hw_pick_']").get_by_text("9", exact=True)
    nine.scroll_into_view_if_needed()
    nine_box = nine.bounding_box()
    assert nine_box is not None and nine_box["x"] + nine_box["width"] <= PHONE["width"], nine_box
    st.shot("phone")
    st.assert_no_errors()

    wide = new_st("wide")  # 1400 px: the prediction beside the canvas, no extra line
    wide.open("draw")
    wide.draw_digit("0")
    expect(wide.metric("Prediction")).to_have_text("0", timeout=PREDICT_TIMEOUT_MS)
    wide.wait_idle()
    expect(wide.page.locator(".st-key-draw_phone_answer")).to_be_hidden()
    expect(wide.sidebar).to_be_in_viewport()
