"""One click to say which digit a drawing really is: it joins the visitor's set."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from mnist_core.digits.handwriting import HandwritingSet, as_uint8
from mnist_core.errors import MnistError
from mnist_core.words import count_of
from ui import keys
from ui.errors import flash, guarded_callback

DIGITS = [str(d) for d in range(10)]


def digest(image: np.ndarray) -> str:
    """A short fingerprint of a (28, 28) digit: the same drawing is labelled once."""
    return hashlib.sha1(as_uint8(image).tobytes()).hexdigest()[:16]


@guarded_callback("adding the digit to your set", keys.HW_FLASH)
def _add(image: np.ndarray, label: int | None, clear_canvas: bool) -> None:
    ss = st.session_state
    if label is None:  # the picker's value, read in its own callback
        picked = ss.get(f"hw_pick_{ss[keys.HW_LABEL_N]}")
        if picked is None:
            return
        label = int(picked)
    s: HandwritingSet = ss[keys.HW_SET]
    try:
        ss[keys.HW_SET] = s.add(image, label)
    except MnistError as e:
        flash(keys.HW_FLASH, "error", str(e))
        return
    ss[keys.HW_LAST] = (digest(image), label)
    ss[keys.HW_LABEL_N] += 1
    if clear_canvas:  # ready for the next digit
        ss[keys.DRAW_CANVAS_N] += 1
    n = len(ss[keys.HW_SET])
    flash(
        keys.HW_FLASH, "success", f"Added a {label} to your handwriting ({count_of(n, 'digit')})."
    )


def label_buttons(image: np.ndarray, predicted: int | None, *, clear_canvas: bool) -> None:
    """ "It is N" (the prediction) and "No, it is ..." (0-9) for the preprocessed `image`."""
    ss = st.session_state
    last = ss[keys.HW_LAST]
    if last is not None and last[0] == digest(image):
        st.caption(f"This digit is in your handwriting set as a {last[1]}.")
        return
    st.markdown("**Which digit is it?** Each answer adds it to *My handwriting* below.")
    if predicted is not None:
        st.button(
            f"Yes, a {predicted}",
            key="hw_right",
            icon=":material/check:",
            on_click=_add,
            args=(image, predicted, clear_canvas),
            help="The prediction is right: keep the digit with this label.",
        )
    st.pills(
        "No, it is",
        DIGITS,
        key=f"hw_pick_{ss[keys.HW_LABEL_N]}",
        on_change=_add,
        args=(image, None, clear_canvas),
        help="Click the digit you meant: the drawing joins your set with that label.",
    )
