"""The Draw page's input: the canvas to draw on, or an uploaded photo with its crop box."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_core.digits.decode import load_image_bytes
from mnist_core.errors import MnistError
from ui import keys
from ui.draw.crop import crop_controls
from ui.draw.pad import draw_pad

UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]


def canvas_image() -> np.ndarray | None:
    """The drawing as (280, 280, 4) uint8 RGBA, or None when nothing is drawn."""
    ss = st.session_state
    st.slider("Pen width", min_value=6, max_value=40, key=keys.DRAW_STROKE, persist_state="session")
    image = draw_pad(int(ss[keys.DRAW_STROKE]), key=f"draw_canvas_{ss[keys.DRAW_CANVAS_N]}")
    st.button(
        "Clear",
        key="draw_clear",
        icon=":material/ink_eraser:",
        on_click=lambda: ss.update({keys.DRAW_CANVAS_N: ss[keys.DRAW_CANVAS_N] + 1}),
    )
    return image


def uploaded_image() -> tuple[object | None, tuple[float, float, float, float] | None]:
    """The uploaded image (PIL) and its crop box (`ui.draw.crop`; None: the whole image); (None,
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
