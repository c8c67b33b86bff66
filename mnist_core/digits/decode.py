"""Decode uploaded image bytes safely.

Uploads are untrusted: they may be empty, huge, not images, truncated, or "decompression bombs"
(a small file whose header claims billions of pixels). `load_image_bytes` checks the byte size,
then the pixel count from the header *before* decoding, and turns every decoding failure into an
`ImageError` whose message can be shown to the user as it is.
"""

from __future__ import annotations

import contextlib
import io
import struct
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from mnist_core.errors import ImageError

__all__ = ["MAX_PIXELS", "MAX_UPLOAD_BYTES", "load_image_bytes"]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 25_000_000  # refuse decompression bombs before decoding

# What PIL's decoders raise on corrupt or truncated data (OSError: "image file is truncated",
# SyntaxError: broken PNG chunks, struct.error / IndexError / EOFError from some plugins, ...).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
)
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


def _too_many_pixels(name: str, width: int, height: int) -> ImageError:
    return ImageError(
        f"{name} is {width}x{height} pixels; images of at most {MAX_PIXELS // 1_000_000} "
        "megapixels are accepted. Please upload a smaller image."
    )


def _is_fully_transparent(img: Image.Image) -> bool:
    """True when the image has transparency and every pixel's alpha is 0."""
    if img.mode not in _ALPHA_MODES and "transparency" not in img.info:
        return False
    try:
        alpha = img.convert("RGBA").getchannel("A") if img.mode != "LA" else img.getchannel("A")
    except (ValueError, OSError):  # a mode PIL cannot turn into RGBA: treat as opaque
        return False
    return alpha.getextrema() == (0, 0)


def load_image_bytes(data: bytes, *, name: str = "upload") -> Image.Image:
    """Decode uploaded bytes into a fully loaded PIL image.

    Args:
        data: the file's bytes.
        name: how to call the file in error messages (e.g. the uploaded file name).

    Returns:
        A loaded image with no open file handle, in the file's own mode (L, RGB, RGBA, P, LA,
        I;16, CMYK, ...; `grayscale.to_grayscale` converts them all). JPEG/TIFF EXIF orientation
        is applied, so a phone photo is upright. Animated images (GIF, APNG, WebP with several
        frames) give their first frame.

    Raises:
        ImageError: the bytes are empty, larger than `MAX_UPLOAD_BYTES`, not an image, truncated
            or corrupt, larger than `MAX_PIXELS` pixels, or the image is fully transparent.
    """
    if not data:
        raise ImageError(f"{name} is empty (0 bytes). Please upload an image file.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(
            f"{name} is {len(data) / 2**20:.1f} MB; uploads of at most "
            f"{MAX_UPLOAD_BYTES // 2**20} MB are accepted."
        )
    with warnings.catch_warnings():
        # PIL warns (and above twice its own limit raises) for huge images: make both errors.
        # catch_warnings is process-wide, not per thread; that is harmless here because the
        # explicit MAX_PIXELS check below is stricter than PIL's limit and does not rely on it.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:  # reads the header only
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise _too_many_pixels(name, width, height)
                if width == 0 or height == 0:
                    raise ImageError(f"{name} has no pixels ({width}x{height}).")
                img.load()  # decodes the first frame; an animation stays on frame 0
                # copy() detaches the pixels from the file (and from later frames).
                frame = img.copy()
        except UnidentifiedImageError as exc:
            raise ImageError(
                f"{name} is not an image that can be read. Please upload a PNG, JPEG, GIF, BMP "
                "or WebP file."
            ) from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(
                f"{name} claims too many pixels (a possible decompression bomb); images of at "
                f"most {MAX_PIXELS // 1_000_000} megapixels are accepted."
            ) from exc
        except _DECODE_ERRORS as exc:
            raise ImageError(
                f"{name} is truncated or corrupt and cannot be decoded ({exc}). "
                "Please upload the file again or export it anew."
            ) from exc

    # Phone photos store their rotation in EXIF; unreadable EXIF keeps the image as stored.
    with contextlib.suppress(*_DECODE_ERRORS):
        frame = ImageOps.exif_transpose(frame)
    if _is_fully_transparent(frame):
        raise ImageError("The image is fully transparent.")
    return frame
