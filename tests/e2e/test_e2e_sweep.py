"""Issue 14 in Chromium: start a 4-run sweep on Train, watch its progress, open Compare, select
two of its rows in the table and see both runs' named curves."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mnist_core.storage.owners import owner_key, owner_of
from ui.visitor import VISITOR_COOKIE

pytestmark = pytest.mark.e2e

SWEEP_TIMEOUT_S = 300  # 4 Quick look MLP runs: about 10 s here, minutes on a busy machine
ROW_PX = 35  # the height of a header and of a row in Streamlit's data grid


def _progress_text(st) -> str:
    bar = st.main.get_by_test_id("stProgress")
    return bar.first.inner_text() if bar.count() else ""


def _select_rows(st, frame, rows: list[int]) -> None:
    """Tick `rows` (0-based) in the row-marker column of the data grid, as a person does."""
    box = frame.bounding_box()
    assert box is not None
    for row in rows:
        st.after_rerun(
            lambda row=row: st.page.mouse.click(
                box["x"] + 16, box["y"] + ROW_PX * (row + 1) + ROW_PX / 2
            )
        )


def _trace_names(st, key: str) -> set[str]:
    names = st.keyed(key).evaluate(
        "(el) => el.querySelector('.js-plotly-plot').data.map((t) => t.name || '')"
    )
    return set(names)


def test_a_sweep_then_compare_two_of_its_runs(st, streamlit_server) -> None:
    st.open("/train")
    st.select_option("Architecture", "MLP", within=st.sidebar)
    st.after_rerun(st.button("Quick look", within=st.sidebar).click)
    expect(st.sidebar).to_contain_text("Current settings: Quick look")
    st.wait_idle()
    toggle = st.main.get_by_test_id("stButtonGroup").first
    st.after_rerun(lambda: toggle.locator("button", has_text="Sweep").click())
    for label, values in (("Values 1", "1e-3, 1e-2"), ("Values 2", "32, 64")):
        st.enter(st.main.get_by_label(label, exact=True), values)
    st.enter(st.main.get_by_label("Sweep name (optional)"), "e2e sweep")
    st.button("Start sweep (4 runs)", within=st.main).click()
    expect(st.main).to_contain_text("e2e sweep", timeout=30_000)

    # Its progress counts up to 4 of 4 (the view polls the sweep once a second).
    seen: list[str] = []
    deadline = time.monotonic() + SWEEP_TIMEOUT_S
    while time.monotonic() < deadline:
        text = _progress_text(st)
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if "4 of 4 runs finished" in text:
            break
        st.page.wait_for_timeout(200)
    assert seen and "4 of 4 runs finished" in seen[-1], seen
    expect(st.main).to_contain_text("Best: ")
    st.assert_no_errors()
    st.shot("sweep-done")

    # Compare: the sweep's runs are the first rows (newest first after the pretrained ones).
    st.nav("Compare")
    frame = st.main.get_by_test_id("stDataFrame").first
    expect(frame).to_be_visible()
    pretrained = 3  # mlp, lenet5, resnet of the test server's pretrained folder
    _select_rows(st, frame, [pretrained, pretrained + 1])
    expect(st.keyed("compare_loss_chart").locator(".js-plotly-plot")).to_have_count(1)
    st.wait_idle()
    names = _trace_names(st, "compare_loss_chart")
    sweep_names = {n for n in names if n.startswith("e2e sweep")}
    assert len(sweep_names) == 2, names
    assert all(re.search(r"lr=0\.0\d+ batch_size=\d+", n) for n in sweep_names), names
    assert sweep_names <= _trace_names(st, "compare_accuracy_chart")
    st.shot("compare-two-runs")
    # The sweep's chart is drawn once its tab is open (issue 29)
    st.after_rerun(lambda: st.main.get_by_role("tab", name="Sweeps").click())
    expect(st.keyed("compare_sweep_chart").locator(".js-plotly-plot")).to_have_count(1)
    st.assert_no_errors()
    st.shot("compare-sweep")

    # Issue 26, item 6: the downloaded table holds neither the cookie (the only key to this
    # visitor's models) nor their folder's name; their runs are "yours/...".
    with st.page.expect_download() as info:
        st.main.get_by_test_id("stDownloadButton").filter(has_text="Download the table").click()
    table = Path(info.value.path()).read_text()
    [cookie] = [c["value"] for c in st.page.context.cookies() if c["name"] == VISITOR_COOKIE]
    runs = streamlit_server.runs_dir
    folder = owner_of(cookie, owner_key(runs))
    assert (runs / folder).is_dir()
    assert cookie not in table and folder not in table and "runs/" not in table
    assert table.count("yours/") >= 4, table
    # Nor the JSON of a selected run's history (one of this visitor's sweep runs).
    with st.page.expect_download() as info:
        st.main.get_by_test_id("stDownloadButton").filter(has_text="Download its history").click()
    history = Path(info.value.path()).read_text()
    assert '"history"' in history and "e2e sweep" in history
    assert cookie not in history and folder not in history and "runs/" not in history
