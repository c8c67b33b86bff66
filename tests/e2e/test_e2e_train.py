"""Scenarios 3 and 4: train LeNet-5 (quick preset) and watch it live; stop a ResNet run."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

TRAIN_TIMEOUT_S = 240  # a quick LeNet-5 run takes ~30 s on a busy 2-core machine
CHARTS = ("train_loss_chart", "train_accuracy_chart")


def _chart_points(st) -> int:
    return sum(st.plotly_points(key) for key in CHARTS)


# Records, from now on, each moment a part of the live panel that was on the page is gone from
# it: the charts' elements (by their keys) and the loss-scale control, or the control is built
# anew (which dropped its choice). The panel's element tree must keep its shape through a run,
# its end included (issue 30: when the outcome box appeared at the end, the charts and the
# control were pushed down and left the page until the rest of the rerun arrived; a check in
# that moment read 0 points, and the control came back with nothing chosen). A chart whose
# figure changed is replaced in one step, which is not counted: Streamlit keys a Plotly chart
# by an id that includes its figure.
_WATCH_PANEL_JS = """() => {
    const parts = {
        loss_chart: () => document.querySelector('.st-key-train_loss_chart'),
        accuracy_chart: () => document.querySelector('.st-key-train_accuracy_chart'),
        scale: () => [...document.querySelectorAll('[data-testid="stButtonGroup"]')]
            .find((g) => g.innerText.includes('Linear')),
    };
    const seen = {};
    window.__e2eGone = [];
    const check = () => {
        for (const [name, find] of Object.entries(parts)) {
            const el = find();
            if (el && seen[name] && seen[name] !== el && name === 'scale') {
                window.__e2eGone.push('scale rebuilt');
            } else if (!el && seen[name]) {
                window.__e2eGone.push(name + ' removed');
            }
            if (el || seen[name]) seen[name] = el;
        }
    };
    new MutationObserver(check).observe(document.body, {childList: true, subtree: true});
}"""


def _selected_segments(st) -> dict[str, list[str]]:
    """Each segmented control on the page (by its options) -> the options shown chosen."""
    return st.page.evaluate(
        """() => Object.fromEntries(
            [...document.querySelectorAll('[data-testid="stButtonGroup"]')].map((g) => {
                const names = (sel) => [...g.querySelectorAll(sel)].map((b) => b.innerText.trim());
                return [names('button[data-variant]').join('/'),
                        names('button[data-variant][data-selected]')];
            }))"""
    )


def test_quick_lenet5_run_live_charts_then_model_everywhere(st) -> None:
    run_name = "e2e lenet5 quick"
    st.open("/train")
    # The quick look preset, with 10 epochs instead of 3: its 3 epochs end in ~2 s on a quiet
    # machine, about two 1-s chart refreshes, so "points gained twice while running" failed
    # 1 run in 3. 10 epochs (~0.7 s each) leave several refreshes.
    st.page.evaluate(_WATCH_PANEL_JS)
    st.start_training("LeNet-5", quick=True, run_name=run_name, epochs=10)

    # While it runs, the charts gain points (the page polls the job once a second).
    seen = [0]
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        status = st.job_heading.inner_text()
        points = _chart_points(st)
        if "Running" in status and points > seen[-1]:
            seen.append(points)
            if len(seen) == 2:
                st.shot("first-points")
        if any(s in status for s in ("Finished", "Failed", "Stopped", "Diverged")):
            break
        st.page.wait_for_timeout(200)
    increases = len(seen) - 1
    assert increases >= 2, f"chart points seen while running: {seen}"

    expect(st.job_heading).to_contain_text("Finished", timeout=TRAIN_TIMEOUT_S * 1000)
    success = st.main.get_by_test_id("stAlertContentSuccess")
    expect(success).to_contain_text("Finished with")
    st.wait_idle()
    for key in CHARTS:  # Plotly draws after the page's run: wait for the drawing, not a time
        expect(st.keyed(key).locator(".js-plotly-plot")).to_have_count(1)
    assert _chart_points(st) >= seen[-1], "the charts lost points when the run finished"
    gone = st.page.evaluate("window.__e2eGone")
    assert not gone, f"parts of the live panel left the page while it ran or ended: {gone}"
    # Every segmented control shows one choice, also after a round trip through Sweep mode,
    # and the loss scale keeps the visitor's choice (it came back with none chosen: issue 30).
    scale = st.main.get_by_test_id("stButtonGroup").filter(has_text="Linear")
    st.after_rerun(lambda: scale.locator("button", has_text="Log").click())
    mode = st.main.get_by_test_id("stButtonGroup").filter(has_text="Sweep")
    st.after_rerun(lambda: mode.locator("button", has_text="Sweep").click())
    st.after_rerun(lambda: mode.locator("button", has_text="Single run").click())
    expect(st.keyed("train_loss_chart").locator(".js-plotly-plot")).to_have_count(1)
    chosen = _selected_segments(st)
    assert chosen == {"Single run/Sweep": ["Single run"], "Auto/Linear/Log": ["Log"]}, chosen
    expect(st.metric("Test accuracy")).to_have_text(re.compile(r"^\d+\.\d\d%$"))
    st.assert_no_errors()
    st.shot("finished")

    # The new checkpoint is listed on Models ...
    st.nav("Models")
    models = st.options_of("Choose a model to download or delete")
    assert any(run_name in m for m in models), models
    st.select_option("Choose a model to download or delete", run_name)
    st.wait_idle()  # the details panel below the table is redrawn by the rerun
    # ... as this visitor's own model: downloadable and deletable, not read-only.
    expect(st.button("Download .pt", within=st.main)).to_be_visible()
    expect(st.main.get_by_test_id("stPopoverButton")).to_contain_text("Delete")
    expect(st.main).not_to_contain_text("Pretrained: read-only")
    st.assert_no_errors()
    st.shot("on-models")

    # ... and can be chosen on Draw, where it predicts.
    st.nav("Draw")
    st.select_option("Model", run_name)
    assert run_name in st.selected("Model")
    st.draw_digit("1")
    expect(st.metric("Prediction")).to_have_text(re.compile(r"^\d$"), timeout=30_000)
    st.assert_no_errors()
    st.shot("on-draw")


def test_resnet_stops_mid_run_from_the_page(st) -> None:
    # The seconds from the click to "Stopped" are printed (about 1-2.5 s here: the job stops
    # before its next step, then the next 1-s refresh shows it) and measured without the
    # browser by `python -m bench stop`; a timed assertion here failed only on loaded machines.
    # A link with settings: ResNet's recipe, with a loss point after every step so that the
    # first chart update comes after one step instead of ten.
    st.open("/?model=resnet&log_every=1")
    expect(st.sidebar).to_contain_text("Current settings: custom")
    st.start_training("ResNet (small)", quick=False, run_name="e2e resnet stop")
    stop = st.main.get_by_role("button", name="Stop", exact=True)
    try:
        expect(st.job_heading).to_contain_text("Running", timeout=60_000)
        # the first chart update: the loss chart gets its first points
        st.page.wait_for_function(
            """() => !!document.querySelector('.st-key-train_loss_chart .js-plotly-plot')""",
            timeout=TRAIN_TIMEOUT_S * 1000,
            polling=100,
        )
        st.shot("first-update")
        expect(stop).to_be_enabled()
        t0 = time.monotonic()
        stop.click()
        timeline = []  # (seconds after the click, status heading, progress text)
        while time.monotonic() - t0 < 60:
            heading = st.job_heading.inner_text()
            progress = st.main.get_by_test_id("stProgress").first.inner_text()
            if not timeline or timeline[-1][1:] != (heading, progress):
                timeline.append((round(time.monotonic() - t0, 2), heading, progress))
            if "Stopped" in heading:
                break
            st.page.wait_for_timeout(50)
        took = timeline[-1][0]
    finally:
        # never leave a ResNet training on the shared server (it would hold the only slot)
        if "Stopped" not in st.job_heading.inner_text() and stop.is_enabled():
            stop.click()
    st.wait_idle()
    st.shot("stopped")
    print("stop timeline:", timeline)
    assert "Stopped" in timeline[-1][1], timeline
    print(f"stopped {took:.2f} s after the click")
    # the bar says the share of the steps done (the step itself is in the metrics below it)
    done = re.search(r"(\d+)% of the steps done", timeline[-1][2])
    assert done, timeline
    assert int(done.group(1)) < 10, f"the run went on to {done.group(1)}% of it: {timeline}"
    expect(stop).to_be_disabled()
    expect(st.button("Start training", within=st.main)).to_be_enabled()
    st.assert_no_errors()


def test_links_under_a_finished_run_open_that_runs_model(st) -> None:
    """Issue 11, item 2: "See its mistakes" and "Draw for it" opened LeNet-5 (pretrained)."""
    run_name = "e2e links quick"
    st.open("/train")
    st.start_training("LeNet-5", quick=True, run_name=run_name)
    expect(st.job_heading).to_contain_text("Finished", timeout=TRAIN_TIMEOUT_S * 1000)
    st.wait_idle()
    links = (
        ("See its mistakes", "/mistakes"),
        ("Draw for it", "/draw"),
        ("Look inside", "/inside"),
    )
    for link, path in links:
        if not st.page.evaluate("location.pathname").endswith("/train"):
            st.nav("Train")
        # a button (it sets the page's choice first); found as a link too, as it once was
        st.main.get_by_role("button", name=link).or_(st.main.get_by_role("link", name=link)).click()
        st.page.wait_for_function(
            "(path) => window.location.pathname.endsWith(path)", arg=path, timeout=60_000
        )
        st.wait_idle(timeout=120_000)  # Mistakes evaluates the model on the 10,000 test images
        chosen = st.selected("Model", within=st.main)
        assert run_name in chosen, f"{link} opened {chosen!r}, not {run_name!r}"
        st.assert_no_errors()
        st.shot(f"opened-{path.strip('/')}")


def test_the_first_estimate_appears_by_itself(st) -> None:
    """Issue 27, item 2: on a setup not measured yet the page said "measuring ... (shown at the
    next change)" and kept saying it until a setting changed. A batch size no other test uses,
    so that its speed is measured now, in the background."""
    st.open("/train?model=mlp&batch_size=72&epochs=1")
    caption = st.main.get_by_text(re.compile(r"^Estimated time: "))
    expect(caption).to_contain_text("measuring", timeout=30_000)
    # Nothing is touched: the figure comes by itself (the probe waits for a quiet CPU first).
    expect(caption).to_contain_text(re.compile(r"about \d"), timeout=90_000)
    st.wait_idle()
    st.assert_no_errors()
