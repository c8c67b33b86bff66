"""The Train page's buttons: the next run's name and Start with what it will train, the current
run's Pause, Resume, Stop and learning rate; and the notes on a link's settings."""

from __future__ import annotations

import streamlit as st

from mnist_core.jobs import JobSnapshot
from mnist_core.models import get_spec
from mnist_core.train.config import TrainConfig
from mnist_core.words import count_of
from ui import keys
from ui.train import estimate
from ui.train.jobs import on_pause, on_resume, on_set_lr, on_start, on_stop
from ui.train_form import fields, labels


def _setup_summary(config: TrainConfig) -> str:
    spec = get_spec(config.model)
    images = f"{config.train_size:,} training images"
    optimizer = labels.CHOICE_LABELS["optimizer"].get(config.optimizer, config.optimizer)
    return (
        f"**{spec.title}** · {count_of(config.epochs, 'epoch')} × "
        f"{count_of(config.steps_per_epoch, 'step')} · {images}"
        f" · batch {config.batch_size} · {optimizer} at peak learning rate {config.lr:g}"
    )


def controls(snap: JobSnapshot | None, config: TrainConfig | None) -> None:
    """The next run: its name, Start, what it will train and how long it should take. (The
    current run's Pause, Stop and learning rate are in the live panel, `job_controls`, which
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
            on_click=on_start,
            disabled=pending or config is None,
            width="stretch",
            help="Your job is already under way: stop it first." if pending else None,
        )
        if config is not None and not pending:
            st.caption(_setup_summary(config))
            estimate.show_run_estimate(config)  # measured once per setup, not waited for


def job_controls(snap: JobSnapshot) -> None:
    """Pause or Resume and Stop (disabled once the run is done), and the learning rate while
    it trains."""
    job_id = snap.job_id
    c_pause, c_stop, _ = st.columns([1.2, 1.2, 4.2], vertical_alignment="bottom")
    paused = snap.status == "paused"
    c_pause.button(
        "Resume" if paused else "Pause",
        key="train_resume" if paused else "train_pause",
        icon=":material/play_circle:" if paused else ":material/pause:",
        on_click=on_resume if paused else on_pause,
        args=(job_id,),
        disabled=not paused and snap.status != "running",
        width="stretch",
    )
    c_stop.button(
        "Stop",
        key="train_stop",
        icon=":material/stop:",
        on_click=on_stop,
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
            on_click=on_set_lr,
            args=(job_id,),
            width="stretch",
        )


def link_notes() -> None:
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
