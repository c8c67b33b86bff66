"""Scenario 5: clicking a cell of the confusion matrix filters the gallery to that pair."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mnist_core.storage.owners import owner_key, owner_of
from mnist_core.storage.store import ModelStore
from ui.visitor import VISITOR_COOKIE

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
OWN_RESNET = "ResNet of mine"

# The off-diagonal cell with the most images: its centre in page pixels, from plotly's own
# axes (the chart is a scatter of square markers; customdata = [true, predicted, count]).
_BUSIEST_CELL_JS = """(div) => {
    const trace = div._fullData[0], layout = div._fullLayout;
    let best = -1;
    trace.customdata.forEach((c, i) => {
        if (c[0] !== c[1] && c[2] > 0 && (best < 0 || c[2] > trace.customdata[best][2])) best = i;
    });
    if (best < 0) return null;
    const box = div.getBoundingClientRect();
    const [t, p, n] = trace.customdata[best];
    return {
        x: box.left + layout.xaxis._offset + layout.xaxis.l2p(trace.x[best]),
        y: box.top + layout.yaxis._offset + layout.yaxis.l2p(trace.y[best]),
        t: Number(t), p: Number(p), n: Number(n),
    };
}"""


def test_clicking_a_confusion_cell_filters_the_gallery(st) -> None:
    st.open("mistakes")
    chart = st.page.locator("[class*='st-key-mistakes_confusion_'] .js-plotly-plot")
    expect(chart).to_have_count(1, timeout=60_000)  # evaluating 10,000 test images first
    st.wait_idle()
    captions = st.main.get_by_test_id("stImageCaption")
    page_size = captions.count()  # a full first page of all the mistakes
    assert page_size > 0

    chart.scroll_into_view_if_needed()
    cell = chart.evaluate(_BUSIEST_CELL_JS)
    assert cell is not None, "the confusion matrix has no off-diagonal cell with images"
    true, pred, count = cell["t"], cell["p"], cell["n"]
    st.page.mouse.click(cell["x"], cell["y"])

    wanted = f"True {true} → predicted {pred} ({count:,})"
    select = st.selectbox("Filter true → predicted").get_by_role("combobox")
    expect(select).to_have_value(wanted, timeout=30_000)
    st.wait_idle()
    expect(captions).to_have_count(min(count, page_size))
    for text in captions.all_inner_texts():
        assert re.match(rf"true {true} · said {pred} · \d+%", text), text
    expect(st.main).to_contain_text(f"{count:,} image")
    st.assert_no_errors()
    st.shot(f"filtered-{true}-as-{pred}")

    # Back to all mistakes with the selectbox: it says so, and the gallery is full again.
    st.select_option("Filter true → predicted", "All mistakes")
    expect(captions).to_have_count(page_size)
    expect(select).to_have_value(re.compile(r"^All mistakes \(\d[\d,]*\)$"))
    st.assert_no_errors()


def test_the_gallery_filter_starts_at_all_mistakes(st) -> None:
    """Before any click the filter names what the gallery shows ("All mistakes (61)"), not
    Streamlit's placeholder "Choose an option" (what a selectbox shows for the value None)."""
    st.open("mistakes")
    select = st.selectbox("Filter true → predicted").get_by_role("combobox")
    expect(select).to_have_count(1, timeout=60_000)
    st.wait_idle()
    expect(select).to_have_value(re.compile(r"^All mistakes \(\d[\d,]*\)$"))


_PAGE_NOW_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const combo = document.querySelector('[data-testid="stSelectbox"] input[role="combobox"]');
    const metrics = [...document.querySelectorAll('[data-testid="stMetric"]')]
        .filter((m) => m.querySelector('[data-testid="stMetricLabel"]').innerText.trim()
            === 'Mistakes')
        .map((m) => m.querySelector('[data-testid="stMetricValue"]').innerText.trim());
    const main = document.querySelector('[data-testid="stMain"]');
    return {running: app.getAttribute('data-test-script-state') === 'running',
            chosen: combo ? combo.value : '', mistakes: metrics,
            evaluating: main.innerText.includes('Evaluating ResNet')};
}"""


def _give_own_resnet(st, runs_dir: Path) -> None:
    """Save the pretrained ResNet's weights anew as the visitor's own "ResNet of mine": another
    file, so no evaluation of it is stored, shipped or computed at start-up (issue 29), and
    choosing it evaluates it while the visitor waits."""
    [cookie] = [c for c in st.page.context.cookies() if c["name"] == VISITOR_COOKIE]
    owner = owner_of(cookie["value"], owner_key(runs_dir))
    store = ModelStore(pretrained_dir=REPO / "checkpoints", runs_dir=runs_dir)
    ckpt = dataclasses.replace(store.load("pretrained/resnet"), name=OWN_RESNET)
    store.save(ckpt, owner, OWN_RESNET)


def test_a_newly_chosen_model_never_shows_the_previous_ones_figures(start_server, new_st) -> None:
    """Issue 27, item 11: while a newly chosen ResNet was evaluated (4-5 s), the browser went on
    showing the previous model's figures under the new model's name. The visitor's own ResNet,
    whose evaluation nothing has stored yet."""
    import time

    server = start_server("mistakes-switch")
    st = new_st("switch", server=server)
    st.open("mistakes")
    expect(st.metric("Mistakes")).to_be_visible(timeout=60_000)
    st.wait_idle()
    _give_own_resnet(st, server.runs_dir)
    st.nav("Draw")
    st.nav("Mistakes")  # the picker lists it now; the model shown is still the one before
    expect(st.metric("Mistakes")).to_be_visible(timeout=60_000)
    st.wait_idle()
    before = st.metric("Mistakes").inner_text()
    assert "ResNet" not in st.selected("Model")
    st.selectbox("Model").get_by_role("combobox").click()
    st.page.get_by_role("option").filter(has_text=OWN_RESNET).first.click()
    # From the click until the server's answer arrives the browser shows the page as it was;
    # from then on ("Evaluating ResNet ...": the spinner before the fix, the slot's line
    # after it) the previous model's figures must be gone.
    during, stale = 0, []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = st.page.evaluate(_PAGE_NOW_JS)
        if "ResNet" in now["chosen"] and now["running"] and now["evaluating"]:
            during += 1
            if before in now["mistakes"]:
                stale.append(now)
        elif "ResNet" in now["chosen"] and now["mistakes"] and before not in now["mistakes"]:
            break  # the ResNet's own figures
        st.page.wait_for_timeout(30)
    assert during > 0, "never saw the evaluation under way"
    assert not stale, f"the previous model's 'Mistakes' ({before}) under ResNet: {stale[:2]}"
    expect(st.main).not_to_contain_text("Evaluating")
    st.assert_no_errors()
