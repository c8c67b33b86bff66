"""One click to say which digit a drawing really is: it joins the visitor's set."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from mnist_core.digits.handwriting import MIN_PER_CLASS, MIN_TOTAL, HandwritingSet, as_uint8
from mnist_core.errors import MnistError
from ui import keys
from ui.errors import flash, guarded_callback
from ui.state import keep_handwriting

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
        added = s.add(image, label)
    except MnistError as e:
        flash(keys.HW_FLASH, "error", str(e))
        return
    problem = keep_handwriting(added)  # here and on the server: a reload keeps it
    if problem:
        flash(keys.HW_FLASH, "warning", problem)
    ss[keys.HW_LAST] = (digest(image), label)
    ss[keys.HW_LABEL_N] += 1
    if clear_canvas:  # ready for the next digit
        ss[keys.DRAW_CANVAS_N] += 1
    n = len(ss[keys.HW_SET])
    flash(keys.HW_FLASH, "success", f"Added a {label} to your handwriting. {progress_line(n)}")


# The ten digits wrap onto a second row where they do not fit: on a phone (390 px) the row
# scrolled sideways and the 9 was cut off (issue 27, item 8).
WRAP_PILLS_CSS = (
    "<style>[class*='st-key-hw_pick_'] [role='radiogroup'] "
    "{ flex-wrap: wrap; overflow: visible; row-gap: 0.5rem; }</style>"
)


def progress_line(n: int) -> str:
    """How far a set of `n` digits is from fine-tuning, where the visitor labels (issue 27,
    item 19: the 30 were said only on the Fine-tune tab)."""
    if n < MIN_TOTAL:
        return f"Your set has {n} of the {MIN_TOTAL} it takes to fine-tune a model on them."
    return f"Your set has {n}: enough to fine-tune a model on them (the Fine-tune tab)."


def label_buttons(image: np.ndarray, predicted: int | None, *, clear_canvas: bool) -> None:
    """ "It is N" (the prediction) and "No, it is ..." (0-9) for the preprocessed `image`."""
    ss = st.session_state
    last = ss[keys.HW_LAST]
    if last is not None and last[0] == digest(image):
        st.caption(f"This digit is in your handwriting set as a {last[1]}.")
        return
    st.markdown(
        "**Which digit is it?** Each answer adds it to *My handwriting* below; with "
        f"{MIN_TOTAL} ({MIN_PER_CLASS} of each digit you label) a model can be fine-tuned on "
        "your handwriting."
    )
    if predicted is not None:
        st.button(
            f"Yes, a {predicted}",
            key="hw_right",
            icon=":material/check:",
            on_click=_add,
            args=(image, predicted, clear_canvas),
            help="The prediction is right: keep the digit with this label.",
        )
    st.html(WRAP_PILLS_CSS)
    st.pills(
        "No, it is",
        DIGITS,
        key=f"hw_pick_{ss[keys.HW_LABEL_N]}",
        on_change=_add,
        args=(image, None, clear_canvas),
        help="Click the digit you meant: the drawing joins your set with that label.",
    )
