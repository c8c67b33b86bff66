"""Choosing the digit to look at: a test image, the Draw page's drawing, or an upload."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_core.data.mnist import MnistRaw
from mnist_core.digits.decode import load_image_bytes
from mnist_core.digits.preprocess import preprocess
from mnist_core.errors import MnistError
from ui import keys
from ui.inside import images
from ui.inside.common import Digit
from ui.widgets import digit_image, one_of, prediction_metric

UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
PREVIEW_PX = 140


def _test_image(raw: MnistRaw | None) -> tuple[Digit | None, str]:
    if raw is None:
        return None, "The test images need MNIST: get it on the Train page, or draw a digit."
    n = len(raw.test_images)
    index = st.number_input(
        "Test image #",
        min_value=0,
        max_value=n - 1,
        step=1,
        key=keys.INSIDE_TEST_INDEX,
        help=f"One of the {n:,} MNIST test images (0 to {n - 1:,}). Clicking a point of the "
        "map, or Look inside on the Mistakes page, chooses one too.",
    )
    if index is None:
        return None, "Type the number of a test image (0 to 9,999)."
    i = int(index)
    label = int(raw.test_labels[i])
    image = raw.test_images[i].numpy().astype(np.float32) / 255
    return Digit(image, f"Test image #{i} (a {label})", label=label, test_index=i), ""


def _drawing() -> tuple[Digit | None, str]:
    image = st.session_state.get(keys.INSIDE_DRAWING)
    if image is None:
        return None, (
            "Nothing drawn yet: draw a digit on the Draw page and press **Look inside** there, "
            "or choose a test image."
        )
    return Digit(np.asarray(image, np.float32), "Your drawing from the Draw page"), ""


def _upload() -> tuple[Digit | None, str]:
    upload = st.file_uploader(
        "Upload a photo or scan of one handwritten digit",
        type=UPLOAD_TYPES,
        key=keys.INSIDE_UPLOAD,
        help="Dark ink on light paper or light on dark, up to 10 MB. Crop it to one digit.",
    )
    if upload is None:
        return None, "Upload a photo of one handwritten digit."
    try:
        pre = preprocess(load_image_bytes(upload.getvalue(), name=upload.name))
    except MnistError as e:
        st.error(str(e), icon=":material/broken_image:")
        return None, "Upload another photo, or choose a test image."
    if pre.empty or pre.image is None:
        return None, pre.message or "No ink found in that photo: upload another one."
    return Digit(pre.image, f"Your upload {upload.name}"), ""


def choose_digit(raw: MnistRaw | None) -> Digit | None:
    """The source control and its input; the digit chosen, or None after a prompt saying how
    to choose one."""
    source = one_of(
        "Digit",
        keys.INSIDE_SOURCES,
        keys.INSIDE_SOURCE,
        help="A test image, your last drawing on the Draw page, or a photo.",
    )
    if source == "Drawing":
        digit, prompt = _drawing()
    elif source == "Upload":
        digit, prompt = _upload()
    else:
        digit, prompt = _test_image(raw)
    if digit is None:
        st.info(prompt, icon=":material/touch_app:")
    return digit


def show_digit(digit: Digit, probabilities: np.ndarray) -> None:
    """The digit as the model sees it (28x28) and what the model reads."""
    pred = int(np.argmax(probabilities))
    st.image(
        images.data_url(digit_image(digit.image, PREVIEW_PX)),
        caption=digit.caption,
        width=PREVIEW_PX,
    )
    verdict = ""
    if digit.label is not None:
        verdict = " (right)" if digit.label == pred else f" (wrong: it is a {digit.label})"
    prediction_metric(probabilities, verdict)
