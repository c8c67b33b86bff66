"""Any image -> float32 (H, W) grayscale in [0, 1], keeping its polarity: step 1 of
`mnist_core.digits.preprocess`, on its own because it knows PIL's modes and array layouts and
nothing of digits.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from mnist_core.errors import ImageError

__all__ = ["normalise_mode", "to_grayscale"]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601-2, as PIL's "L"


def normalise_mode(image: Image.Image) -> Image.Image:
    """Return `image` in one of the modes L, LA, RGB, RGBA (8-bit) or F (float in [0, 1])."""
    mode = image.mode
    has_key = "transparency" in image.info  # colour-key transparency (P, L, RGB PNGs and GIFs)
    try:
        if mode in ("L", "RGB"):
            return image.convert("RGBA") if has_key else image
        if mode in ("LA", "RGBA"):
            return image
        if mode == "1":
            return image.convert("L")
        if mode == "La":  # premultiplied; PIL converts it to LA only
            return image.convert("LA")
        if mode in ("P", "PA", "RGBa"):
            return image.convert("RGBA") if (has_key or mode != "P") else image.convert("RGB")
        if mode.startswith("I;16"):  # 16-bit grayscale PNG/TIFF: full scale is 65535
            return image.convert("I").convert("F").point(lambda v: v * (1.0 / 65535.0))
        if mode == "I":  # 32-bit ints: 8-bit data if it fits, else 16-bit full scale
            _, hi = image.getextrema()
            scale = 255.0 if hi <= 255 else max(65535.0, float(hi))
            return image.convert("F").point(lambda v: v * (1.0 / scale))
        if mode == "F":
            return image
        return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...
    except (ValueError, OSError) as exc:
        raise ImageError(f"Images of mode {mode!r} cannot be converted to grayscale.") from exc


def _float_from_array(arr: np.ndarray) -> np.ndarray:
    """Scale an array of any numeric dtype to float32 in [0, 1] (same shape).

    bool -> 0/1; uint8 -> /255; uint16 -> /65535; other integers: /255 when they fit in 8 bits,
    else /65535; floats are taken as [0, 1], unless their maximum is above 1, in which case they
    are taken as 0..255 (a common mistake that would otherwise clip everything to white).
    NaN and infinities become 0.
    """
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) * np.float32(1 / 255)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) * np.float32(1 / 65535)
    if np.issubdtype(arr.dtype, np.integer):
        hi = int(arr.max()) if arr.size else 0
        scale = 255.0 if hi <= 255 else max(65535.0, float(hi))
        return np.clip(arr.astype(np.float32) / np.float32(scale), 0.0, 1.0)
    if np.issubdtype(arr.dtype, np.floating):
        out = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if out.size and float(out.max()) > 1.0:
            out = out / np.float32(255.0)
        return np.clip(out, 0.0, 1.0)
    raise ImageError(f"Image arrays of dtype {arr.dtype} are not supported.")


def _composite(luma: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite (H, W) luminance with (H, W) alpha (both in [0, 1]) over a background.

    Transparent pixels are background; what colour that background gets decides whether the
    visible pixels read as ink. The visible (alpha-weighted) pixels are taken to be the ink, so
    the background is the opposite of their mean: white strokes on a transparent canvas go over
    black, black strokes on a transparent PNG go over white (and `preprocess` then inverts it).
    Known limit: an opaque photo of white paper with transparent margins would be composited
    over black; no such input comes from the app.
    """
    weight = float(alpha.sum())
    if weight == 0.0:  # fully transparent: nothing there at all -> black, i.e. empty
        return np.zeros_like(luma)
    ink_level = float((luma * alpha).sum()) / weight
    background = np.float32(0.0 if ink_level >= 0.5 else 1.0)
    return luma * alpha + background * (1.0 - alpha)


def to_grayscale(image: Image.Image | np.ndarray) -> np.ndarray:
    """Convert an image to a float32 (H, W) array in [0, 1], keeping its polarity.

    Accepts PIL images of any common mode (1, L, LA, La, P, PA, RGB, RGBA, RGBa, CMYK, YCbCr,
    I;16 16-bit, I, F, ...) and arrays (H, W), (H, W, 1), (H, W, 2) (gray + alpha), (H, W, 3)
    (RGB) or (H, W, 4) (RGBA) of dtype uint8, uint16, other integers, bool or float (see
    `_float_from_array` for the scaling). Colour becomes luminance (ITU-R 601-2, like PIL's "L").

    Transparency: transparent pixels are background. The drawing canvas gives (H, W, 4) uint8
    RGBA with white strokes and either an opaque black background or alpha 0 where nothing was
    drawn; both come out as white on black. Fully opaque images ignore alpha. See `_composite`
    for how the background colour is chosen.

    Raises:
        ImageError: for arrays of an unsupported shape or dtype, empty arrays or PIL modes that
            cannot be converted.
    """
    if isinstance(image, Image.Image):
        img = normalise_mode(image)
        arr = np.asarray(img)
        # (H, W) for L and F, (H, W, C) for LA, RGB, RGBA.
        channels = _float_from_array(arr) if img.mode == "F" else arr.astype(np.float32) / 255
    else:
        arr = np.asarray(image)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
            raise ImageError(
                f"Image arrays must be (H, W), (H, W, 1), (H, W, 2), (H, W, 3) or (H, W, 4); "
                f"got shape {arr.shape}."
            )
        channels = _float_from_array(arr)
    if channels.shape[0] == 0 or channels.shape[1] == 0:
        raise ImageError("The image has no pixels.")

    if channels.ndim == 2:
        return np.ascontiguousarray(channels, dtype=np.float32)
    n = channels.shape[2]
    luma = channels[:, :, 0] if n <= 2 else channels[:, :, :3] @ _LUMA  # (H, W)
    if n in (2, 4):
        alpha = channels[:, :, n - 1]
        if float(alpha.min()) < 1.0:
            luma = _composite(luma, alpha)
    return np.ascontiguousarray(np.clip(luma, 0.0, 1.0), dtype=np.float32)
