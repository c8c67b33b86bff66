"""Pictures of what a network computes: grids of feature maps, strips of units, heat maps.

Pure numpy to uint8 images (no Streamlit), so each view passes one picture per layer to
`st.image` instead of hundreds of small elements, as a `data_url`.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from PIL import Image

GAP = 2  # pixels between the tiles of a grid, in the gap colour
GAP_COLOR = (58, 58, 74)
POSITIVE = np.array([231, 76, 60], np.float32)  # red: ink that speaks for the class
NEGATIVE = np.array([52, 152, 219], np.float32)  # blue: ink that speaks against it


def unit_scale(x: np.ndarray) -> np.ndarray:
    """Values to [0, 1] by the array's own range (a constant array gives zeros)."""
    x = np.asarray(x, np.float32)
    lo, hi = float(x.min()), float(x.max())
    return np.zeros_like(x) if hi - lo < 1e-12 else (x - lo) / (hi - lo)


def _gray_rgb(x01: np.ndarray) -> np.ndarray:
    g = (np.clip(x01, 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.stack([g, g, g], axis=-1)


def diverging_rgb(x: np.ndarray) -> np.ndarray:
    """Signed values as RGB: blue below zero, black at zero, red above, by the largest |x|."""
    x = np.asarray(x, np.float32)
    peak = float(np.abs(x).max()) or 1.0
    v = np.clip(x / peak, -1, 1)[..., None]
    rgb = np.where(v >= 0, v * POSITIVE, -v * NEGATIVE)
    return (rgb + 0.5).astype(np.uint8)


def grid(
    maps: np.ndarray, tile_px: int, columns: int | None = None, signed: bool = False
) -> np.ndarray:
    """(N, H, W) maps as one RGB image of N tiles, each enlarged to `tile_px` with crisp
    pixels and scaled by its own range (or, when `signed`, blue/red around zero)."""
    maps = np.asarray(maps, np.float32)
    n = len(maps)
    cols = columns or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    out = np.empty(
        (rows * tile_px + (rows - 1) * GAP, cols * tile_px + (cols - 1) * GAP, 3), np.uint8
    )
    out[:] = GAP_COLOR
    for i, m in enumerate(maps):
        rgb = diverging_rgb(m) if signed else _gray_rgb(unit_scale(m))
        tile = np.asarray(Image.fromarray(rgb).resize((tile_px, tile_px), Image.Resampling.NEAREST))
        r, c = divmod(i, cols)
        y, x = r * (tile_px + GAP), c * (tile_px + GAP)
        out[y : y + tile_px, x : x + tile_px] = tile
    return out


def strip(values: np.ndarray, cell_px: int = 8, per_row: int = 64) -> np.ndarray:
    """A dense layer's units as a strip of cells (wrapped every `per_row` units), brightness
    by value scaled to the layer's range."""
    v = unit_scale(np.asarray(values, np.float32).reshape(-1))
    rows = math.ceil(len(v) / per_row)
    padded = np.full(rows * per_row, np.nan, np.float32)
    padded[: len(v)] = v
    cells = padded.reshape(rows, per_row)
    rgb = _gray_rgb(np.nan_to_num(cells))
    rgb[np.isnan(cells)] = GAP_COLOR  # past the last unit
    width = min(len(v), per_row) if rows == 1 else per_row
    rgb = rgb[:, :width]
    return np.asarray(
        Image.fromarray(rgb).resize((width * cell_px, rows * cell_px), Image.Resampling.NEAREST)
    )


def overlay(
    digit: np.ndarray, heat: np.ndarray, size: int = 196, signed: bool = False
) -> np.ndarray:
    """An attribution map over a (28, 28) digit in [0, 1]: the digit in dim grey, the map's
    colour (red, or red/blue when `signed`) blended in by its strength. RGB (size, size)."""
    base = _gray_rgb(np.asarray(digit, np.float32) * 0.55).astype(np.float32)
    h = np.asarray(heat, np.float32)
    peak = float(np.abs(h).max()) or 1.0
    v = np.clip(h / peak, -1, 1) if signed else np.clip(h / peak, 0, 1)
    alpha = np.abs(v)[..., None] ** 0.7  # lift the faint parts a little so they show
    colour = np.where(v[..., None] >= 0, POSITIVE, NEGATIVE)
    rgb = (base * (1 - alpha) + colour * alpha + 0.5).astype(np.uint8)
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.NEAREST))


def heat(heat_map: np.ndarray, size: int = 196, signed: bool = False) -> np.ndarray:
    """The map alone: red (or blue/red around zero when `signed`), black where it is zero."""
    h = np.asarray(heat_map, np.float32)
    rgb = diverging_rgb(h) if signed else diverging_rgb(np.clip(h, 0, None))
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.NEAREST))


def data_url(rgb: np.ndarray) -> str:
    """A uint8 image as a PNG `data:` URL, for `st.image`: the picture travels inside the
    page's message instead of as a file the browser fetches from the server's /media/.

    Why (issue 27, item 15): Inside redraws every second for a model still training, and
    Streamlit forgets a run's media files when the next run replaces them; a browser still
    fetching the last second's picture got a 404 ("Image source error ... /media/..." in the
    console) and showed it broken for a moment. A picture inside the message cannot be
    missing. They are small: a 16-tile grid of 56-px filters is a few kB as PNG."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
