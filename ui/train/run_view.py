"""The Train page's run: its heading and buttons, its queue note or progress and figures, and how
it ended, with buttons that open its model on the other pages."""

from __future__ import annotations

import streamlit as st

from mnist_core.errors import MnistError
from mnist_core.jobs import JobSnapshot
from mnist_core.train.verdict import did_not_learn
from ui import fmt, keys
from ui.model_choice import checkpoint_key
from ui.resources import get_store
from ui.train import estimate
from ui.train.controls import job_controls


def _progress_text(snap: JobSnapshot) -> str:
    """What the bar says: the share done, and what the run is doing when the badge does not
    say it. Epoch and step are in the metrics below, and why a run ended in the box below
    them: each said once."""
    done = f"{snap.progress:.0%} of the steps done"
    if snap.status == "running" and snap.message != "Running":
        return f"{snap.message} · {done}"  # loading data, evaluating an epoch…
    return done


def run_status(snap: JobSnapshot) -> None:
    """The run's heading, then its queue note or its progress and figures."""
    epochs = snap.config.epochs
    st.subheader(f"{snap.name} &nbsp; {fmt.status_badge(snap.status)}", anchor=False)
    job_controls(snap)
    if snap.status == "queued":
        where = estimate.queue_wait_text(snap)  # "position 1, about 9 min"
        st.info(
            f"Waiting in the queue{f' ({where})' if where else ''}: all training slots "
            "are busy. Training starts by itself when a slot frees up.",
            icon=":material/hourglass_top:",
        )
        return
    st.progress(snap.progress, text=_progress_text(snap))
    cols = st.columns(5)
    cols[0].metric("Epoch", f"{fmt.epoch(snap.epoch)} / {epochs}")
    # The total in the label: "1,640 / 3,280" did not fit a fifth of 1400 px ("1,640 / 3,...").
    cols[1].metric(f"Step of {fmt.count(snap.total_steps)}", fmt.count(snap.step))
    cols[2].metric("Images / s", fmt.rate(snap.images_per_s))
    cols[3].metric(
        "Time left" if snap.active else "Wall time",
        fmt.duration(snap.eta_s if snap.active else snap.elapsed_s),
        help=None
        if snap.active
        else f"From the start to the end; {fmt.duration(snap.train_seconds)} of it training "
        "(the rest: preparing, measuring accuracy, pauses).",
    )
    cols[4].metric("Test accuracy", fmt.percent(snap.test_accuracy))


def _times(snap: JobSnapshot) -> str:
    """E.g. "1 min 55 s of wall time (1 min 40 s of training time)": the two names every page
    uses for these two figures."""
    return (
        f"{fmt.duration(snap.elapsed_s)} of wall time "
        f"({fmt.duration(snap.train_seconds)} of training time)"
    )


def _saved_accuracy(snap: JobSnapshot) -> str:
    """ ", with 99.44% test accuracy measured on its final weights (99.33% above was measured
    earlier, at step 900)" for a stopped run saved later: saving measures the weights it keeps
    again, and the two figures differed silently (issue 27, item 5)."""
    try:
        saved = get_store().get(snap.checkpoint_id).test_accuracy if snap.checkpoint_id else None
    except MnistError:
        return ""
    if saved is None or saved == snap.test_accuracy:
        return ""
    earlier = ""
    if snap.test_accuracy is not None:
        earlier = f" ({fmt.percent(snap.test_accuracy)} above was measured earlier in the run)"
    return f", with {fmt.percent(saved)} test accuracy measured on its final weights{earlier}"


def run_outcome(snap: JobSnapshot) -> None:
    """How the run ended, and where its model can be used: nothing while it is under way."""
    if snap.status == "failed":
        st.error(snap.error or snap.message, icon=":material/error:")
    elif snap.status == "diverged":
        st.warning(snap.message, icon=":material/trending_up:")
    elif snap.status == "stopped" and snap.started is None:
        st.info(
            f"{snap.message} There is no model: it never trained a step.",
            icon=":material/stop_circle:",
        )
    elif snap.status == "stopped" and snap.checkpoint_id:
        st.info(
            f"{snap.message} Saved as **{snap.name}** as it was then{_saved_accuracy(snap)}: "
            "choose it on the Mistakes, Draw, Inside and Models pages.",
            icon=":material/stop_circle:",
        )
        _open_links(snap.checkpoint_id)
    elif snap.status == "stopped":
        st.info(
            f"{snap.message} The model at this point can be saved or downloaded on the "
            "Models page.",
            icon=":material/stop_circle:",
        )
    elif (
        snap.status == "finished"
        and snap.checkpoint_id
        and (problem := did_not_learn(snap.config, snap.test_accuracy, snap.epochs))
    ):
        st.warning(
            f"Finished with **{fmt.percent(snap.test_accuracy)}** test accuracy after "
            f"{_times(snap)}, saved as **{snap.name}**. {problem}",
            icon=":material/warning:",
        )
        _open_links(snap.checkpoint_id)
    elif snap.status == "finished" and snap.checkpoint_id:
        st.success(
            f"Finished with **{fmt.percent(snap.test_accuracy)}** test accuracy after "
            f"{_times(snap)}. Saved as **{snap.name}**: choose it on the "
            "Mistakes, Draw, Inside and Models pages.",
            icon=":material/check_circle:",
        )
        _open_links(snap.checkpoint_id)
    if snap.save_error:
        st.warning(
            f"{snap.save_error} It can still be downloaded from the Models page while this "
            "server runs.",
            icon=":material/save:",
        )


# Page, label, icon, the session-state key of that page's model choice, and the function from a
# checkpoint id to the value that chooses it there.
_OPEN_LINKS = (
    ("pages/mistakes.py", "See its mistakes", ":material/grid_on:", keys.MISTAKES_MODEL, str),
    ("pages/draw.py", "Draw for it", ":material/draw:", keys.DRAW_MODEL, checkpoint_key),
    ("pages/inside.py", "Look inside", ":material/neurology:", keys.INSIDE_MODEL, checkpoint_key),
    ("pages/models.py", "Download it", ":material/download:", keys.MODELS_CHOICE, str),
)


def _open_links(checkpoint_id: str) -> None:
    """Buttons that open another page with this run's model chosen there. Not page links: the
    choice has to be in session state before the page runs, or it shows its default model."""
    for column, (page, label, icon, key, value) in zip(
        st.columns(len(_OPEN_LINKS)), _OPEN_LINKS, strict=True
    ):
        if column.button(label, key=f"train_open_{key}", icon=icon, type="tertiary"):
            st.session_state[key] = value(checkpoint_id)
            st.switch_page(page)
