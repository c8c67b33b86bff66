"""What the models make of the Draw page's digit: the chosen model's prediction, the
preprocessing steps, the three pretrained architectures' readings, and the label buttons that
add the digit to My handwriting."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st
from torch import nn

from mnist_core.digits.preprocess import PreprocessResult
from mnist_core.models import get_spec
from mnist_core.models.inference import predict
from mnist_core.storage.store import StoredModel
from ui import digit_charts, fmt
from ui.draw.handwriting.label import label_buttons
from ui.errors import friendly_errors
from ui.live import slots
from ui.model_choice import Choice, model_for
from ui.resources import get_model, get_store
from ui.timeline import chosen_step, model_at, timeline_panel
from ui.widgets import prediction_metric, square_preview

PRETRAINED_ORDER = ("mlp", "lenet5", "resnet")


def prediction_over_time(pre: PreprocessResult | None, choice: Choice | None) -> None:
    """`prediction`; for a saved model with a training timeline, under its "Training step"
    slider and Play button (`ui.timeline`), of the model at the chosen step."""
    stored = choice.stored if choice is not None else None
    (part,) = slots(1)  # the live panel's one part, timeline or not (`ui.live`)
    with part:
        timeline_panel(stored, "draw", lambda step: prediction(pre, choice, step))


def _model_at_step(choice: Choice, step: int | None) -> tuple[nn.Module | None, str]:
    """The chosen model (as `model_for` gives it), or its snapshot at `step` of its training
    timeline when a step is chosen."""
    if step is None or choice.stored is None:
        return model_for(choice)
    return model_at(choice.stored, step), ""


def prediction(
    pre: PreprocessResult | None, choice: Choice | None, step: int | None = None
) -> None:
    """The headline prediction and its ten probabilities (of the model at training step `step`
    of its timeline, when one is chosen): the same four parts in every run (a live model's
    panel polls: `ui.live`), each drawn or left empty."""
    warning, headline, bars, caption = slots(4)
    with headline, friendly_errors("predicting"):
        t0 = time.perf_counter()
        model, note = _model_at_step(choice, step) if choice is not None else (None, "")
        if choice is None:
            warning.warning(
                "There is no model to predict with: train one on the Train page or upload "
                "one on the Models page."
            )
        if pre is None or pre.empty or pre.image is None or model is None:
            st.metric("Prediction", "–")
            bars.plotly_chart(
                digit_charts.probability_figure(np.zeros(10), height=240),
                key="draw_probabilities",
                config={"displayModeBar": False},
            )
            if note:
                caption.caption(note)
            return
        probs = predict(model, pre.image)
        ms = (time.perf_counter() - t0) * 1000
        prediction_metric(probs)
        bars.plotly_chart(
            digit_charts.probability_figure(probs, height=240),
            key="draw_probabilities",
            config={"displayModeBar": False},
        )
        caption.caption(f"{note} Model time {ms:.0f} ms.".strip())


# Above the canvas on a phone only: there the columns stack and the prediction came below the
# fold after drawing (issue 27, item 8; 390x844). A wide screen shows it beside the canvas.
PHONE_ANSWER_CSS = (
    "<style>@media (min-width: 641px) { .st-key-draw_phone_answer { display: none; } }</style>"
)


def phone_answer(pre: PreprocessResult | None, choice: Choice | None) -> None:
    """One line above the canvas, shown on narrow screens only: what the model reads."""
    if pre is None or pre.empty or pre.image is None or choice is None or choice.stored is None:
        return  # a live model's reading refreshes beside the canvas, not here
    with friendly_errors("predicting"):
        model, _ = _model_at_step(choice, chosen_step(choice.stored, "draw"))
        if model is None:
            return
        probs = predict(model, pre.image)
        digit = int(np.argmax(probs))
        st.html(PHONE_ANSWER_CSS)
        with st.container(key="draw_phone_answer"):
            st.markdown(f"**Prediction: {digit}** · {probs[digit]:.1%} sure (more below the pad)")


def preprocessing_steps(pre: PreprocessResult) -> None:
    st.markdown("**What the model sees**")
    steps = list(pre.steps)
    if not steps:
        return
    cols = st.columns(len(steps))
    for col, (caption, img) in zip(cols, steps, strict=True):
        col.image(square_preview(img), caption=caption, width="stretch")


def pretrained_readings(pre: PreprocessResult) -> None:
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


def label_digit(pre: PreprocessResult, choice: Choice | None, source: str) -> None:
    """Which digit it really is: one click adds it to My handwriting."""
    assert pre.image is not None
    model = model_for(choice)[0] if choice is not None else None
    predicted = int(np.argmax(predict(model, pre.image))) if model is not None else None
    label_buttons(pre.image, predicted, clear_canvas=source == "Draw")
