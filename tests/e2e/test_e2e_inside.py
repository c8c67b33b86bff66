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


def _a_point_on_screen(st) -> tuple[int, float, float]:
    """(test index, page x, page y) of a point of the map's first trace that lies apart from
    the others, so that a click there hits that point."""
    return tuple(
        st.page.evaluate(
            """() => {
                const gd = document.querySelector('.st-key-inside_map .js-plotly-plot');
                const L = gd._fullLayout, box = gd.getBoundingClientRect();
                const pts = [];
                gd.data.forEach((t, ti) => {
                    if (!t.customdata) return;
                    t.x.forEach((x, i) => pts.push([L.xaxis.l2p(x) + L._size.l,
                                                    L.yaxis.l2p(t.y[i]) + L._size.t,
                                                    t.customdata[i][0]]));
                });
                let best = null, bestGap = -1;
                for (const p of pts) {  // the point whose nearest neighbour is farthest
                    let gap = Infinity;
                    for (const q of pts) {
                        if (q === p) continue;
                        gap = Math.min(gap, Math.hypot(p[0] - q[0], p[1] - q[1]));
                    }
                    if (gap > bestGap) { bestGap = gap; best = p; }
                }
                return [best[2], box.left + best[0], box.top + best[1]];
            }"""
        )
    )


def _image_sources(st) -> list[str]:
    return (
        st.main.get_by_test_id("stImage")
        .locator("img")
        .evaluate_all("(imgs) => imgs.map((img) => img.getAttribute('src').slice(0, 40))")
    )


def _pictures_travel_with_the_page(st) -> None:
    """Issue 27, item 15: Inside's pictures are `data:` URLs, not files under /media/ that a
    redraw a second later (a model still training) can remove before the browser fetched
    them ("Image source error" in the console, a broken picture)."""
    sources = _image_sources(st)
    assert sources, "no picture on Inside"
    assert all(s.startswith("data:image/png;base64,") for s in sources), sources


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
    _pictures_travel_with_the_page(st)

    _open_tab(st, "Attributions")
    overlay = st.main.get_by_test_id("stImage").filter(has_text="Over the input")
    expect(overlay.locator("img")).to_be_visible(timeout=VIEW_TIMEOUT_MS)
    assert overlay.locator("img").evaluate("(img) => img.naturalWidth") > 100
    st.shot("attributions")
    st.assert_no_errors()
    _pictures_travel_with_the_page(st)

    _open_tab(st, "Map")
    expect(st.keyed("inside_map").locator(".js-plotly-plot")).to_be_visible(timeout=VIEW_TIMEOUT_MS)
    st.wait_idle()
    assert st.plotly_points("inside_map") > 500  # the sampled test digits and the star
    expect(
        st.main.get_by_text(re.compile(r"test digits by the model's penultimate"))
    ).to_be_visible()
    st.shot("map")
    st.assert_no_errors()

    # clicking a point of the map makes that test image the digit looked at
    index, x, y = _a_point_on_screen(st)
    st.after_rerun(lambda: st.page.mouse.click(x, y))
    expect(st.main.get_by_text(re.compile(rf"^Test image #{index} \(a \d\)$"))).to_be_visible()
    assert st.main.get_by_role("spinbutton", name="Test image #").input_value() == str(index)
    st.assert_no_errors()
