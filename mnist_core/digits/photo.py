"""Photos as people take them: cropping, polarity and local background removal.

`mnist_core.digits.preprocess.preprocess` used to take the paper level from the image border
alone (its median). That fails on photos: a shadow band along one edge makes the border dark,
so the image is taken for light ink on dark paper and the shadow for ink. This module
estimates the paper's brightness *locally* and decides the polarity from the whole image:

1. Polarity (`decide_polarity`): the paper is most of the image, so the median pixel is paper
   (lit or shadowed) and the ink is at one of the extremes: whichever extreme (0.2th or 99.8th
   percentile) is farther from the median is the ink.
2. Local background (`paper_level`): the image is turned so that the paper is bright, shrunk
   to at most 512 px per side (area average: cheap, and averages sensor noise away), lightly
   smoothed, and grey-closed (max filter, then min filter) with a square window of a fifth of
   the shorter side. A closing removes every dark feature narrower than its window (the ink
   strokes) and keeps bright regions larger than it, including the straight edge of a shadow
   and any linear gradient exactly. The estimate is enlarged back to the image's size.
3. Ink (`remove_background`): how much darker than its local paper each pixel is, relative to
   that paper's brightness (light is multiplicative: ink in a shadow is darker but so is the
   paper), so ink reads the same in the shadow and out of it.

`looks_clean` tells clean inputs (the drawing canvas, synthetic images, pure-white scans) from
photos, so that those keep the border-based pipeline and give exactly the results they always
did. `fills_frame` tells a digit cropped to its box (strokes touching the edges: a 16x16
zip-code scan, a photo cropped tightly) from a digit on a page: steps 1 and 2 need paper around
the digit, so such crops keep the border-based pipeline too. Pure numpy/PIL; nothing here imports
streamlit or torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from mnist_core.errors import ImageError

__all__ = [
    "Background",
    "CropError",
    "apply_crop",
    "crop_box",
    "decide_polarity",
    "fills_frame",
    "ink_span",
    "looks_clean",
    "noise_level",
    "paper_level",
    "remove_background",
]

# The background is estimated on a copy at most this many px per side: plenty for lighting,
# which varies slowly, and it keeps the filters cheap; sharp enough that the edge of a hard shadow
# is not smeared over the strokes' width.
_WORK_SIDE = 512
# Closing window as a fraction of the shorter side: wider than the strokes of a digit that
# fills the frame (MNIST strokes are ~12% of the digit's height), narrow enough to follow a
# shadow band or vignetting.
_WINDOW_FRACTION = 0.2
# Percentiles taken as "the extremes" of the image for the polarity: ink covers well over
# 0.2% of any photo of a digit, so these land inside the ink.
_EXTREME_PERCENT = 0.2
# A paper estimate varying less than this (0..1) over the image is flat: lighting is even and
# the border median is as good a paper level as any, so the old pipeline runs unchanged.
FLAT_TOLERANCE = 0.05
# Relative ink is (paper - pixel) / paper; paper darker than this is treated as this bright
# so that noise and JPEG blocks in a dark corner are not blown up into specks of ink (0.2 read
# 80% of the "all" photos of bench.photos, 0.5 90%).
_MIN_PAPER = 0.5
# The ink is box-blurred over 1/_BLUR_DIV of the shorter side before thresholding (see
# `remove_background`).
_BLUR_DIV = 100
# `fills_frame`: the middle 90% of the ink's mass (5% cut at each end, so that specks and a
# shadow's leftovers far from the digit do not count) spanning more than this fraction of the
# image's height or width is a digit that fills the frame. `python -m bench tight --photos 700`:
# the 700 photos of `python -m bench photos` (a digit on a page, under 45% of its height) span
# 0.21-0.52; MNIST test digits cropped to their box span 0.69 or more at 16x16 (1000 of them;
# 17 of all 10,000, 1s stretched into a bar over half the frame, leave the local estimate too
# little ink to measure) and 0.66 at 64x64; those photos cropped to the digit 0.76 or more in
# 99% of them.
FILL_FRACTION = 0.6
_FILL_TAIL = 0.05


class CropError(ImageError, ValueError):
    """A crop box that is not four fractions left < right, top < bottom within 0..1."""


@dataclass(frozen=True)
class Background:
    """What `remove_background` found.

    Attributes:
        ink: (H, W) float32, how much darker than the local paper each pixel is relative to it
            (0 = paper, 1 = black ink on any paper); can be slightly negative (noise).
        inverted: True when the image is dark ink on light paper (so `ink` is the inverse).
        paper: (H, W) float32 in [0, 1], the paper's estimated brightness in the orientation
            where paper is bright (i.e. of the image itself when `inverted`, else of 1 - image).
        flat: True when `paper` varies by less than FLAT_TOLERANCE: even lighting.
    """

    ink: np.ndarray
    inverted: bool
    paper: np.ndarray
    flat: bool


# --------------------------------------------------------------------------------------------
# Crop
# --------------------------------------------------------------------------------------------


def crop_box(crop: Sequence[float], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Pixel box (row0, row1, col0, col1) of a crop given as fractions of an (H, W) image.

    Args:
        crop: (left, top, right, bottom), fractions 0..1 of the width and height.
        shape: (H, W) of the image.

    The box is rounded outwards to whole pixels and holds at least one pixel per side.

    Raises:
        CropError: not four finite numbers, outside 0..1, or left >= right or top >= bottom.
    """
    try:
        values = [float(v) for v in crop]
    except (TypeError, ValueError):
        raise CropError(
            f"The crop must be four numbers (left, top, right, bottom) from 0 to 1; got {crop!r}."
        ) from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise CropError(
            f"The crop must be four numbers (left, top, right, bottom) from 0 to 1; got {crop!r}."
        )
    left, top, right, bottom = values
    if not all(0.0 <= v <= 1.0 for v in values):
        raise CropError(
            f"The crop's sides must be fractions from 0 to 1 of the image; got {crop!r}."
        )
    if left >= right or top >= bottom:
        raise CropError(
            "The crop box is empty: left must be less than right and top less than bottom "
            f"(got left {left:g}, top {top:g}, right {right:g}, bottom {bottom:g}). "
            "Widen the crop."
        )
    h, w = shape
    r0, r1 = math.floor(top * h), math.ceil(bottom * h)
    c0, c1 = math.floor(left * w), math.ceil(right * w)
    r0, c0 = min(r0, h - 1), min(c0, w - 1)
    return r0, max(r1, r0 + 1), c0, max(c1, c0 + 1)


def apply_crop(gray: np.ndarray, crop: Sequence[float]) -> np.ndarray:
    """The part of (H, W) `gray` inside `crop` (left, top, right, bottom fractions): (h, w).

    Raises:
        CropError: see `crop_box`.
    """
    r0, r1, c0, c1 = crop_box(crop, gray.shape)
    return np.ascontiguousarray(gray[r0:r1, c0:c1])


# --------------------------------------------------------------------------------------------
# Clean inputs, polarity
# --------------------------------------------------------------------------------------------


def _mode_fraction(values: np.ndarray) -> tuple[float, float]:
    """The most common exact value of a 1-D array and the fraction of entries equal to it."""
    uniq, counts = np.unique(values, return_counts=True)
    i = int(np.argmax(counts))
    return float(uniq[i]), float(counts[i]) / values.size


def looks_clean(gray: np.ndarray, border: np.ndarray) -> bool:
    """True for inputs that are not photos: their background is one exact value.

    The drawing canvas is exactly black (0.0) with white strokes; synthetic images and clean
    scans saved losslessly are pure white or one grey. No camera sensor gives thousands of
    identical pixels, so: 90% of the border (`border`, the frame's pixels) one exact value, or
    half of the whole (H, W) image `gray` one exact value.
    """
    if border.size and _mode_fraction(border)[1] >= 0.9:
        return True
    step = max(1, gray.size // 250_000)  # a sample is enough to find a majority
    return _mode_fraction(gray.ravel()[::step])[1] >= 0.5


def ink_span(ink: np.ndarray, threshold: float) -> float:
    """How far the ink of (H, W) `ink` (0 = paper, 1 = full ink, as `Background.ink`) spreads:
    the fraction of the image's height or width (the larger) that the middle 90% of its mass
    (pixels above `threshold`) spans; 0.0 without ink. About 0.9 for a digit cropped to its box.
    """
    step = max(1, min(ink.shape) // 256)  # every few rows and columns: plenty for a fraction
    sample = ink[::step, ::step]  # (h, w)
    mass = np.where(sample > threshold, np.minimum(sample, np.float32(1.0)), np.float32(0.0))
    total = float(mass.sum(dtype=np.float64))
    if total <= 0.0:
        return 0.0
    span = 0.0
    for profile in (mass.sum(axis=1, dtype=np.float64), mass.sum(axis=0, dtype=np.float64)):
        cumulative = np.cumsum(profile) / total  # (h,) or (w,), rising to 1.0
        first = int(np.searchsorted(cumulative, _FILL_TAIL))
        last = int(np.searchsorted(cumulative, 1.0 - _FILL_TAIL))
        span = max(span, (last - first + 1) / profile.size)
    return span


def fills_frame(ink: np.ndarray, threshold: float) -> bool:
    """True when the ink of (H, W) `ink` (as `Background.ink`) fills the frame: its `ink_span`
    is over FILL_FRACTION.

    That is a digit cropped to its box, whose strokes touch the edges: the paper shows only
    between the strokes, and `paper_level`'s closing, a fifth of the image wide, is no wider
    than the strokes; it keeps them as paper (a 0's ring comes out as paper, and the 0 reads as
    1, 2 or 7). The lighting over the digit's own box varies little, so the border median is
    the better paper level there.
    """
    return ink_span(ink, threshold) > FILL_FRACTION


def decide_polarity(gray: np.ndarray) -> bool | None:
    """True when (H, W) `gray` is dark ink on light paper, False for light on dark, None when
    the image cannot tell (the median is as far from both extremes: e.g. no ink at all).

    The paper is most of the image, so its median is paper, lit or in shadow (this holds as
    long as a shadow covers less than half of the paper); the ink is at the far extreme.
    """
    step = max(1, gray.size // 1_000_000)
    sample = gray.ravel()[::step]
    lo, mid, hi = np.percentile(sample, [_EXTREME_PERCENT, 50.0, 100.0 - _EXTREME_PERCENT])
    dark_ink, light_ink = float(mid - lo), float(hi - mid)
    if abs(dark_ink - light_ink) < 0.02:
        return None
    return dark_ink > light_ink


# --------------------------------------------------------------------------------------------
# Local background
# --------------------------------------------------------------------------------------------


def _resize(img: np.ndarray, size: tuple[int, int], resample: Image.Resampling) -> np.ndarray:
    """Resize float32 (H, W) to PIL `size` (width, height) -> (height, width) float32."""
    return np.asarray(Image.fromarray(img.astype(np.float32)).resize(size, resample))


def _running(img: np.ndarray, size: int, how: str) -> np.ndarray:
    """Max or min (`how`) of (H, W) over windows of odd `size` along axis 1. Same shape.

    van Herk / Gil-Werman: cut the row into blocks of `size`; a window then spans the end of
    one block and the start of the next, so it is the larger of a backward running max of the
    first and a forward running max of the second: three operations per pixel, whatever the
    window. Beyond the edges the image is continued by odd reflection (2 * edge - mirror
    image), which continues a gradient as a gradient: repeating the edge pixel instead would
    make a closing overestimate the paper along an edge that the light falls towards.
    """
    acc = np.maximum if how == "max" else np.minimum
    h, w = img.shape
    r = size // 2
    padded = np.pad(img, ((0, 0), (r, r)), mode="reflect", reflect_type="odd")  # (H, W + 2r)
    n = padded.shape[1]
    blocks_n = -(-n // size)
    fill = np.float32(-np.inf if how == "max" else np.inf)
    p = np.full((h, blocks_n * size), fill, np.float32)
    p[:, :n] = padded
    blocks = p.reshape(h, blocks_n, size)
    forward = acc.accumulate(blocks, axis=2).reshape(h, -1)
    backward = acc.accumulate(blocks[:, :, ::-1], axis=2)[:, :, ::-1].reshape(h, -1)
    # The window of output j covers padded[j : j + size].
    return acc(backward[:, :w], forward[:, size - 1 : size - 1 + w])


def _rank_filter(img: np.ndarray, size: int, how: str) -> np.ndarray:
    """Separable max or min (`how`) of (H, W) over a size x size square (odd size). Same shape;
    see `_running` for the edges."""
    return _running(_running(img, size, how).T, size, how).T


def _box_blur(img: np.ndarray, size: int) -> np.ndarray:
    """Mean of (H, W) over a size x size square (odd size), edges repeated. Same shape."""
    if size < 3:
        return img
    r = size // 2
    p = np.pad(img.astype(np.float64), r, mode="edge")
    c = np.pad(p.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]
    return (sums / (size * size)).astype(np.float32)


def paper_level(bright_paper: np.ndarray) -> np.ndarray:
    """Estimate the local paper brightness of (H, W) float32 `bright_paper` (paper bright, ink
    dark) -> (H, W) float32 in [0, 1].

    Works on a copy shrunk to at most 512 px per side: smoothed over ~1/100 of the shorter side
    (sensor noise would otherwise bias the max filter up), then grey-closed with a window of a
    fifth of the shorter side, which fills in the dark strokes. What remains of the noise bias
    is the median gap between the closing and the image (most pixels are paper), taken off.
    """
    h, w = bright_paper.shape
    k = min(1.0, _WORK_SIDE / max(h, w))
    size = (max(1, round(w * k)), max(1, round(h * k)))  # PIL (width, height)
    work = (
        _resize(bright_paper, size, Image.Resampling.BOX) if k < 1.0 else bright_paper
    )  # (h', w')
    short = min(work.shape)
    window = max(3, int(short * _WINDOW_FRACTION) | 1)
    smooth = _box_blur(work, max(1, (short // 100) | 1))
    closed = _rank_filter(_rank_filter(smooth, window, "max"), window, "min")  # (h', w')
    closed = closed - np.float32(np.median(closed - work))
    if k < 1.0:
        closed = _resize(closed, (w, h), Image.Resampling.BILINEAR)  # (H, W)
    return np.clip(closed, 0.0, 1.0).astype(np.float32)


def noise_level(gray: np.ndarray) -> float:
    """Standard deviation of pixel noise in (H, W) `gray`, from neighbouring pixels.

    The difference of two horizontal neighbours is noise almost everywhere (edges are few), so
    the median of its magnitude is robust: for Gaussian noise of sigma s it is 0.954 s.
    """
    step = max(1, gray.shape[0] // 200)  # every few rows is plenty
    d = np.abs(np.diff(gray[::step], axis=1))
    return float(np.median(d)) / 0.954 if d.size else 0.0


def remove_background(gray: np.ndarray, inverted: bool) -> Background:
    """Subtract the local paper from (H, W) float32 `gray`, ink dark on light paper when
    `inverted` (e.g. from `decide_polarity`), light on dark otherwise.

    Returns a `Background` whose `ink` is (paper - pixel) / paper in the paper-bright
    orientation: 0 on paper, about the ink's darkness on ink, in light and shadow alike.
    """
    bright_paper = gray if inverted else 1.0 - gray  # (H, W), paper bright
    paper = paper_level(bright_paper)
    # Sensor noise and JPEG blocks are a few px, the strokes of a photographed digit tens of px:
    # a box blur of ~1/100 of the shorter side (7 px at 600 x 800; none under 200 px) takes
    # the noise down by its width and leaves the strokes as they are.
    bright_paper = _box_blur(bright_paper, (min(gray.shape) // _BLUR_DIV) | 1)
    lo, hi = np.percentile(
        paper[:: max(1, paper.shape[0] // 64), :: max(1, paper.shape[1] // 64)], [1, 99]
    )
    ink = (paper - bright_paper) / np.maximum(paper, np.float32(_MIN_PAPER))
    return Background(
        ink=ink.astype(np.float32),
        inverted=inverted,
        paper=paper,
        flat=float(hi - lo) < FLAT_TOLERANCE,
    )
