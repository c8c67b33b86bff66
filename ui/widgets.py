"""Small pieces several pages share: choosing a model, showing a digit."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st
from PIL import Image

from mnist_core.models import get_spec
from mnist_core.store import StoredModel
from ui import fmt


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
    """A selectbox over `models` (not empty) bound to `key` (a checkpoint id)."""
    by_id = {m.id: m for m in models}
    if st.session_state.get(key) not in by_id:
        st.session_state[key] = models[0].id
    chosen = st.selectbox(
        label,
        list(by_id),
        format_func=lambda i: model_label(by_id[i]),
        key=key,
        on_change=on_change,
        help="Pretrained models, and the models you trained or uploaded in this browser.",
    )
    return by_id[chosen]


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
