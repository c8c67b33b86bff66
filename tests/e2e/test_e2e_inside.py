"""Scenario: draw a 7 on Draw, press "Look inside", and see the layers, an attribution map and
the embedding map of the model that read it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PREDICT_TIMEOUT_MS = 30_000
VIEW_TIMEOUT_MS = 60_000  # a first look at a checkpoint computes its map / top digits


def _open_tab(st, name: str) -> None:
    tab = st.main.get_by_role("tab", name=name)
    st.after_rerun(tab.click)  # lazy tabs: the script runs the chosen tab's view
    expect(tab).to_have_attribute("aria-selected", "true")


def test_look_inside_a_drawn_7(st) -> None:
    st.open("draw")
    st.canvas.wait_for()
    st.draw_digit("7")
    expect(st.metric("Prediction")).to_have_text("7", timeout=PREDICT_TIMEOUT_MS)
    st.wait_idle()

    st.button("Look inside", within=st.main).click()
    st.page.wait_for_function("() => window.location.pathname.endsWith('/inside')")
    st.wait_idle(timeout=VIEW_TIMEOUT_MS)
    expect(st.main.get_by_role("heading", name="Inside the network")).to_be_visible()
    expect(st.metric("Prediction")).to_have_text("7")
    expect(st.main.get_by_text("Your drawing from the Draw page")).to_be_visible()

    # the layers: one row per layer with its shape and parameters, then the probabilities
    rows = st.main.get_by_text(re.compile(r"· [\d,]+ parameters$"))
    expect(rows.first).to_be_visible()
    assert rows.count() >= 5, rows.all_inner_texts()
    expect(st.keyed("inside_probabilities").locator(".js-plotly-plot")).to_be_visible()
    st.shot("layers")
    st.assert_no_errors()

    _open_tab(st, "Attributions")
    overlay = st.main.get_by_test_id("stImage").filter(has_text="Over the input")
    expect(overlay.locator("img")).to_be_visible(timeout=VIEW_TIMEOUT_MS)
    assert overlay.locator("img").evaluate("(img) => img.naturalWidth") > 100
    st.shot("attributions")
    st.assert_no_errors()

    _open_tab(st, "Map")
    expect(st.keyed("inside_map").locator(".js-plotly-plot")).to_be_visible(timeout=VIEW_TIMEOUT_MS)
    st.wait_idle()
    assert st.plotly_points("inside_map") > 500  # the sampled test digits and the star
    expect(
        st.main.get_by_text(re.compile(r"test digits by the model's penultimate"))
    ).to_be_visible()
    st.shot("map")
    st.assert_no_errors()
