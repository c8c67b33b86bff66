"""Turn a drawing, an upload or a photo into an MNIST-style 28x28 digit.

MNIST digits were made like this: the ink was scaled to fit a 20x20 box keeping its aspect ratio
(anti-aliased, hence the grey edges), then placed in a 28x28 field so that the intensity-weighted
centre of mass sits at pixel (14, 14) (row, column; pixel indices, measured on the real test set:
13.99, 14.01). Ink is bright (1.0) on a dark (0.0) background. `preprocess` reproduces that for
any input, so that a model trained on MNIST sees what it was trained on:

1. `to_grayscale` (in `mnist_core.digits.grayscale`): any PIL mode or array layout -> float32
   (H, W) in [0, 1]; transparent pixels are background (see `to_grayscale` for how their colour
   is chosen).
   An optional `crop` (fractions of the image) is applied next.
2. Polarity: if the border is mostly bright, the image is dark ink on light paper -> invert.
   Photos (`mnist_core.digits.photo`): the polarity comes from the whole image, and the paper
   level is estimated locally (shadows, gradients, vignetting) and divided out; clean inputs
   (the canvas, synthetic images, evenly lit scans) and digits that fill the frame (cropped to
   their box) keep the border rule, bit for bit.
3. Background removal and contrast stretch: the border median is the paper level; differences up
   to `threshold` above it are noise, and so are isolated specks; the rest is stretched so that
   the ink reaches 1.0 (faint pencil on grey paper works).
4. Crop to the bounding box of the ink.
5. Thicken strokes that would be thinner than MNIST's (a pen of width 8 on a 280x280 canvas is
   under 1 px after scaling by 1/10; MNIST strokes are about 2-3 px): grey dilation, see below.
6. Scale so that the longer side is 20 px, area-averaged (anti-aliased).
7. Place in 28x28 with the centre of mass at (14, 14) to a fraction of a pixel (the sub-pixel
   offset is part of the resampling, so it adds no blur), clipped so the whole digit stays inside.

Nothing here imports streamlit; the UI shows `PreprocessResult.steps`. `predict` (the model's
probabilities for the result) lives in `mnist_core.models.inference`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from mnist_core.digits.grayscale import normalise_mode, to_grayscale
from mnist_core.digits.photo import (
    apply_crop,
    crop_box,
    decide_polarity,
    fills_frame,
    looks_clean,
    noise_level,
    remove_background,
)
from mnist_core.models.common import IMAGE_SIZE

__all__ = [
    "BACKGROUNDS",
    "BOX_SIZE",
    "EMPTY_MESSAGE",
    "MIN_STROKE_PX",
    "PreprocessResult",
    "preprocess",
    "stroke_width",
]

BOX_SIZE = 20  # the digit's longer side in MNIST
CENTRE = 14.0  # target centre of mass (row and column, pixel indices), as in MNIST
# Strokes thinner than this at 20x20 scale are thickened to it. MNIST test digits, enlarged x10
# and measured with `stroke_width` at that resolution: 5th percentile 1.7 px, median 2.3 px,
# 95th 3.6 px. Thin pen strokes become median MNIST strokes; real MNIST digits thinner than the
# median are widened by at most ~0.3 px, which keeps them close to the originals.
MIN_STROKE_PX = 2.3
EMPTY_MESSAGE = "Nothing drawn yet."
# How `preprocess` finds the paper: "auto" (local for photos with uneven light, else the
# border), "border" (the border median, as before photos were handled: kept for comparison) or
# "local" (always the local estimate of `mnist_core.digits.photo`).
BACKGROUNDS = ("auto", "border", "local")
# Images above this many pixels are box-averaged down first: it bounds memory and time (a 25 MP
# photo would otherwise need several 100 MB float arrays) and loses nothing at 20x20.
_WORK_MAX_PIXELS = 4_000_000
# A cropped digit over twice this many pixels per output pixel (i.e. over 320 px) is reduced by
# block max (which keeps thin strokes) to 8-16 pixels per output pixel before stroke thickening,
# so the dilation stays cheap.
_WORK_PX_PER_OUTPUT = 8
_DISPLAY_MAX_SIDE = 560  # step images larger than this are shrunk for display
# Ink covering fewer pixels than this fraction of the image (and at least 3) counts as specks.
_MIN_INK_FRACTION = 1e-4


@dataclass(frozen=True)
class PreprocessResult:
    """What `preprocess` made of an image.

    Attributes:
        image: (28, 28) float32 in [0, 1], ink bright on black, MNIST-style; None when empty.
        steps: ordered (caption, uint8 grayscale (H, W)) pairs for display, e.g. "grayscale",
            "cropped" (only with a crop), "inverted" (only when inverted), "background removed"
            (only for photos with uneven light), "cropped to ink", "strokes thickened" (only when
            thickened), "scaled to 20x20", "centred by mass 28x28". Large steps are shrunk to at
            most 560 px per side.
        empty: True when no ink was found (blank canvas, all-white or all-black upload, specks).
        inverted: True when the image was dark ink on light paper and got inverted.
        message: "" or, when empty, a sentence for the user starting with "Nothing drawn yet.".
    """

    image: np.ndarray | None
    steps: tuple[tuple[str, np.ndarray], ...]
    empty: bool
    inverted: bool
    message: str


# --------------------------------------------------------------------------------------------
# Helpers on (H, W) float32 arrays
# --------------------------------------------------------------------------------------------


def _to_uint8(img: np.ndarray) -> np.ndarray:
    """(H, W) float in [0, 1] -> uint8 (H, W) for display, shrunk if larger than 560 px."""
    out = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    h, w = out.shape
    if max(h, w) > _DISPLAY_MAX_SIDE:
        k = _DISPLAY_MAX_SIDE / max(h, w)
        size = (max(1, round(w * k)), max(1, round(h * k)))  # PIL sizes are (width, height)
        out = np.asarray(Image.fromarray(out).resize(size, Image.Resampling.BOX))
    return out


def _block_reduce(img: np.ndarray, factor: int, how: str) -> np.ndarray:
    """Reduce (H, W) by an integer factor with block "mean" or "max"; zero-pads the far edges.

    A side shorter than `factor` is one block of its own length (same result as one padded
    block): padding it up to `factor` would make a 1 x 1,000,000 image a 1,000,000 x 6,250
    array (25 GB).
    """
    h, w = img.shape
    fy, fx = min(factor, h), min(factor, w)
    ph, pw = -h % fy, -w % fx
    padded = np.pad(img, ((0, ph), (0, pw))) if ph or pw else img
    blocks = padded.reshape(padded.shape[0] // fy, fy, padded.shape[1] // fx, fx)
    if how == "max":
        return blocks.max(axis=(1, 3))
    if ph or pw:  # mean over real pixels only, so the padded edge is not darkened
        counts = np.pad(np.ones_like(img), ((0, ph), (0, pw)))
        counts = counts.reshape(blocks.shape).sum(axis=(1, 3))
        return blocks.sum(axis=(1, 3)) / counts
    return blocks.mean(axis=(1, 3))


def _box_mean(img: np.ndarray, size: int) -> np.ndarray:
    """Mean of (H, W) over a size x size window (odd size) around each pixel; zeros outside."""
    r = size // 2
    # Integral image with a zero row/column in front: any window sum is 4 lookups.
    c = np.pad(np.pad(img.astype(np.float64), r).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]  # (H, W)
    return (sums / (size * size)).astype(np.float32)


def border_pixels(img: np.ndarray) -> np.ndarray:
    """The pixels of a frame around (H, W): 1 px, or 2% of the shorter side for large images."""
    h, w = img.shape
    b = max(1, min(h, w) // 50)
    return np.concatenate(
        [img[:b].ravel(), img[-b:].ravel(), img[b:-b, :b].ravel(), img[b:-b, -b:].ravel()]
    )


def stroke_width(ink: np.ndarray) -> float:
    """Estimate the mean stroke width (px) of (H, W) ink in [0, 1].

    A stroke of width w and length L has area w*L and perimeter about 2*L, so w ~ 2*area /
    perimeter. The perimeter is the total variation (sum of gradient magnitudes), which, unlike
    counting pixel edges, does not depend on the stroke's direction (lines drawn at 0-180 degrees
    measure within about 10% of their width).
    """
    p = np.pad(ink, 1)
    gx = (p[1:-1, 2:] - p[1:-1, :-2]) * 0.5
    gy = (p[2:, 1:-1] - p[:-2, 1:-1]) * 0.5
    perimeter = float(np.hypot(gx, gy).sum())
    return 2.0 * float(ink.sum()) / perimeter if perimeter > 0 else 0.0


def _dilate_disk(img: np.ndarray, radius: float) -> np.ndarray:
    """Grey dilation (local max) of (H, W) by a disk of `radius` px; output grows by the radius.

    The disk is split into horizontal runs: row dy of the disk spans |dx| <= sqrt(r^2 - dy^2).
    Horizontal maxima over [-k, k] are built incrementally for k = 0..r, then each disk row is a
    vertical shift of one of them: about 4*r array operations instead of pi*r^2.
    """
    r = math.floor(radius)
    if r < 1:
        return img
    p = np.pad(img, r)  # room for the strokes to grow
    hmax = [p]
    for k in range(1, r + 1):
        prev = hmax[-1]
        cur = prev.copy()
        cur[:, k:] = np.maximum(cur[:, k:], p[:, :-k])
        cur[:, :-k] = np.maximum(cur[:, :-k], p[:, k:])
        hmax.append(cur)
    out = hmax[r].copy()  # dy = 0
    for dy in range(1, r + 1):
        run = hmax[math.floor(math.sqrt(max(radius * radius - dy * dy, 0.0)))]
        out[dy:] = np.maximum(out[dy:], run[:-dy])
        out[:-dy] = np.maximum(out[:-dy], run[dy:])
    return out


def _centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted (row, column) centre of (H, W), in pixel indices."""
    total = float(img.sum())
    rows = np.arange(img.shape[0], dtype=np.float64)
    cols = np.arange(img.shape[1], dtype=np.float64)
    return (
        float(img.sum(axis=1) @ rows) / total,
        float(img.sum(axis=0) @ cols) / total,
    )


# --------------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------------


def _empty(
    steps: list[tuple[str, np.ndarray]], inverted: bool, detail: str = ""
) -> PreprocessResult:
    message = f"{EMPTY_MESSAGE} {detail}".strip()
    return PreprocessResult(None, tuple(steps), empty=True, inverted=inverted, message=message)


def preprocess(
    image: Image.Image | np.ndarray,
    *,
    threshold: float = 0.1,
    crop: tuple[float, float, float, float] | None = None,
    background: str = "auto",
) -> PreprocessResult:
    """Turn a drawing, upload or photo into an MNIST-style (28, 28) float32 digit.

    Args:
        image: a PIL image or an array accepted by `to_grayscale` (e.g. the canvas's (H, W, 4)
            uint8 RGBA, white strokes on black or on transparent).
        threshold: differences from the background level up to this (0..1 of full scale) are
            noise and dropped; raise it for noisy photos, lower it for very faint pencil.
        crop: (left, top, right, bottom) as fractions 0..1 of the image, applied first (shown
            as the step "cropped"); None keeps the whole image.
        background: one of BACKGROUNDS. "auto": photos whose paper is unevenly lit (shadows,
            gradients, vignetting) get the local paper estimate of `mnist_core.digits.photo` (step
            "background removed"); clean and evenly lit inputs, and digits that fill the frame
            (`mnist_core.digits.photo.fills_frame`: a scan or photo cropped to the digit's box),
            the border median, exactly as before. "border" forces the border median, "local"
            the local estimate.

    Returns:
        A `PreprocessResult`. Blank inputs (all one colour, fully transparent, only noise or a
        few specks) give `empty=True`, `image=None` and a message; they never raise.

    Stroke thickening: the ink's stroke width is estimated (`stroke_width`) and, if it would be
    under `MIN_STROKE_PX` (2.3 px, MNIST's median) after scaling to 20 px, the ink is
    grey-dilated with a disk just wide enough to reach it. Thicker strokes are left alone, so a
    280x280 canvas with an 8-25 px pen gets MNIST's 2-3 px strokes, and real MNIST digits drawn
    large change little.

    Raises:
        ImageError: the image cannot be converted (see `to_grayscale`).
        CropError (an ImageError and a ValueError): `crop` is not a box inside the image.
        ValueError: `threshold` is outside [0, 1), or `background` is not one of BACKGROUNDS.
    """
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {', '.join(BACKGROUNDS)}; got {background!r}")
    if crop is not None:
        crop_box(crop, (1, 1))  # a bad crop fails before any work
    if isinstance(image, Image.Image) and image.width * image.height > _WORK_MAX_PIXELS:
        # Shrink big PIL images before the float conversion (area average, in C, low memory).
        factor = math.ceil(math.sqrt(image.width * image.height / _WORK_MAX_PIXELS))
        image = normalise_mode(image).reduce(factor)
    gray = to_grayscale(image)  # (H, W) float32 in [0, 1]
    if gray.size > _WORK_MAX_PIXELS:  # big arrays
        gray = _block_reduce(gray, math.ceil(math.sqrt(gray.size / _WORK_MAX_PIXELS)), "mean")
    steps: list[tuple[str, np.ndarray]] = [("grayscale", _to_uint8(gray))]
    if crop is not None:
        gray = apply_crop(gray, crop)  # (h, w)
        steps.append(("cropped", _to_uint8(gray)))

    # Photos: the paper's brightness estimated locally (mnist_core.digits.photo). Clean inputs (the
    # canvas: exactly black) and evenly lit paper skip it and take the border route below.
    local = None
    if background == "local" or (
        background == "auto" and not looks_clean(gray, border_pixels(gray))
    ):
        polarity = decide_polarity(gray)
        if polarity is None:  # no ink to tell by: the border decides, as below
            polarity = float(np.median(border_pixels(gray))) > 0.5
        local = remove_background(gray, polarity)
        # Even light and little noise: the border median is as good, and keeps old results.
        # A digit that fills the frame (cropped to its box: a 16x16 zip-code scan, a photo
        # cropped tightly) has no paper around it for the local estimate, which then takes
        # thick strokes for paper (a 0's ring: the 0 read as 1, 2 or 7): the border median
        # reads it. `python -m bench tight` (1000 MNIST test digits cropped to their box,
        # 16x16, half dark on light), LeNet-5: auto 78.8% before, 96.0% now, as border; 280
        # photos cropped to the digit: auto 89.3% before, 96.1% now, as border.
        if background == "auto" and (
            (local.flat and noise_level(gray) < threshold / 4) or fills_frame(local.ink, threshold)
        ):
            local = None

    if local is not None:
        inverted = local.inverted
        if inverted:
            steps.append(("inverted", _to_uint8(1.0 - gray)))
        # `diff`: how much darker than its local paper each pixel is, relative to that paper.
        diff = local.ink  # (H, W)
        steps.append(("background removed", _to_uint8(diff)))
    else:
        # Polarity: the border is (almost always) paper. Bright paper -> dark ink -> invert.
        inverted = float(np.median(border_pixels(gray))) > 0.5
        if inverted:
            gray = 1.0 - gray
            steps.append(("inverted", _to_uint8(gray)))
        # Background removal. `diff` is how much brighter than the paper each pixel is; up to
        # `threshold` is noise (paper texture, JPEG artefacts, uneven scan).
        paper = float(np.median(border_pixels(gray)))
        diff = gray - np.float32(paper)  # (H, W)
    above = diff > threshold  # (H, W) bool
    if not above.any():
        return _empty(steps, inverted)
    # Noise that beats the threshold does so a pixel or two at a time, strokes are wider: keep
    # pixels whose window (3x3 up to ~1200 px images, wider for larger ones) is at least 30%
    # above the threshold. A lone speck fills 1/9 of a 3x3 window, two touching specks 2/9, a
    # 1 px line 3/9. Without this one speck far from the digit would set the crop, and the scale.
    window = max(3, 2 * (min(gray.shape) // 600) + 1)
    solid = above & (_box_mean(above.astype(np.float32), window) > 0.3)  # (H, W) bool
    min_pixels = max(3, math.ceil(_MIN_INK_FRACTION * gray.size))
    if int(solid.sum()) < min_pixels:
        return _empty(steps, inverted, "Only a few specks of ink were found.")
    # Contrast stretch: the 99th percentile of the ink becomes 1.0, so faint pencil on grey
    # paper reaches full ink like a pen does.
    top = float(np.percentile(diff[solid], 99))
    ink = np.where(solid, (diff - threshold) / np.float32(top - threshold), np.float32(0.0))
    ink = np.clip(ink, 0.0, 1.0).astype(np.float32)  # (H, W)

    # Crop to the bounding box of the ink.
    rows = np.flatnonzero(solid.any(axis=1))
    cols = np.flatnonzero(solid.any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # (h, w)
    steps.append(("cropped to ink", _to_uint8(ink)))

    # Very large crops: block max down to ~8-16 px per output pixel. Max (not mean) so that thin
    # strokes keep their full intensity; it widens them by under 1/8 output px.
    factor = max(ink.shape) // (BOX_SIZE * _WORK_PX_PER_OUTPUT)
    if factor >= 2:
        ink = _block_reduce(ink, factor, "max")

    # Thicken strokes that would end up thinner than MNIST's.
    # Dilating by r widens the strokes by 2r but also the box by 2r, so solve
    # (width + 2r) * 20 / (side + 2r) = MIN_STROKE_PX for r (working px).
    side = max(ink.shape)
    width = stroke_width(ink)
    if width * BOX_SIZE / side < MIN_STROKE_PX:
        radius = (MIN_STROKE_PX * side - BOX_SIZE * width) / (2.0 * (BOX_SIZE - MIN_STROKE_PX))
        if radius >= 1.0:
            ink = _dilate_disk(ink, radius)
            steps.append(("strokes thickened", _to_uint8(ink)))

    # Scale so the longer side is 20 px, keeping the aspect ratio. Shrinking uses BOX (each
    # output pixel is the mean of the area it covers, i.e. anti-aliased like MNIST's grey edges);
    # enlarging a tiny input uses BILINEAR (BOX would be nearest-neighbour there).
    h, w = ink.shape
    k = BOX_SIZE / max(h, w)
    size = (max(1, min(BOX_SIZE, round(w * k))), max(1, min(BOX_SIZE, round(h * k))))  # (W, H)
    resample = Image.Resampling.BOX if k < 1 else Image.Resampling.BILINEAR
    small = np.asarray(Image.fromarray(ink.astype(np.float32)).resize(size, resample))
    small = np.clip(small, 0.0, 1.0).astype(np.float32)  # (h', w'), max(h', w') == 20
    steps.append(("scaled to 20x20", _to_uint8(small)))
    if float(small.sum()) <= 0.0:  # cannot happen for real ink; guards the division below
        return _empty(steps, inverted)

    # Place in 28x28 so the centre of mass lands on (14, 14). The offset is clipped so that the
    # whole box stays inside the field (a lopsided digit keeps its shape rather than its centre).
    cy, cx = _centre_of_mass(small)
    sh, sw = small.shape
    oy = min(max(CENTRE - cy, 0.0), float(IMAGE_SIZE - sh))  # top-left corner, may be fractional
    ox = min(max(CENTRE - cx, 0.0), float(IMAGE_SIZE - sw))
    # Render the field straight from the ink with the sub-pixel offset built into the resampling
    # (PIL's `box` is the source rectangle, in fractional pixels) instead of shifting `small`
    # afterwards: a bilinear shift would blur the digit by up to half a pixel. The ink is
    # zero-padded so that the source rectangle of the whole 28x28 field lies inside it.
    ky, kx = sh / h, sw / w  # output px per working px, per axis (the sizes were rounded)
    pad = math.ceil(IMAGE_SIZE / min(ky, kx)) + 1
    source = Image.fromarray(np.pad(ink.astype(np.float32), pad))
    box = (pad - ox / kx, pad - oy / ky, pad + (IMAGE_SIZE - ox) / kx, pad + (IMAGE_SIZE - oy) / ky)
    field = np.asarray(source.resize((IMAGE_SIZE, IMAGE_SIZE), resample, box=box))
    out = np.clip(field, 0.0, 1.0).astype(np.float32)  # (28, 28)
    steps.append(("centred by mass 28x28", _to_uint8(out)))
    return PreprocessResult(out, tuple(steps), empty=False, inverted=inverted, message="")
