"""Train: pick an architecture and settings, train in the background, watch it live."""

from __future__ import annotations

from typing import Any

import streamlit as st

from mnist_core.errors import ConfigError, MnistError
from mnist_core.jobs import JobSnapshot
from mnist_core.models import get_spec
from mnist_core.train.config import TrainConfig
from ui import charts, fmt, keys, race_best, state, sweep_panel
from ui.data_gate import data_available
from ui.errors import flash, friendly_errors, guarded_callback, show_flashes
from ui.live import live_panel
from ui.model_choice import checkpoint_key
from ui.resources import get_data_source, get_manager
from ui.shell import page_guard
from ui.train_form import estimate, fields, form_state, labels, sidebar
from ui.widgets import one_of

# Chart refresh while a job of this visitor is queued or runs. Not faster: one refresh of the
# live panel takes about 0.4 s of this 2-core machine with the charts, and a refresh every 0.3 s
# (once used for short runs) kept a timer rerun always waiting, which made the panel's
# elements leave the page at the run's end (`ui.live`, issue 30).
LIVE_POLL_S = 1.0
STOP_WAIT_S = 1.0  # the Stop button waits this long for the run to end before redrawing
COMPARE_MAX = 5


# ---- jobs -----------------------------------------------------------------------------------


def _snapshot(job_id: str | None) -> JobSnapshot | None:
    """The job's snapshot, or None when there is no such job (any more)."""
    if not job_id:
        return None
    try:
        return get_manager().snapshot(job_id)
    except (KeyError, MnistError):
        return None


def _current_job() -> JobSnapshot | None:
    """The job this page shows: the visitor's last started, else their newest, else None."""
    snap = _snapshot(st.session_state[keys.TRAIN_JOB])
    if snap is None:
        jobs = get_manager().jobs(state.owner())
        snap = jobs[0] if jobs else None
        st.session_state[keys.TRAIN_JOB] = snap.job_id if snap else None
    return snap


# ---- button callbacks (run before the script; errors are queued as messages) ---------------


@guarded_callback("starting training", keys.TRAIN_FLASH)
def _start() -> None:
    current = _snapshot(st.session_state[keys.TRAIN_JOB])
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
def _pause(job_id: str) -> None:
    get_manager().pause(job_id)


@guarded_callback("resuming training", keys.TRAIN_FLASH)
def _resume(job_id: str) -> None:
    get_manager().resume(job_id)


@guarded_callback("stopping training", keys.TRAIN_FLASH)
def _stop(job_id: str) -> None:
    manager = get_manager()
    manager.stop(job_id)
    # A stop lands before the next step (well under a second): wait for it, so that this very
    # rerun shows "Stopped" rather than "Stopping…" until the next poll a second later.
    manager.wait(job_id, timeout=STOP_WAIT_S)


@guarded_callback("changing the learning rate", keys.TRAIN_FLASH)
def _set_lr(job_id: str) -> None:
    lr = st.session_state.get(keys.TRAIN_NEW_LR)
    if lr is None:
        flash(keys.TRAIN_FLASH, "warning", "Enter a learning rate first.")
        return
    get_manager().set_lr(job_id, float(lr))
    flash(keys.TRAIN_FLASH, "success", f"Learning rate set to {lr:g} from the next step on.")


# ---- drawing --------------------------------------------------------------------------------


def _setup_summary(config: TrainConfig) -> str:
    spec = get_spec(config.model)
    images = f"{config.train_size:,} training images"
    optimizer = labels.CHOICE_LABELS["optimizer"].get(config.optimizer, config.optimizer)
    return (
        f"**{spec.title}** · {config.epochs} epochs × {config.steps_per_epoch:,} steps · {images}"
        f" · batch {config.batch_size} · {optimizer} at peak learning rate {config.lr:g}"
    )


def _controls(snap: JobSnapshot | None, config: TrainConfig | None) -> None:
    """The next run: its name, Start, what it will train and how long it should take. (The
    current run's Pause, Stop and learning rate are in the live panel, `_job_controls`, which
    redraws them as the run changes without a rerun of the whole page.)"""
    pending = snap is not None and not snap.done
    with st.container(border=True):
        c_name, c_start = st.columns([3, 1.2], vertical_alignment="bottom")
        c_name.text_input(
            "Run name (optional)",
            key=keys.TRAIN_RUN_NAME,
            placeholder="e.g. lenet5 with strong augmentation",
            max_chars=80,
            disabled=pending,
        )
        c_start.button(
            "Start training",
            key="train_start",
            type="primary",
            icon=":material/play_arrow:",
            on_click=_start,
            disabled=pending or config is None,
            width="stretch",
            help="Your job is already under way: stop it first." if pending else None,
        )
        if config is not None and not pending:
            st.caption(_setup_summary(config))
            estimate.show_run_estimate(config)  # measured once per setup, not waited for


def _job_controls(snap: JobSnapshot) -> None:
    """Pause or Resume and Stop (disabled once the run is done), and the learning rate while
    it trains."""
    job_id = snap.job_id
    c_pause, c_stop, _ = st.columns([1.2, 1.2, 4.2], vertical_alignment="bottom")
    paused = snap.status == "paused"
    c_pause.button(
        "Resume" if paused else "Pause",
        key="train_resume" if paused else "train_pause",
        icon=":material/play_circle:" if paused else ":material/pause:",
        on_click=_resume if paused else _pause,
        args=(job_id,),
        disabled=not paused and snap.status != "running",
        width="stretch",
    )
    c_stop.button(
        "Stop",
        key="train_stop",
        icon=":material/stop:",
        on_click=_stop,
        args=(job_id,),
        disabled=snap.status not in ("queued", "running", "paused"),
        width="stretch",
    )
    if snap.status in ("running", "paused"):
        c_lr, c_apply, _ = st.columns([3, 1.2, 2.4], vertical_alignment="bottom")
        lr = fields.setting("lr")  # the range of TrainConfig.lr's metadata
        c_lr.number_input(
            f"Change the peak learning rate (now {snap.lr:g})",
            key=keys.TRAIN_NEW_LR,
            min_value=lr.lo,
            max_value=lr.hi,
            step=labels.FLOAT_STEPS["lr"],
            format="%g",
            placeholder=f"{snap.lr:g}",
            help="Takes effect at the next step; the schedule keeps its shape.",
        )
        c_apply.button(
            "Apply",
            key="train_apply_lr",
            icon=":material/tune:",
            on_click=_set_lr,
            args=(job_id,),
            width="stretch",
        )


def _progress_text(snap: JobSnapshot) -> str:
    """What the bar says: the share done, and what the run is doing when the badge does not
    say it. Epoch and step are in the metrics below, and why a run ended in the box below
    them: each said once."""
    done = f"{snap.progress:.0%} of the steps done"
    if snap.status == "running" and snap.message != "Running":
        return f"{snap.message} · {done}"  # loading data, evaluating an epoch…
    return done


def _status(snap: JobSnapshot) -> None:
    """The run's heading, then its queue note or its progress and figures."""
    epochs = snap.config.epochs
    st.subheader(f"{snap.name} &nbsp; {fmt.status_badge(snap.status)}", anchor=False)
    _job_controls(snap)
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
    cols[1].metric("Step", f"{fmt.count(snap.step)} / {fmt.count(snap.total_steps)}")
    cols[2].metric("Images / s", fmt.rate(snap.images_per_s))
    cols[3].metric(
        "Time left" if snap.active else "Time",
        fmt.duration(snap.eta_s if snap.active else snap.elapsed_s),
    )
    cols[4].metric("Test accuracy", fmt.percent(snap.test_accuracy))


def _outcome(snap: JobSnapshot) -> None:
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
    elif snap.status == "stopped":
        st.info(
            f"{snap.message} The model at this point can be saved or downloaded on the "
            "Models page.",
            icon=":material/stop_circle:",
        )
    elif snap.status == "finished" and snap.checkpoint_id:
        st.success(
            f"Finished with **{fmt.percent(snap.test_accuracy)}** test accuracy, in "
            f"{fmt.duration(snap.elapsed_s)}. Saved as **{snap.name}**: choose it on the "
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


TRAIN_ACCURACY_NOTE = (
    "Train accuracy is the running average over each epoch's batches, on augmented images and "
    "while the weights still change, so it often sits below validation and test accuracy, "
    "which are measured on plain images with the epoch's final weights."
)


def _log_scale(choice: str, run: charts.Curve, others: list[charts.Curve]) -> bool:
    """The loss chart's scale: the person's choice, else log when the loss spans two decades."""
    if choice == "Auto":
        values = [*run.losses, *(v for o in others for v in o.losses)]
        return charts.wants_log_scale(values)
    return choice == "Log"


def _figures(snap: JobSnapshot, compare: list[str], scale: str) -> dict[str, Any]:
    """The live charts' figures, rebuilt only when what they show changed: the panel refreshes
    every second, new points arrive less often, and building the figures was most of what a
    refresh cost the server (`python -m bench panel`)."""
    others_snaps = [o for o in (_snapshot(j) for j in compare) if o is not None]
    version = (
        snap.job_id,
        len(snap.steps),  # the logged steps: `step` itself moves between them
        len(snap.epochs),
        len(snap.checks),
        len(snap.lr_changes),
        scale,
        tuple((o.job_id, len(o.steps), len(o.epochs), len(o.checks)) for o in others_snaps),
    )
    cached = st.session_state[keys.TRAIN_CHARTS]
    if cached is not None and cached[0] == version:
        return cached[1]
    run = charts.curve_from_snapshot(snap)
    others = [charts.curve_from_snapshot(o) for o in others_snaps]
    figures: dict[str, Any] = {}
    if run.steps or any(o.steps for o in others):
        figures["loss"] = charts.loss_figure(run, others, log_y=_log_scale(scale, run, others))
    if run.steps:
        figures["lr"] = charts.lr_figure(run)
    if run.epochs or run.test_points or any(o.epochs for o in others):
        figures["accuracy"] = charts.accuracy_figure(run, others)
    st.session_state[keys.TRAIN_CHARTS] = (version, figures)
    return figures


def _charts(snap: JobSnapshot, compare: list[str]) -> None:
    left, right = st.columns(2)
    with left:
        title, scale_column = st.columns([1, 1], vertical_alignment="bottom")
        title.markdown("**Loss** per step")
        with scale_column:
            scale = one_of(
                "Scale",
                keys.LOSS_SCALES,
                keys.TRAIN_LOSS_SCALE,
                label_visibility="collapsed",
                help="Auto uses a log scale once the loss spans more than two decades (a factor "
                "of 100), where a linear one would flatten everything after the first steps.",
            )
        figures = _figures(snap, compare, scale)
        if "loss" in figures:
            st.plotly_chart(figures["loss"], key="train_loss_chart", config={"displaylogo": False})
        else:
            st.caption("The loss curve appears after the first steps.")
        if "lr" in figures:
            st.markdown("**Learning rate** per step")
            st.plotly_chart(figures["lr"], key="train_lr_chart", config={"displaylogo": False})
    with right:
        st.markdown("**Accuracy** per epoch")
        if "accuracy" in figures:
            st.plotly_chart(
                figures["accuracy"], key="train_accuracy_chart", config={"displaylogo": False}
            )
            st.caption(TRAIN_ACCURACY_NOTE)
        else:
            st.caption(_accuracy_when(snap.config))


def _accuracy_when(config: TrainConfig) -> str:
    if config.eval_every:
        return (
            f"Accuracy is measured at the end of each epoch, and test accuracy every "
            f"{config.eval_every} steps."
        )
    return "Accuracy is measured at the end of each epoch."


def _poll_s(snap: JobSnapshot) -> float | None:
    """How often the live part refreshes: None once the job is done."""
    return None if snap.done else LIVE_POLL_S


def _live(job_id: str, compare: list[str]) -> None:
    """The live part: status, outcome and charts. Polls only while the job is under way.

    Each of the three is drawn into a container of its own in every run, whatever the job's
    status, so that the panel's element tree keeps its shape: when the outcome box and links
    appeared at a run's end they used to push the charts two places down, and the browser
    then dropped the charts and the loss-scale control and built them anew (measured in
    Chromium: both charts gone for about 0.4 s at the end of a Quick look run, and for 0.1 s
    at some refreshes while it ran; a check of the charts in that moment read 0 points, and
    the control came back with nothing chosen: issue 30)."""
    with friendly_errors("showing the training progress"):
        snap = _snapshot(job_id)
        if snap is None:
            st.info("This job is no longer available (the server may have restarted).")
            return
        if not snap.done:
            get_manager().heartbeat(job_id)
        race_best.record(snap)  # before a rerun below, so the sidebar shows a new best
        if snap.done != st.session_state[keys.TRAIN_SEEN_DONE]:
            # It ended in the background: the whole page again, so that Start is enabled and
            # the panel stops polling (drawn plainly from now on: `ui.live`). A start, a pause
            # or a resume needs no such rerun: the panel draws its own buttons.
            st.session_state[keys.TRAIN_SEEN_DONE] = snap.done
            st.rerun(scope="app")
        head, outcome, plots = st.container(), st.container(), st.container()
        with head:
            _status(snap)
        with outcome:
            _outcome(snap)
        with plots:
            _charts(snap, compare)


def _compare_picker(snap: JobSnapshot) -> list[str]:
    earlier = [j for j in get_manager().jobs(state.owner()) if j.job_id != snap.job_id and j.steps]
    if not earlier:
        return []
    names = {j.job_id: f"{j.name} ({fmt.percent(j.test_accuracy)})" for j in earlier}
    ss = st.session_state
    ss[keys.TRAIN_COMPARE] = [j for j in ss[keys.TRAIN_COMPARE] if j in names]
    return st.multiselect(
        "Compare with your earlier runs",
        list(names),
        format_func=lambda j: names.get(j, j),
        key=keys.TRAIN_COMPARE,
        max_selections=COMPARE_MAX,
        placeholder="Choose runs to overlay on the charts",
    )


def _link_notes() -> None:
    """What a link's settings could not do, until the visitor says OK."""
    notes = st.session_state[keys.TRAIN_QP_NOTES]
    if not notes:
        return
    with st.container(border=True):
        st.warning(
            "Some settings in the link could not be used as given:\n\n"
            + "\n".join(f"* {n}" for n in notes),
            icon=":material/link_off:",
        )
        if st.button("OK", key="train_qp_notes_ok"):
            st.session_state[keys.TRAIN_QP_NOTES] = []
            st.rerun()


def main() -> None:
    form_state.load_query_params()
    snap = _current_job()
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
        _link_notes()
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
        sweep_panel.render(config)
        return
    _controls(snap, config)
    if snap is None:
        st.info(
            "No run yet. Press **Start training**; the **Quick look** preset in the sidebar "
            "gives a result in seconds.",
            icon=":material/rocket_launch:",
        )
        return
    with st.container():  # empty until there are earlier runs: the panel below stays put
        compare = _compare_picker(snap)
    st.session_state[keys.TRAIN_SEEN_DONE] = snap.done
    live_panel(_live, snap.job_id, compare, every=_poll_s(snap))


if page_guard():
    with friendly_errors("showing the Train page"):
        main()
