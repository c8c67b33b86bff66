"""Mistakes: where a model goes wrong on the 10,000 MNIST test images."""

from __future__ import annotations

import streamlit as st

from mnist_core.data.mnist import MnistRaw
from mnist_core.storage.store import StoredModel
from mnist_core.train.evaluation import EvalResult
from ui import digit_charts, keys, state
from ui.data_gate import require_data
from ui.errors import friendly_errors
from ui.mistakes.gallery import show_gallery
from ui.mistakes.overview import confusion_chart, reset_filters, summary
from ui.model_choice import checkpoint_key
from ui.resources import get_evaluation, get_store
from ui.shell import page_guard
from ui.start import glossary
from ui.timeline import evaluation_at, timeline_panel
from ui.widgets import choose_stored_model


def main() -> None:
    st.title("Mistakes", anchor=False)
    st.caption(
        "Where does a model go wrong? Its accuracy per digit, its confusion matrix, and the "
        "test digits it misread, most confident first: digits it never trained on "
        f"({glossary.link('test')})."
    )
    raw = require_data("mistakes", "evaluate a model on the test set")
    if raw is None:
        return
    models = get_store().list(state.owner())
    if not models:
        st.info(
            "There is no model yet: train one on the Train page, or upload one on the Models page."
        )
        return
    ss = st.session_state
    stored = choose_stored_model(models, keys.MISTAKES_MODEL, on_change=reset_filters)
    # Everything below the choice is one slot. While another model is evaluated (4-5 s for a
    # ResNet) the slot holds one line that says so: the browser otherwise kept showing the
    # previous model's figures under the new name until the new ones came (issue 27, item 11).
    body = st.empty()
    if ss.get(keys.MISTAKES_SHOWN) != stored.id:
        body.info(
            f"Evaluating **{stored.name}** on the 10,000 test images …",
            icon=":material/hourglass_top:",
        )
    result = get_evaluation(stored)
    ss[keys.MISTAKES_SHOWN] = stored.id
    with body.container():
        # With a training timeline: everything below at the chosen step (the last: the model).
        timeline_panel(stored, "mistakes", lambda step: _results_at(raw, result, stored, step))


def _results_at(raw: MnistRaw, final: EvalResult, stored: StoredModel, step: int | None) -> None:
    """The results of the model at training step `step` of its timeline (None: `final`)."""
    _results(raw, final if step is None else evaluation_at(stored, step), stored)


def _results(raw: MnistRaw, result: EvalResult, stored: StoredModel) -> None:
    ss = st.session_state
    summary(result, stored)
    # A note answers the chart click handled in this run (`overview.apply_chart_selection`), and no
    # other: any later run (a filter, a page, Inspect) starts without it.
    ss[keys.MISTAKES_NOTE] = None
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        st.subheader("Confusion matrix", anchor=False)
        confusion_chart(result, stored)
        if ss[keys.MISTAKES_NOTE]:
            st.info(ss[keys.MISTAKES_NOTE], icon=":material/info:")
    with right:
        st.subheader("Accuracy per digit", anchor=False)
        st.plotly_chart(
            digit_charts.per_class_figure(result.per_class_accuracy),
            key="mistakes_per_class",
            config={"displayModeBar": False},
        )
    st.subheader("Misclassified test digits", anchor=False)
    show_gallery(raw, result, checkpoint_key(stored.id))


if page_guard():
    with friendly_errors("showing the Mistakes page"):
        main()
