"""Attribution maps: which pixels make the model read the digit as a class."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_core.explain import METHODS, attribute
from ui import keys
from ui.inside import images
from ui.inside.common import Digit, Subject
from ui.widgets import digit_image

MAP_PX = 196
TITLES = {
    "saliency": "Saliency",
    "integrated_gradients": "Integrated gradients",
    "occlusion": "Occlusion",
    "gradcam": "Grad-CAM",
}
EXPLAINED = {
    "saliency": "How much the class's score changes when a pixel changes (gradient size).",
    "integrated_gradients": "Each pixel's share of the class's score, summed along the way "
    "from a blank image to this digit: red pixels add to the score, blue ones take away.",
    "occlusion": "How much the class's score drops when a 4×4 patch around the pixel is "
    "blacked out: red where covering hurts the class, blue where it helps.",
    "gradcam": "Where the last convolution's feature maps that matter for the class respond, "
    "blown up from their coarse grid to 28×28.",
}
SIGNED = frozenset({"integrated_gradients", "occlusion"})


def gradcam_note(layers: tuple) -> str:
    """Why Grad-CAM's map is blobby and can light up empty paper: the grid it works on (issue
    27, item 18: on LeNet-5 it lit up empty space with no word on why)."""
    convs = [info for info in layers if info.kind == "Conv2d" and len(info.shape) == 3]
    if not convs:
        return ""
    _, h, w = convs[-1].shape
    cell = max(1, round(28 / max(h, 1)))
    return (
        f"Grad-CAM works on the last convolution's {h}×{w} grid: each cell stands for about "
        f"{cell}×{cell} pixels of the input, so it marks regions, not strokes, and can light up "
        "empty paper beside them: where ink is missing also tells digits apart (a 0 from an 8)."
    )


def _methods(subject: Subject, layers: tuple) -> list[str]:
    """Grad-CAM needs a convolution: offered only to models that have one."""
    has_conv = any(info.kind == "Conv2d" for info in layers)
    return [m for m in METHODS if m != "gradcam" or has_conv]


# The class chooser's "the prediction" option. Not None: a selectbox whose value is None shows
# its placeholder instead of the option's label.
PREDICTED = -1


def _target_label(target: int, predicted: int) -> str:
    if target == PREDICTED:
        return f"The prediction ({predicted})"
    return f"Why a {target}?" if target == predicted else f"Why not a {target}?"


def render(subject: Subject, digit: Digit, layers: tuple, probabilities: np.ndarray) -> None:
    """Method and class choosers, then the input, the map and the map over the input."""
    ss = st.session_state
    methods = _methods(subject, layers)
    if ss.get(keys.INSIDE_METHOD) not in methods:
        ss[keys.INSIDE_METHOD] = methods[0]
    predicted = int(np.argmax(probabilities))
    cols = st.columns(2)
    method = cols[0].selectbox("Method", methods, format_func=TITLES.get, key=keys.INSIDE_METHOD)
    targets = [PREDICTED, *range(10)]
    if ss.get(keys.INSIDE_TARGET) not in targets:
        ss[keys.INSIDE_TARGET] = PREDICTED
    target = cols[1].selectbox(
        "Class to explain",
        targets,
        format_func=lambda t: _target_label(t, predicted),
        key=keys.INSIDE_TARGET,
        help="The model's prediction, or any digit: what in this image speaks for or against it.",
    )
    with st.spinner(f"Computing {TITLES[method]} …"), subject.lock:
        a = attribute(subject.model, digit.image, method, None if target == PREDICTED else target)
    signed = method in SIGNED
    row = st.columns(3)
    row[0].image(images.data_url(digit_image(digit.image, MAP_PX)), caption="The input (28×28)")
    row[1].image(
        images.data_url(images.heat(a.map, MAP_PX, signed=signed)),
        caption=f"{TITLES[method]} for {a.target}",
    )
    row[2].image(
        images.data_url(images.overlay(digit.image, a.map, MAP_PX, signed=signed)),
        caption="Over the input",
    )
    st.caption(
        f"{EXPLAINED[method]} Explaining class {a.target}, which the model gives "
        f"{float(a.probabilities[a.target]):.1%}."
    )
    if method == "gradcam":
        st.caption(gradcam_note(layers))
