"""The crop box of an uploaded photo on the Draw page.

Two range sliders (percent of the width and of the height) under a preview of the upload with
the box drawn on it (PIL: the outside dimmed, the box outlined), and a "Reset crop" button. A
different upload starts with the whole image. `crop_controls` returns the box as
`mnist_core.digits.preprocess.preprocess` takes it: (left, top, right, bottom) fractions, or
None for the whole image. The pure helpers (`crop_fractions`, `crop_preview`) need no Streamlit run.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw

from mnist_core.digits.grayscale import to_grayscale
from ui import keys

__all__ = ["FULL", "PREVIEW_SIDE", "crop_controls", "crop_fractions", "crop_preview", "reset_crop"]

FULL = (0, 100)  # a slider range (percent) that keeps the whole side
PREVIEW_SIDE = 360  # the preview's longer side, px
_BOX_COLOUR = (255, 64, 64)
_DIM = 0.35  # brightness left outside the box


def crop_fractions(
    horizontal: tuple[int, int], vertical: tuple[int, int]
) -> tuple[float, float, float, float] | None:
    """(left, top, right, bottom) fractions from the sliders' percent ranges; None when they
    keep the whole image. A range of zero width (both handles on one value) is widened to 1%,
    so the box is never empty."""

    def side(values: tuple[int, int]) -> tuple[float, float]:
        lo, hi = sorted(min(max(int(v), 0), 100) for v in values)
        if hi == lo:
            lo, hi = (lo, lo + 1) if lo < 100 else (99, 100)
        return lo / 100.0, hi / 100.0

    (left, right), (top, bottom) = side(horizontal), side(vertical)
    if (left, top, right, bottom) == (0.0, 0.0, 1.0, 1.0):
        return None
    return left, top, right, bottom


def crop_preview(
    image: Image.Image, crop: tuple[float, float, float, float] | None, *, side: int = PREVIEW_SIDE
) -> Image.Image:
    """An RGB copy of `image`, at most `side` px per side, with the crop box outlined and the
    outside dimmed (the image unchanged when `crop` is None)."""
    if image.mode not in ("RGB", "L"):  # transparency, 16-bit, float, CMYK, ...: as read
        gray = to_grayscale(image)  # (H, W) float32 in [0, 1]
        image = Image.fromarray((gray * 255.0 + 0.5).astype(np.uint8), "L")
    preview = image.convert("RGB")
    preview.thumbnail((side, side))
    if crop is None:
        return preview
    w, h = preview.size
    left, top, right, bottom = crop
    box = (
        round(left * w),
        round(top * h),
        max(round(right * w) - 1, 0),
        max(round(bottom * h) - 1, 0),
    )
    arr = np.asarray(preview, dtype=np.float32) * _DIM  # (h, w, 3), dimmed everywhere
    arr[box[1] : box[3] + 1, box[0] : box[2] + 1] /= _DIM  # ... except inside the box
    out = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")
    ImageDraw.Draw(out).rectangle(box, outline=_BOX_COLOUR, width=max(2, side // 150))
    return out


def reset_crop() -> None:
    """Button callback: the whole image again."""
    st.session_state[keys.DRAW_CROP_X] = FULL
    st.session_state[keys.DRAW_CROP_Y] = FULL


def crop_controls(image: Image.Image, file_id: str) -> tuple[float, float, float, float] | None:
    """The preview with its crop box, the two sliders and "Reset crop"; returns the crop
    (None: the whole image). `file_id` tells uploads apart: a new one starts uncropped."""
    ss = st.session_state
    if ss[keys.DRAW_CROP_FILE] != file_id:
        ss[keys.DRAW_CROP_FILE] = file_id
        reset_crop()  # before the sliders exist in this run, so they take the new value
    # The sliders' values of this run are in the session state already: draw the box first.
    crop = crop_fractions(ss[keys.DRAW_CROP_X], ss[keys.DRAW_CROP_Y])
    st.image(
        crop_preview(image, crop),
        caption="Your upload: only the part in the box is read." if crop else "Your upload.",
    )
    st.slider(
        "Crop horizontally",
        min_value=0,
        max_value=100,
        step=1,
        format="%d%%",
        key=keys.DRAW_CROP_X,
        persist_state="session",
        help="Left and right edges of the box, in percent of the width.",
    )
    st.slider(
        "Crop vertically",
        min_value=0,
        max_value=100,
        step=1,
        format="%d%%",
        key=keys.DRAW_CROP_Y,
        persist_state="session",
        help="Top and bottom edges of the box, in percent of the height (0% is the top).",
    )
    st.button(
        "Reset crop",
        key="draw_crop_reset",
        icon=":material/crop_free:",
        on_click=reset_crop,
        disabled=crop is None,
    )
    return crop_fractions(ss[keys.DRAW_CROP_X], ss[keys.DRAW_CROP_Y])
