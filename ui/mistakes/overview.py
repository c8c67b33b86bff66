"""The Mistakes page's overview of a model: its figures (accuracy, mistakes, hardest digit,
most common confusion) and the confusion matrix, whose clicked cell filters the gallery."""

from __future__ import annotations

import re

import numpy as np
import streamlit as st

from mnist_core.storage.store import StoredModel
from mnist_core.train.evaluation import EvalResult
from ui import digit_charts, fmt, keys


def reset_filters() -> None:
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


def summary(result: EvalResult, stored: StoredModel) -> None:
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


def confusion_chart(result: EvalResult, stored: StoredModel) -> None:
    key = _chart_key(stored)
    pair = st.session_state[keys.MISTAKES_PAIR]
    selected = pair if pair != keys.ALL_MISTAKES else None
    event = st.plotly_chart(
        digit_charts.confusion_figure(result.confusion, selected),
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
