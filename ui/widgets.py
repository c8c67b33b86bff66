"""Small pieces several pages share: choosing a model, showing a digit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import streamlit as st
from PIL import Image

from mnist_core.models import get_spec
from mnist_core.storage.store import StoredModel, picker_order
from ui import fmt, keys

T = TypeVar("T")


def model_label(m: StoredModel) -> str:
    """E.g. "LeNet-5 (pretrained) · LeNet-5 · 98.91%"."""
    try:
        arch = get_spec(m.model).title
    except KeyError:
        arch = m.model
    kind = "pretrained" if m.read_only else "yours"
    return f"{m.name} · {arch} · {fmt.percent(m.test_accuracy)} · {kind}"


def choose_stored_model(
    models: list[StoredModel],
    key: str,
    label: str = "Model",
    on_change: Callable[[], None] | None = None,
) -> StoredModel:
    """A selectbox over `models` (not empty) bound to `key` (a checkpoint id), each sweep's
    runs together at the end (`picker_order`)."""
    by_id = {m.id: m for m in picker_order(models)}
    if st.session_state.get(key) not in by_id:
        st.session_state[key] = next(iter(by_id))
    chosen = st.selectbox(
        label,
        list(by_id),
        format_func=lambda i: model_label(by_id[i]),
        key=key,
        on_change=on_change,
        help="Pretrained models, and the models you trained or uploaded in this browser.",
    )
    return by_id[chosen]


def one_of(
    label: str,
    options: Sequence[T],
    key: str,
    *,
    format_func: Callable[[Any], str] | None = None,
    **kwargs: Any,
) -> T:
    """A segmented control with exactly one of `options` chosen, and the same one in the browser
    as on the server. Returns it.

    The choice lives in session state under `key` and is handed to the browser with every run
    (assigned before the widget is made, which is what makes Streamlit send it). Without that,
    a control that left the page and came back mounted in the browser with nothing chosen:
    its value was set in an earlier run, and the browser had dropped its own copy when the
    control left (Train's Sweep mode and back; the live panel's elements cleared at a run's
    end, `ui.live`). The next rerun then sent that empty choice back as None, and the loss
    chart fell back to a linear scale (issue 30: reproduced every time by Single run -> Sweep
    -> Single run after a run). A value that is not an option (None, an option that went away,
    none at all: the control was off the page and Streamlit dropped its key) becomes the last
    valid choice again (the default, set by `ui.state`, until the visitor chooses), else the
    first option. A click is not lost: `key` reads the browser's new value before it is
    assigned back. `kwargs` go to `st.segmented_control` (help, label_visibility...)."""
    ss = st.session_state
    last = keys.last_choice(key)
    value = ss.get(key)
    if value not in options:
        value = ss.get(last) if ss.get(last) in options else options[0]
    ss[key] = value  # set this run, so it wins over what the browser sent, which is `value`
    ss[last] = value
    return st.segmented_control(
        label, options, key=key, required=True, format_func=format_func or str, **kwargs
    )


def prediction_metric(probabilities: np.ndarray, note: str = "") -> int:
    """The "Prediction" metric: the digit read from `probabilities` (10,) and how sure, then
    `note` (e.g. " (right)"). Returns that digit."""
    digit = int(np.argmax(probabilities))
    st.metric(
        "Prediction",
        str(digit),
        delta=f"{probabilities[digit]:.1%} sure{note}",
        delta_color="off",
        delta_arrow="off",
    )
    return digit


def digit_image(pixels: np.ndarray, size: int = 112) -> np.ndarray:
    """A (28, 28) digit (uint8, or float in [0, 1]) enlarged with crisp pixels for display."""
    arr = np.asarray(pixels)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return np.asarray(Image.fromarray(arr).resize((size, size), Image.Resampling.NEAREST))


def square_preview(pixels: np.ndarray, size: int = 140) -> np.ndarray:
    """A (H, W) uint8 image centred in a transparent square and resized to `size`: (size,
    size, 4) uint8 RGBA, so that preprocessing steps of any shape line up. Only the image's own
    pixels are opaque: the padding is no colour at all, so the preview never shows a grey (a
    border median, say) that the model never sees. Small images keep crisp pixels (whole
    multiples, nearest neighbour), so a 28x28 preview is exactly the model's input, enlarged."""
    arr = np.asarray(pixels, dtype=np.uint8)
    h, w = arr.shape
    side = max(h, w)
    scale = size / side
    resample = Image.Resampling.BOX if side > size else Image.Resampling.BILINEAR
    if side <= size // 2:  # crisp pixels: a whole number of screen pixels per image pixel
        scale, resample = float(size // side), Image.Resampling.NEAREST
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    tile = np.asarray(Image.fromarray(arr).resize((new_w, new_h), resample))
    out = np.zeros((size, size, 4), dtype=np.uint8)  # transparent
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[top : top + new_h, left : left + new_w, :3] = tile[..., None]
    out[top : top + new_h, left : left + new_w, 3] = 255
    return out


# A hidden, empty chart and table on the landing page: the browser fetches and compiles the code
# of Plotly and of Streamlit's data grid (chunks that Streamlit loads on a page's first chart or
# table) while the person reads, not on the first page with one that they open. Measured in
# headless Chromium on this 2-core machine (`python -m bench feel`): a visitor's first page with
# a chart took ~1.3 s longer than the same page later (Draw: 1.89 s, its script done after
# 0.60 s), and their first page with a table ~0.6 s longer (Models: 0.83 s, then 0.25 s).
_WARM_UP_CSS = "<style>.st-key-code_warm_up { display: none; }</style>"


def load_chart_code() -> None:
    """Draw the hidden chart and table that have the browser load their code ahead of the first
    real ones."""
    import pandas as pd
    import plotly.graph_objects as go

    st.html(_WARM_UP_CSS)
    with st.container(key="code_warm_up", height=1):
        st.plotly_chart(go.Figure(), key="code_warm_up_chart", config={"staticPlot": True})
        st.dataframe(pd.DataFrame({"": []}), key="code_warm_up_table")
