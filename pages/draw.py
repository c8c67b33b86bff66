"""Draw: draw a digit (or upload a photo of one) and see what the models make of it."""

from __future__ import annotations

import streamlit as st

from mnist_core.digits.preprocess import PreprocessResult, preprocess
from ui import keys
from ui.draw.handwriting.collection import collection_tab
from ui.draw.handwriting.scores import scores_tab
from ui.draw.handwriting.tuning import tuning_tab
from ui.draw.input import canvas_image, uploaded_image
from ui.draw.readings import (
    label_digit,
    phone_answer,
    prediction_over_time,
    preprocessing_steps,
    pretrained_readings,
)
from ui.errors import friendly_errors, show_flashes
from ui.inside.link import look_inside_button
from ui.live import live_panel
from ui.model_choice import Choice, choose_model
from ui.shell import in_app_run, page_guard
from ui.widgets import one_of

LIVE_POLL_S = 1.0  # refresh of the prediction while the chosen model is still training


def _my_handwriting() -> None:
    st.subheader("My handwriting", anchor=False)
    show_flashes(keys.HW_FLASH)
    st.caption(
        "The digits you labelled above, kept in this browser session: download them to keep "
        "them. See how every model reads them, and fine-tune one on them."
    )
    # A key keeps the chosen tab across reruns (a message above it would otherwise move it to
    # a new place on the page, and Streamlit would show the first tab again).
    collection, scores, tuning = st.tabs(
        ["Your digits", "How the models read them", "Fine-tune"],
        key=keys.HW_TAB,
        on_change="rerun",
    )
    with collection, friendly_errors("showing your digits"):
        collection_tab()
    with scores, friendly_errors("scoring the models on your digits"):
        scores_tab()
    with tuning, friendly_errors("showing the fine-tuning"):
        tuning_tab()


def main() -> None:
    st.title("Draw a digit", anchor=False)
    st.caption(
        "Draw a digit from 0 to 9, or upload a photo of one, and watch the models read it. "
        "Choose a model that is still training to see it learn."
    )
    drawing_pad(choose_model(keys.DRAW_MODEL))
    _my_handwriting()


# The pad is a fragment: a stroke reruns it alone, not the app (issue 29). Measured with
# `python -m bench feel --only draw` (mouse let go -> the Prediction metric's new text): a
# stroke that reran the whole app waited ~0.6 s on this 2-core machine, most of it the app's
# sidebar, the page's other parts and My handwriting's tabs, drawn before and after the
# prediction while the model itself takes 2-3 ms.
@st.fragment
def drawing_pad(choice: Choice | None) -> None:
    """The input (canvas or upload) with what the models make of it: everything a stroke
    changes. A label given to the drawing also changes My handwriting, outside the pad: the
    run that follows such a click is the whole app's."""
    with friendly_errors("showing the drawing pad"):  # a fragment's own run has no page around it
        _pad(choice)


def _pad(choice: Choice | None) -> None:
    ss = st.session_state
    if ss[keys.HW_FLASH] and not in_app_run():  # a label's message waits for My handwriting
        st.rerun(scope="app")
    left, right = st.columns([1, 1.25], gap="large")
    pre: PreprocessResult | None = None
    with left:
        source = one_of("Input", keys.DRAW_SOURCES, keys.DRAW_SOURCE, label_visibility="collapsed")
        answer = st.empty()  # above the canvas: on a phone the columns stack (phone_answer)
        with friendly_errors("reading your digit"):
            image, crop = uploaded_image() if source == "Upload" else (canvas_image(), None)
            if image is not None:
                pre = preprocess(image, crop=crop)
                ss[keys.INSIDE_DRAWING] = pre.image if not pre.empty else ss[keys.INSIDE_DRAWING]
    with right:
        live = choice is not None and choice.job_id is not None
        every = LIVE_POLL_S if live else None
        live_panel(prediction_over_time, pre, choice, every=every, key="live_draw")
        if pre is not None and pre.empty:
            st.info(pre.message, icon=":material/draw:")
        elif pre is None and source == "Upload":
            st.caption("Upload a photo or a scan of one digit: it is read as soon as it arrives.")
        elif pre is None:
            st.caption("Draw on the black square with the mouse, a finger or a pen.")
        if pre is not None and not pre.empty:
            with friendly_errors("labelling your digit"):
                label_digit(pre, choice, source)
        look_inside_button(
            "draw_look_inside",
            choice.key if choice else None,
            drawing=pre.image if pre is not None and not pre.empty else None,
        )
    with answer.container():  # after the prediction beside the pad, which a stroke waits for
        phone_answer(pre, choice)
    if pre is not None:
        with friendly_errors("showing the preprocessing steps"):
            preprocessing_steps(pre)
            pretrained_readings(pre)


if page_guard():
    with friendly_errors("showing the Draw page"):
        main()
