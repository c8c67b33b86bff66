"""Mistakes: where a model goes wrong on the 10,000 MNIST test images."""

from __future__ import annotations

import math
import re

import numpy as np
import streamlit as st

from mnist_core.data.mnist import MnistRaw
from mnist_core.storage.store import StoredModel
from mnist_core.train.evaluation import EvalResult
from ui import charts, fmt, keys, state
from ui.data_gate import require_data
from ui.errors import friendly_errors
from ui.inside.link import look_inside_button
from ui.model_choice import checkpoint_key
from ui.resources import get_evaluation, get_store
from ui.shell import page_guard
from ui.widgets import choose_stored_model, digit_image

PAGE_SIZE = 20
GALLERY_COLUMNS = 5

Pair = tuple[int, int]


def _reset_filters() -> None:
    ss = st.session_state
    ss[keys.MISTAKES_PAIR] = keys.ALL_MISTAKES
    ss[keys.MISTAKES_PAGE] = 1
    ss[keys.MISTAKES_INSPECT] = None
    ss[keys.MISTAKES_NOTE] = None


def _chart_key(stored: StoredModel) -> str:
    return "mistakes_confusion_" + re.sub(r"[^a-zA-Z0-9_]", "_", stored.id)


def apply_chart_selection(points: list[dict], chart_key: str, confusion: np.ndarray) -> bool:
    """Turn a click on a confusion cell into the gallery filter. True when the filter changed.

    Applied once per new selection, so choosing another filter in the selectbox afterwards
    is not undone by the selection the chart still holds.
    """
    ss = st.session_state
    signature = (chart_key, tuple((p.get("x"), p.get("y")) for p in points))
    if signature == ss[keys.MISTAKES_LAST_SELECTION]:
        return False
    ss[keys.MISTAKES_LAST_SELECTION] = signature
    if not points:
        return False
    try:
        pred, true = int(points[0]["x"]), int(points[0]["y"])
    except (KeyError, TypeError, ValueError):
        return False
    if not (0 <= true < 10 and 0 <= pred < 10):
        return False
    count = int(confusion[true, pred])
    if true == pred:
        ss[keys.MISTAKES_NOTE] = (
            f"That cell holds the {count:,} test images of {true} the model got right; "
            "click a cell off the diagonal to see mistakes."
        )
        return False
    if count == 0:
        ss[keys.MISTAKES_NOTE] = f"The model never predicted {pred} for a {true}."
        return False
    ss[keys.MISTAKES_NOTE] = None
    ss[keys.MISTAKES_PAIR] = (true, pred)
    ss[keys.MISTAKES_PAGE] = 1
    ss[keys.MISTAKES_INSPECT] = None
    return True


def _summary(result: EvalResult, stored: StoredModel) -> None:
    wrong = len(result.misclassified)
    off = result.confusion.copy()
    np.fill_diagonal(off, 0)
    t, p = np.unravel_index(int(off.argmax()), off.shape)
    worst = int(np.argmin(result.per_class_accuracy))
    cols = st.columns(4)
    cols[0].metric(
        "Test accuracy",
        fmt.percent(result.accuracy),
        help=f"On the {result.n:,} MNIST test images (recorded at training: "
        f"{fmt.percent(stored.test_accuracy)}).",
    )
    cols[1].metric("Mistakes", f"{wrong:,} of {result.n:,}")
    cols[2].metric(
        "Hardest digit",
        str(worst),
        delta=fmt.percent(result.per_class_accuracy[worst]),
        delta_color="off",
        delta_arrow="off",
    )
    cols[3].metric(
        "Most common confusion",
        f"{t} → {p}",
        delta=f"{int(off[t, p])} images",
        delta_color="off",
        delta_arrow="off",
        help="True digit → predicted digit.",
    )


def _confusion(result: EvalResult, stored: StoredModel) -> None:
    key = _chart_key(stored)
    pair = st.session_state[keys.MISTAKES_PAIR]
    selected = pair if pair != keys.ALL_MISTAKES else None
    event = st.plotly_chart(
        charts.confusion_figure(result.confusion, selected),
        key=key,
        on_select="rerun",
        selection_mode="points",
        width="content",
        config={"displayModeBar": False},
    )
    points = list(event.selection.points) if event is not None and event.selection else []
    if apply_chart_selection(points, key, result.confusion):
        st.rerun()  # redraw with the clicked cell outlined and the gallery filtered
    st.caption(
        "Rows: the true digit; columns: the prediction. Click a red cell to see those mistakes."
    )


def _pair_options(result: EvalResult) -> list[Pair | str]:
    off = result.confusion.copy()
    np.fill_diagonal(off, 0)
    pairs = [(int(t), int(p)) for t, p in zip(*np.nonzero(off), strict=True)]
    pairs.sort(key=lambda tp: -int(off[tp]))
    return [keys.ALL_MISTAKES, *pairs]


def _gallery(raw: MnistRaw, result: EvalResult, model_key: str) -> None:
    ss = st.session_state
    options = _pair_options(result)
    if isinstance(ss[keys.MISTAKES_PAIR], list):  # a pair that went through JSON
        ss[keys.MISTAKES_PAIR] = tuple(ss[keys.MISTAKES_PAIR])
    if ss[keys.MISTAKES_PAIR] not in options:
        ss[keys.MISTAKES_PAIR] = keys.ALL_MISTAKES
    wrong = result.misclassified

    def label(pair: Pair | str) -> str:
        if pair == keys.ALL_MISTAKES:
            return f"All mistakes ({len(wrong):,})"
        return f"True {pair[0]} → predicted {pair[1]} ({int(result.confusion[pair]):,})"

    st.selectbox(
        "Filter true → predicted",
        options,
        format_func=label,
        key=keys.MISTAKES_PAIR,
        on_change=lambda: ss.update({keys.MISTAKES_PAGE: 1, keys.MISTAKES_INSPECT: None}),
        help="The same filter as clicking a cell of the confusion matrix.",
    )
    pair = ss[keys.MISTAKES_PAIR]
    if pair != keys.ALL_MISTAKES:
        t, p = pair
        wrong = wrong[(result.labels[wrong] == t) & (result.predicted[wrong] == p)]
    if len(wrong) == 0:
        st.success("No mistakes here.", icon=":material/celebration:")
        return

    pages = max(1, math.ceil(len(wrong) / PAGE_SIZE))
    ss[keys.MISTAKES_PAGE] = min(max(1, int(ss[keys.MISTAKES_PAGE] or 1)), pages)
    gallery, inspector = st.columns([3.4, 1.2], gap="large")
    with gallery:
        st.caption(
            f"{len(wrong):,} images, most confident mistakes first. "
            "Click **Inspect** for the ten probabilities."
        )
        page = ss[keys.MISTAKES_PAGE]
        shown = wrong[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        for row in range(0, len(shown), GALLERY_COLUMNS):
            cols = st.columns(GALLERY_COLUMNS)
            for col, idx in zip(cols, shown[row : row + GALLERY_COLUMNS], strict=False):
                idx = int(idx)
                with col:
                    st.image(
                        digit_image(raw.test_images[idx].numpy(), 84),
                        caption=f"true {result.labels[idx]} · said {result.predicted[idx]} · "
                        f"{result.confidence[idx]:.0%}",
                        width="stretch",
                    )
                    st.button(
                        "Inspect",
                        key=f"mistakes_inspect_{idx}",
                        type="tertiary",
                        icon=":material/bar_chart:",
                        on_click=lambda i=idx: ss.update({keys.MISTAKES_INSPECT: i}),
                        width="stretch",
                    )
        if pages > 1:
            # Another page shows other images: the inspector goes back to its first one.
            st.pagination(
                pages,
                key=keys.MISTAKES_PAGE,
                on_change=lambda: ss.update({keys.MISTAKES_INSPECT: None}),
            )
    with inspector:
        _inspect(
            raw,
            result,
            ss[keys.MISTAKES_INSPECT] if ss[keys.MISTAKES_INSPECT] is not None else int(shown[0]),
            model_key,
        )


def _inspect(raw: MnistRaw, result: EvalResult, idx: int, model_key: str) -> None:
    with st.container(border=True):
        st.markdown(f"**Test image #{idx}**")
        st.image(digit_image(raw.test_images[idx].numpy(), 168), width="stretch")
        true, pred = int(result.labels[idx]), int(result.predicted[idx])
        verdict = "correct" if true == pred else "wrong"
        st.markdown(
            f"True **{true}** · predicted **{pred}** ({verdict}) · "
            f"confidence {result.confidence[idx]:.1%}"
        )
        st.plotly_chart(
            charts.probability_figure(result.probabilities[idx], height=230),
            key="mistakes_probabilities",
            config={"displayModeBar": False},
        )
        look_inside_button("mistakes_look_inside", model_key, test_index=idx)


def main() -> None:
    st.title("Mistakes", anchor=False)
    st.caption(
        "Where does a model go wrong? Its accuracy per digit, its confusion matrix, and the "
        "test digits it misread, most confident first."
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
    stored = choose_stored_model(models, keys.MISTAKES_MODEL, on_change=_reset_filters)
    with st.spinner(f"Evaluating {stored.name} on the 10,000 test images …"):
        result = get_evaluation(stored)
    _summary(result, stored)
    # A note answers the chart click handled in this run (`apply_chart_selection`), and no
    # other: any later run (a filter, a page, Inspect) starts without it.
    ss[keys.MISTAKES_NOTE] = None
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        st.subheader("Confusion matrix", anchor=False)
        _confusion(result, stored)
        if ss[keys.MISTAKES_NOTE]:
            st.info(ss[keys.MISTAKES_NOTE], icon=":material/info:")
    with right:
        st.subheader("Accuracy per digit", anchor=False)
        st.plotly_chart(
            charts.per_class_figure(result.per_class_accuracy),
            key="mistakes_per_class",
            config={"displayModeBar": False},
        )
    st.subheader("Misclassified test digits", anchor=False)
    _gallery(raw, result, checkpoint_key(stored.id))


if page_guard():
    with friendly_errors("showing the Mistakes page"):
        main()
