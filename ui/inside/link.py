"""The "Look inside" buttons of other pages: they hand a model and a digit to /inside."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import keys

INSIDE_PAGE = "pages/inside.py"


def look_inside_button(
    key: str,
    model_key: str | None,
    *,
    drawing: np.ndarray | None = None,
    test_index: int | None = None,
    disabled: bool = False,
) -> None:
    """A "Look inside" button; pressed, it opens /inside on `model_key` ("ckpt:<id>" or
    "job:<id>") with the drawing (preprocessed (28, 28) in [0, 1]) or the test image."""
    if not st.button(
        "Look inside",
        key=key,
        icon=":material/neurology:",
        disabled=disabled or (drawing is None and test_index is None),
        help="See what each layer of this model computes for this digit, and why it reads it so.",
    ):
        return
    ss = st.session_state
    if model_key is not None:
        ss[keys.INSIDE_MODEL] = model_key
    if drawing is not None:
        ss[keys.INSIDE_DRAWING] = np.asarray(drawing, np.float32)
        ss[keys.INSIDE_SOURCE] = "Drawing"
    elif test_index is not None:
        ss[keys.INSIDE_TEST_INDEX] = int(test_index)
        ss[keys.INSIDE_SOURCE] = "Test image"
    st.switch_page(INSIDE_PAGE)
