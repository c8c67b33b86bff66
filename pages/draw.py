"""Draw: draw a digit (or upload a photo of one) and see what the models make of it."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from mnist_core.digits.decode import load_image_bytes
from mnist_core.digits.preprocess import PreprocessResult, predict, preprocess
from mnist_core.errors import MnistError
from mnist_core.models import get_spec
from mnist_core.storage.store import StoredModel
from ui import charts, fmt, keys
from ui.crop import crop_controls
from ui.errors import friendly_errors, show_flashes
from ui.handwriting.collection import collection_tab
from ui.handwriting.label import label_buttons
from ui.handwriting.scores import scores_tab
from ui.handwriting.tuning import tuning_tab
from ui.inside.link import look_inside_button
from ui.live import live_panel
from ui.model_choice import Choice, choose_model, model_for
from ui.resources import get_model, get_store
from ui.shell import page_guard
from ui.widgets import one_of, prediction_metric, square_preview

CANVAS_PX = 280
LIVE_POLL_S = 1.0  # refresh of the prediction while the chosen model is still training
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
PRETRAINED_ORDER = ("mlp", "lenet5", "resnet")


def _canvas_image() -> np.ndarray | None:
    """The drawing as (280, 280, 4) uint8 RGBA, or None when nothing is drawn."""
    from streamlit_drawable_canvas import st_canvas  # raises outside a Streamlit run: import here

    ss = st.session_state
    st.slider("Pen width", min_value=6, max_value=40, key=keys.DRAW_STROKE, persist_state="session")
    result = st_canvas(
        fill_color="rgba(255, 255, 255, 0.0)",
        stroke_width=int(ss[keys.DRAW_STROKE]),
        stroke_color="#FFFFFF",
        background_color="#000000",
        update_streamlit=True,
        height=CANVAS_PX,
        width=CANVAS_PX,
        drawing_mode="freedraw",
        return_image_data=True,
        key=f"draw_canvas_{ss[keys.DRAW_CANVAS_N]}",
    )
    st.button(
        "Clear",
        key="draw_clear",
        icon=":material/ink_eraser:",
        on_click=lambda: ss.update({keys.DRAW_CANVAS_N: ss[keys.DRAW_CANVAS_N] + 1}),
    )
    objects = (result.json_data or {}).get("objects") if result is not None else None
    image = result.image_data if result is not None else None
    if not objects or image is None:
        return None
    return np.asarray(image)


def _uploaded_image() -> tuple[object | None, tuple[float, float, float, float] | None]:
    """The uploaded image (PIL) and its crop box (`ui.crop`; None: the whole image); (None,
    None) when there is none; bad files get a message."""
    upload = st.file_uploader(
        "Upload a photo or scan of one handwritten digit",
        type=UPLOAD_TYPES,
        key="draw_upload",
        help="Dark ink on light paper or light on dark, up to 10 MB. Crop it to one digit.",
    )
    if upload is None:
        return None, None
    try:
        image = load_image_bytes(upload.getvalue(), name=upload.name)
    except MnistError as e:
        st.error(str(e), icon=":material/broken_image:")
        return None, None
    return image, crop_controls(image, upload.file_id)


def _prediction(pre: PreprocessResult | None, choice: Choice | None) -> None:
    """The headline prediction and its ten probabilities."""
    with friendly_errors("predicting"):
        t0 = time.perf_counter()
        model, note = model_for(choice) if choice is not None else (None, "")
        if choice is None:
            st.warning(
                "There is no model to predict with: train one on the Train page or upload "
                "one on the Models page."
            )
        if pre is None or pre.empty or pre.image is None or model is None:
            st.metric("Prediction", "–")
            st.plotly_chart(
                charts.probability_figure(np.zeros(10), height=240),
                key="draw_probabilities",
                config={"displayModeBar": False},
            )
            if note:
                st.caption(note)
            return
        probs = predict(model, pre.image)
        ms = (time.perf_counter() - t0) * 1000
        prediction_metric(probs)
        st.plotly_chart(
            charts.probability_figure(probs, height=240),
            key="draw_probabilities",
            config={"displayModeBar": False},
        )
        st.caption(f"{note} Model time {ms:.0f} ms.".strip())


def _steps(pre: PreprocessResult) -> None:
    st.markdown("**What the model sees**")
    steps = list(pre.steps)
    if not steps:
        return
    cols = st.columns(len(steps))
    for col, (caption, img) in zip(cols, steps, strict=True):
        col.image(square_preview(img), caption=caption, width="stretch")


def _pretrained(pre: PreprocessResult) -> None:
    st.markdown("**All three pretrained architectures**")
    by_arch: dict[str, StoredModel] = {}
    for m in get_store().list(None):
        if m.read_only and m.model not in by_arch:
            by_arch[m.model] = m
    archs = [a for a in PRETRAINED_ORDER if a in by_arch] + [
        a for a in by_arch if a not in PRETRAINED_ORDER
    ]
    if not archs:
        st.caption("No pretrained models are installed (checkpoints/*.pt).")
        return
    cols = st.columns(len(archs))
    for col, arch in zip(cols, archs, strict=True):
        m = by_arch[arch]
        with col.container(border=True):
            if pre.empty or pre.image is None:
                st.metric(get_spec(arch).title, "–")
                continue
            probs = predict(get_model(m), pre.image)
            digit = int(np.argmax(probs))
            st.metric(
                get_spec(arch).title,
                str(digit),
                delta=f"{probs[digit]:.1%} sure",
                delta_color="off",
                delta_arrow="off",
                help=f"{m.name}: {fmt.percent(m.test_accuracy)} on the test set.",
            )


def _label(pre: PreprocessResult, choice: Choice | None, source: str) -> None:
    """Which digit it really is: one click adds it to My handwriting."""
    assert pre.image is not None
    model = model_for(choice)[0] if choice is not None else None
    predicted = int(np.argmax(predict(model, pre.image))) if model is not None else None
    label_buttons(pre.image, predicted, clear_canvas=source == "Draw")


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
    ss = st.session_state
    choice = choose_model(keys.DRAW_MODEL)

    left, right = st.columns([1, 1.25], gap="large")
    pre: PreprocessResult | None = None
    with left:
        source = one_of("Input", keys.DRAW_SOURCES, keys.DRAW_SOURCE, label_visibility="collapsed")
        with friendly_errors("reading your digit"):
            image, crop = _uploaded_image() if source == "Upload" else (_canvas_image(), None)
            if image is not None:
                pre = preprocess(image, crop=crop)
                ss[keys.INSIDE_DRAWING] = pre.image if not pre.empty else ss[keys.INSIDE_DRAWING]
    with right:
        live = choice is not None and choice.job_id is not None
        live_panel(_prediction, pre, choice, every=LIVE_POLL_S if live else None)
        if pre is not None and pre.empty:
            st.info(pre.message, icon=":material/draw:")
        elif pre is None:
            st.caption("Draw on the black square with the mouse, a finger or a pen.")
        if pre is not None and not pre.empty:
            with friendly_errors("labelling your digit"):
                _label(pre, choice, source)
        look_inside_button(
            "draw_look_inside",
            choice.key if choice else None,
            drawing=pre.image if pre is not None and not pre.empty else None,
        )
    if pre is not None:
        with friendly_errors("showing the preprocessing steps"):
            _steps(pre)
            _pretrained(pre)
    _my_handwriting()


if page_guard():
    with friendly_errors("showing the Draw page"):
        main()
