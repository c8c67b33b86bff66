"""The part of the sidebar every page shares: the device, and this visitor's running job."""

from __future__ import annotations

import streamlit as st

from ui import fmt, keys, race_best, state
from ui.errors import friendly_errors
from ui.live import live_panel, slots
from ui.resources import get_device_name, get_manager

POLL_S = 2.0  # how often the sidebar refreshes while a job of this visitor is under way


def _pending_job() -> object | None:
    """This visitor's newest job that is queued or running (None when there is none)."""
    for job in get_manager().jobs(state.owner()):
        if not job.done:
            return job
    return None


def _job_panel() -> None:
    where, job_slot = slots(2)  # the same two parts in every run (`ui.live`)
    # Here, not above the fragment: the count of jobs training changes while this panel polls.
    with where, friendly_errors("looking up where jobs train"):
        _placement()
    with job_slot, friendly_errors("showing your training job"):
        # Every run of this visitor's sweeps keeps its lease while they are anywhere in the
        # app, not only on Train.
        get_manager().heartbeat_sweeps(state.owner())
        job = _pending_job()
        if job is None:
            if st.session_state[keys.SIDEBAR_SEEN_ACTIVE]:
                # The job ended since the last full run: rerun the page once so that it shows
                # the new model, and so that this panel stops polling.
                st.session_state[keys.SIDEBAR_SEEN_ACTIVE] = False
                st.rerun(scope="app")
            st.caption(":material/bedtime: No training running.")
            return
        get_manager().heartbeat(job.job_id)
        st.markdown(f"**{job.name}** {fmt.status_badge(job.status)}")
        if job.status == "queued":
            pos = job.queue_position
            st.caption(f"Waiting for a free slot{f' (position {pos})' if pos else ''}.")
        else:
            epochs = job.config.epochs
            st.progress(
                job.progress,
                text=f"Epoch {job.epoch:.1f} of {epochs} · {job.progress:.0%}"
                f" · {fmt.duration(job.eta_s)} left",
            )
        st.page_link("pages/train.py", label="Open in Train", icon=":material/monitoring:")


def _placement() -> None:
    """Where jobs train: this machine's processes, the app's threads, or the Ray cluster."""
    where = get_manager().placement()
    st.caption(f":material/lan: **Jobs train in** {where.summary}.")
    if where.note:
        st.warning(where.note, icon=":material/cloud_off:")


def render_sidebar() -> None:
    """Device and running job, at the top of the sidebar, on every page."""
    with st.sidebar, st.container(border=True):
        best = race_best.best_text()
        st.markdown(
            f":material/memory: **Device:** {get_device_name()}"
            + (f" · :material/sprint: {best}" if best else ""),
            help=race_best.best_help() or None,
        )
        active = False
        with friendly_errors("looking up your training jobs"):
            active = _pending_job() is not None
        st.session_state[keys.SIDEBAR_SEEN_ACTIVE] = active
        live_panel(_job_panel, every=POLL_S if active else None, key="live_sidebar_job")
