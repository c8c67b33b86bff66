"""Train: pick an architecture and settings, train in the background, watch it live."""

from __future__ import annotations

import streamlit as st

from mnist_core.errors import ConfigError
from mnist_core.jobs import JobSnapshot
from mnist_core.train.config import TrainConfig
from ui import keys, race_best
from ui.data_gate import data_available
from ui.errors import friendly_errors, show_flashes
from ui.live import live_panel, slots
from ui.resources import get_data_source, get_manager
from ui.shell import page_guard
from ui.train import form_state, sidebar, sweep
from ui.train.controls import controls, link_notes
from ui.train.jobs import current_job, snapshot, with_first_point
from ui.train.live_charts import compare_picker, live_charts
from ui.train.run_view import run_outcome, run_status
from ui.widgets import one_of

# Chart refresh while a job of this visitor is queued or runs. Not faster: one refresh of the
# live panel takes about 0.4 s of this 2-core machine with the charts, and a refresh every 0.3 s
# (once used for short runs) kept a timer rerun always waiting, which made the panel's
# elements leave the page at the run's end (`ui.live`, issue 30).
LIVE_POLL_S = 1.0


def _poll_s(snap: JobSnapshot) -> float | None:
    """How often the live part refreshes: None once the job is done."""
    return None if snap.done else LIVE_POLL_S


def _live(job_id: str, compare: list[str]) -> None:
    """The live part: status, outcome and charts. Polls only while the job is under way.

    Each of the three is drawn into a container of its own in every run, whatever the job's
    status (an error or a job that is gone shows in the first: `ui.live.slots`), so that the
    panel's element tree keeps its shape: when the outcome box and links appeared at a run's
    end they used to push the charts two places down, and the browser then dropped the
    charts and the loss-scale control and built them anew (measured in Chromium: both charts
    gone for about 0.4 s at the end of a Quick look run, and for 0.1 s at some refreshes
    while it ran; a check of the charts in that moment read 0 points, and the control came
    back with nothing chosen: issue 30)."""
    head, outcome, plots = slots(3)
    with head, friendly_errors("showing the training progress"):
        snap = snapshot(job_id)
        if snap is None:
            st.info("This job is no longer available (the server may have restarted).")
            return
        if not snap.done:
            get_manager().heartbeat(job_id)
            snap = with_first_point(snap)  # Start's own rerun draws the first point
        race_best.record(snap)  # before a rerun below, so the sidebar shows a new best
        if snap.done != st.session_state[keys.TRAIN_SEEN_DONE]:
            # It ended in the background: the whole page again, so that Start is enabled and
            # the panel stops polling (drawn plainly from now on: `ui.live`). A start, a pause
            # or a resume needs no such rerun: the panel draws its own buttons.
            st.session_state[keys.TRAIN_SEEN_DONE] = snap.done
            st.rerun(scope="app")
        run_status(snap)
        with outcome:
            run_outcome(snap)
        with plots:
            live_charts(snap, compare)


def main() -> None:
    form_state.load_query_params()
    snap = current_job()
    sidebar.render_sidebar()
    form_state.sync_query_params()

    st.title("Train a model", anchor=False)
    st.caption(
        "Choose an architecture and its settings in the sidebar, then train it on MNIST and "
        "watch it learn. Every finished run becomes a model the other pages can use."
    )
    # Messages come and go: one container holds them all, so that nothing below them moves
    # (the live panel's place on the page is part of its identity; see `_live`).
    messages = st.container()
    with messages:
        link_notes()
        show_flashes(keys.TRAIN_FLASH)

    if not data_available("train", "train a model"):
        return
    get_data_source().preload()  # loading MNIST took most of a first run's start-up

    config: TrainConfig | None = None
    try:
        config = form_state.read_config()
    except ConfigError as e:
        messages.error(f"These settings cannot be trained: {e}", icon=":material/tune:")

    mode = one_of(
        "Mode",
        keys.TRAIN_MODES,
        keys.TRAIN_MODE,
        label_visibility="collapsed",
        help="Sweep: train several runs that differ in up to three settings, to find the "
        "best; compare them afterwards on the Compare page.",
    )
    if mode == "Sweep":
        sweep.render(config)
        return
    controls(snap, config)
    if snap is None:
        st.info(
            "No run yet. Press **Start training**; the **Quick look** preset in the sidebar "
            "gives a result in seconds.",
            icon=":material/rocket_launch:",
        )
        return
    with st.container():  # empty until there are earlier runs: the panel below stays put
        compare = compare_picker(snap)
    st.session_state[keys.TRAIN_SEEN_DONE] = snap.done
    live_panel(_live, snap.job_id, compare, every=_poll_s(snap), key="live_train")


if page_guard():
    with friendly_errors("showing the Train page"):
        main()
