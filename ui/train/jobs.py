"""The Train page's job: the one it shows, and what its buttons do to it (callbacks, which run
before the script; errors are queued as messages)."""

from __future__ import annotations

import time

import streamlit as st

from mnist_core.errors import ConfigError, MnistError
from mnist_core.jobs import JobSnapshot
from ui import keys, state
from ui.errors import flash, guarded_callback
from ui.resources import get_manager
from ui.train import form_state

STOP_WAIT_S = 1.0  # the Stop button waits this long for the run to end before redrawing
# A run that has just started is waited for until its first loss point, this long at most
# from its start, so that the Start button's own rerun draws the chart's first point: the
# next refresh comes a second later (`pages/train.py`'s LIVE_POLL_S), and a warm worker
# logs step 1 about 0.15 s after the job starts (a script beside `JobManager` + the process
# executor, busy 2-core machine). Bounded by the run's age, so that no later refresh waits.
FIRST_POINT_WAIT_S = 1.5


def snapshot(job_id: str | None) -> JobSnapshot | None:
    """The job's snapshot, or None when there is no such job (any more)."""
    if not job_id:
        return None
    try:
        return get_manager().snapshot(job_id)
    except (KeyError, MnistError):
        return None


def with_first_point(snap: JobSnapshot) -> JobSnapshot:
    """`snap`, or for a run under FIRST_POINT_WAIT_S old with no loss point yet, its snapshot
    once it has one or is that old."""
    manager = get_manager()
    while snap.status == "running" and not snap.steps and snap.elapsed_s < FIRST_POINT_WAIT_S:
        time.sleep(0.02)
        snap = manager.snapshot(snap.job_id)
    return snap


def current_job() -> JobSnapshot | None:
    """The job this page shows: the visitor's last started, else their newest, else None."""
    snap = snapshot(st.session_state[keys.TRAIN_JOB])
    if snap is None:
        jobs = get_manager().jobs(state.owner())
        snap = jobs[0] if jobs else None
        st.session_state[keys.TRAIN_JOB] = snap.job_id if snap else None
    return snap


@guarded_callback("starting training", keys.TRAIN_FLASH)
def on_start() -> None:
    current = snapshot(st.session_state[keys.TRAIN_JOB])
    if current is not None and not current.done:  # a double click, or a second tab
        flash(keys.TRAIN_FLASH, "info", f"{current.name} is already under way.")
        return
    try:
        config = form_state.read_config()
    except ConfigError as e:
        flash(keys.TRAIN_FLASH, "error", f"Cannot start: {e}")
        return
    name = " ".join(str(st.session_state.get(keys.TRAIN_RUN_NAME) or "").split()) or None
    job_id = get_manager().submit(config, state.owner(), name=name)
    st.session_state[keys.TRAIN_JOB] = job_id
    st.session_state[keys.TRAIN_NEW_LR] = None
    st.session_state[keys.TRAIN_RUN_NAME] = ""  # the next run gets a name of its own


@guarded_callback("pausing training", keys.TRAIN_FLASH)
def on_pause(job_id: str) -> None:
    get_manager().pause(job_id)


@guarded_callback("resuming training", keys.TRAIN_FLASH)
def on_resume(job_id: str) -> None:
    get_manager().resume(job_id)


@guarded_callback("stopping training", keys.TRAIN_FLASH)
def on_stop(job_id: str) -> None:
    manager = get_manager()
    manager.stop(job_id)
    # A stop lands before the next step (well under a second): wait for it, so that this very
    # rerun shows "Stopped" rather than "Stopping…" until the next poll a second later.
    manager.wait(job_id, timeout=STOP_WAIT_S)


@guarded_callback("changing the learning rate", keys.TRAIN_FLASH)
def on_set_lr(job_id: str) -> None:
    lr = st.session_state.get(keys.TRAIN_NEW_LR)
    if lr is None:
        flash(keys.TRAIN_FLASH, "warning", "Enter a learning rate first.")
        return
    get_manager().set_lr(job_id, float(lr))
    flash(keys.TRAIN_FLASH, "success", f"Learning rate set to {lr:g} from the next step on.")
