"""Draw: draw a digit (or upload a photo of one) and see what the models make of it."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import streamlit as st
from torch import nn

from mnist_core.errors import MnistError
from mnist_core.images import load_image_bytes
from mnist_core.jobs import JobSnapshot
from mnist_core.models import get_spec
from mnist_core.preprocess import PreprocessResult, predict, preprocess
from mnist_core.store import StoredModel
from ui import charts, fmt, keys, state
from ui.errors import friendly_errors
from ui.resources import get_manager, get_model, get_store
from ui.shell import page_guard
from ui.widgets import model_label, square_preview

CANVAS_PX = 280
LIVE_POLL_S = 1.0  # refresh of the prediction while the chosen model is still training
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
PRETRAINED_ORDER = ("mlp", "lenet5", "resnet")


@dataclass(frozen=True)
class Choice:
    """A model to predict with: a stored checkpoint, or a job that is still training."""

    key: str  # "ckpt:<id>" or "job:<id>"
    label: str
    stored: StoredModel | None = None
    job_id: str | None = None


def _choices() -> list[Choice]:
    out = [
        Choice(keys.draw_checkpoint(m.id), model_label(m), stored=m)
        for m in get_store().list(state.owner())
    ]
    for job in get_manager().jobs(state.owner()):
        if job.active:
            title = get_spec(job.config.model).title
            out.append(
                Choice(
                    f"job:{job.job_id}",
                    f"{job.name} · {title} · training now (live)",
                    job_id=job.job_id,
                )
            )
    return out


def _saved_model_of(key: str | None, by_key: dict[str, Choice]) -> str | None:
    """When the live model chosen has finished training, its saved checkpoint (if any)."""
    if not key or not key.startswith("job:"):
        return None
    try:
        snap = get_manager().snapshot(key.removeprefix("job:"))
    except MnistError:
        return None
    saved = keys.draw_checkpoint(snap.checkpoint_id) if snap.checkpoint_id else None
    return saved if saved in by_key else None


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


def _uploaded_image() -> object | None:
    """The uploaded image (PIL), None when there is none; bad files get a message."""
    upload = st.file_uploader(
        "Upload a photo or scan of one handwritten digit",
        type=UPLOAD_TYPES,
        key="draw_upload",
        help="Dark ink on light paper or light on dark, up to 10 MB. Crop it to one digit.",
    )
    if upload is None:
        return None
    try:
        return load_image_bytes(upload.getvalue(), name=upload.name)
    except MnistError as e:
        st.error(str(e), icon=":material/broken_image:")
        return None


def _model_for(choice: Choice) -> tuple[nn.Module | None, str]:
    """The model to use, and a note about it (e.g. the step a live model is at)."""
    if choice.stored is not None:
        return get_model(choice.stored), ""
    assert choice.job_id is not None
    manager = get_manager()
    snap: JobSnapshot = manager.snapshot(choice.job_id)
    model = manager.model_copy(choice.job_id)
    if model is None:
        return None, f"{snap.name} is still being prepared: its model appears in a moment."
    return model, (
        f"Live model of **{snap.name}** at step {snap.step:,} of {snap.total_steps:,} "
        f"(epoch {snap.epoch:.1f}, {snap.status})."
    )


def _prediction(pre: PreprocessResult | None, choice: Choice | None) -> None:
    """The headline prediction and its ten probabilities."""
    with friendly_errors("predicting"):
        t0 = time.perf_counter()
        model, note = _model_for(choice) if choice is not None else (None, "")
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
        digit = int(np.argmax(probs))
        st.metric(
            "Prediction",
            str(digit),
            delta=f"{probs[digit]:.1%} sure",
            delta_color="off",
            delta_arrow="off",
        )
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
        st.caption("No pretrained models are installed (mnist_core/pretrained/*.pt).")
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


def main() -> None:
    st.title("Draw a digit", anchor=False)
    st.caption(
        "Draw a digit from 0 to 9, or upload a photo of one, and watch the models read it. "
        "Choose a model that is still training to see it learn."
    )
    ss = st.session_state
    choices = _choices()
    by_key = {c.key: c for c in choices}
    if choices and ss[keys.DRAW_MODEL] not in by_key:
        ss[keys.DRAW_MODEL] = _saved_model_of(ss[keys.DRAW_MODEL], by_key) or choices[0].key
    choice: Choice | None = None
    if choices:
        chosen = st.selectbox(
            "Model",
            list(by_key),
            format_func=lambda k: by_key[k].label,
            key=keys.DRAW_MODEL,
            help="Pretrained models, your saved runs, and your runs still training (live).",
        )
        choice = by_key[chosen]

    left, right = st.columns([1, 1.25], gap="large")
    pre: PreprocessResult | None = None
    with left:
        source = st.segmented_control(
            "Input",
            keys.DRAW_SOURCES,
            key=keys.DRAW_SOURCE,
            label_visibility="collapsed",
        )
        with friendly_errors("reading your digit"):
            image = _uploaded_image() if source == "Upload" else _canvas_image()
            if image is not None:
                pre = preprocess(image)
    with right:
        live = choice is not None and choice.job_id is not None
        st.fragment(run_every=LIVE_POLL_S if live else None)(_prediction)(pre, choice)
        if pre is not None and pre.empty:
            st.info(pre.message, icon=":material/draw:")
        elif pre is None:
            st.caption("Draw on the black square with the mouse, a finger or a pen.")
    if pre is not None:
        with friendly_errors("showing the preprocessing steps"):
            _steps(pre)
            _pretrained(pre)


if page_guard():
    with friendly_errors("showing the Draw page"):
        main()
