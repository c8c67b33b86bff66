"""The Train page's live charts: loss, learning rate and accuracy of the run, with earlier runs
of the visitor overlaid (chosen in `compare_picker`)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from mnist_core.jobs import JobSnapshot
from mnist_core.train.config import TrainConfig
from mnist_core.words import count_of
from ui import charts, fmt, keys, state
from ui.resources import get_manager
from ui.train.jobs import snapshot
from ui.widgets import one_of

COMPARE_MAX = 5


TRAIN_ACCURACY_NOTE = (
    "Train accuracy is the running average over each epoch's batches, on augmented images and "
    "while the weights still change, so it often sits below validation and test accuracy, "
    "which are measured on plain images with the epoch's final weights."
)


def _log_scale(choice: str, run: charts.Curve, others: list[charts.Curve]) -> bool:
    """The loss chart's scale: the person's choice, else log when the losses (training and
    validation) span two decades."""
    if choice == "Auto":
        return charts.curves_want_log_scale([run, *others])
    return choice == "Log"


def _figures(snap: JobSnapshot, compare: list[str], scale: str) -> dict[str, Any]:
    """The live charts' figures, rebuilt only when what they show changed: the panel refreshes
    every second, new points arrive less often, and building the figures was most of what a
    refresh cost the server (`python -m bench panel`)."""
    others_snaps = [o for o in (snapshot(j) for j in compare) if o is not None]
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


def live_charts(snap: JobSnapshot, compare: list[str]) -> None:
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
            f"{count_of(config.eval_every, 'step')}."
        )
    return "Accuracy is measured at the end of each epoch."


def compare_picker(snap: JobSnapshot) -> list[str]:
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
