"""A server stop in the middle of a run, as Streamlit Community Cloud does on every reboot,
sleep and redeploy (issue 26, item 7): the run is saved as a stopped run, and its visitor finds
it on the Models page of the restarted server."""

from __future__ import annotations

import re
import signal

from playwright.sync_api import expect

from mnist_core.storage.checkpoints import load_checkpoint
from mnist_core.storage.owners import owner_key, owner_of
from mnist_core.storage.timelines import is_timeline_file, timeline_path
from ui.visitor import VISITOR_COOKIE

FIRST_STEP_TIMEOUT_MS = 240_000  # a LeNet-5 step, after the worker starts, on a busy machine


def test_a_run_cut_short_by_a_server_stop_is_there_after_the_restart(start_server, new_st) -> None:
    server = start_server("restart")
    st = new_st("before", server=server)
    st.open("/?model=lenet5&log_every=1")  # a loss point after every step: training is visible
    st.start_training("LeNet-5", quick=False, run_name="cut short")
    expect(st.job_heading).to_contain_text("Running", timeout=60_000)
    st.page.wait_for_function(
        """() => !!document.querySelector('.st-key-train_loss_chart .js-plotly-plot')""",
        timeout=FIRST_STEP_TIMEOUT_MS,
        polling=100,
    )
    [cookie] = [c for c in st.page.context.cookies() if c["name"] == VISITOR_COOKIE]

    server.proc.send_signal(signal.SIGTERM)  # what a container stop sends
    # uvicorn shuts down (the app's lifespan stops and saves the jobs), then raises the signal
    # it caught again, so the process ends by SIGTERM: -15.
    assert server.proc.wait(timeout=120) == -signal.SIGTERM, server.log_tail()
    # The deploy guide's first-deploy checklist reads these two lines; neither names the visitor.
    log = server.log_text()
    assert "ready: torch and the app's modules imported in" in log, log[:2000]
    assert re.search(r"job \S+ ended \(stopped\); this process holds [\d,]+ MiB", log), log[-2000:]
    assert cookie["value"] not in log
    folder = server.runs_dir / owner_of(cookie["value"], owner_key(server.runs_dir))
    assert folder.name not in log  # nor its folder
    [saved] = [p for p in folder.glob("*.pt") if not is_timeline_file(p)]
    ckpt = load_checkpoint(saved)
    assert ckpt.name == "cut short" and ckpt.metrics["status"] == "stopped"
    assert ckpt.metrics["steps"] >= 1
    assert timeline_path(saved).is_file()  # its training timeline, saved with it (issue 28)

    again = start_server("restart-again", runs_dir=server.runs_dir)
    try:
        st.moved_to(again).open("models")  # the same browser: the same cookie
        options = st.options_of("Choose a model to download or delete")
        assert any(o.startswith("cut short ·") and "yours" in o for o in options), options
        st.assert_no_errors()
    finally:
        again.stop()
