"""The Draw page's pad, a component of our own (`pad.js`, Streamlit's components v2): the
drawing reaches Python as a PNG the moment a stroke ends.

Why not streamlit-drawable-canvas any more (issue 29): its frontend waits 200 ms after each
stroke before it sends the drawing (a fixed debounce in its build, `Bc = 200`), longer than the
whole wait a stroke may cost (<= 150 ms to the prediction). This pad sends at once; the rerun
it starts is the Draw page's fragment alone (pages/draw.py)."""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image, UnidentifiedImageError

from mnist_core.digits.strokes import CANVAS_PX
from mnist_core.errors import MnistError

_PNG_URL = "data:image/png;base64,"
_CSS = """
.mnist-pad { display: block; max-width: 100%; height: auto; touch-action: none;
             cursor: crosshair; border-radius: 0.5rem; }
"""

PAD = st.components.v2.component(
    "mnist_draw_pad",
    js=Path(__file__).with_name("pad.js").read_text(),
    css=_CSS,
)


class BadDrawing(MnistError):
    """What the pad sent could not be read as its picture."""


def decode_drawing(url: str | None) -> np.ndarray | None:
    """The pad's PNG `data:` URL as (CANVAS_PX, CANVAS_PX, 4) uint8 RGBA; None for no drawing."""
    if not url:
        return None
    if not url.startswith(_PNG_URL):
        raise BadDrawing("The drawing did not arrive as a picture: clear the pad and draw again.")
    try:
        with Image.open(io.BytesIO(base64.b64decode(url[len(_PNG_URL) :], validate=True))) as im:
            image = np.asarray(im.convert("RGBA"))
    except (binascii.Error, UnidentifiedImageError, OSError) as e:
        raise BadDrawing("The drawing arrived damaged: clear the pad and draw again.") from e
    if image.shape != (CANVAS_PX, CANVAS_PX, 4):
        raise BadDrawing(
            f"The drawing arrived as {image.shape[1]}x{image.shape[0]} pixels, not "
            f"{CANVAS_PX}x{CANVAS_PX}: clear the pad and draw again."
        )
    return image


def draw_pad(pen: int, key: str) -> np.ndarray | None:
    """Mount the pad (a new `key`: a new, empty pad); its drawing as `decode_drawing` gives it."""
    result = PAD(
        key=key,
        data={"pen": int(pen), "size": CANVAS_PX},
        default={"drawing": None},
        on_drawing_change=lambda: None,
        width=CANVAS_PX,
        height=CANVAS_PX,
    )
    return decode_drawing(result.drawing)
