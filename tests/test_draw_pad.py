"""The Draw page's pad (`ui.draw.pad`): what it sends, read back as the canvas's pixels, and
every damaged message turned into a message for the person drawing."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from ui.draw.pad import BadDrawing, decode_drawing


def _url(image: Image.Image, kind: str = "PNG") -> str:
    out = io.BytesIO()
    image.save(out, format=kind)
    return f"data:image/{kind.lower()};base64," + base64.b64encode(out.getvalue()).decode()


def test_no_drawing_is_none() -> None:
    assert decode_drawing(None) is None
    assert decode_drawing("") is None


def test_a_drawing_comes_back_as_its_rgba_pixels() -> None:
    pixels = np.zeros((280, 280, 4), np.uint8)
    pixels[..., 3] = 255
    pixels[100:180, 130:150, :3] = 255  # a white "1" on black
    image = decode_drawing(_url(Image.fromarray(pixels, "RGBA")))
    assert image is not None and image.dtype == np.uint8
    np.testing.assert_array_equal(image, pixels)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("data:text/plain;base64,aGVsbG8=", "did not arrive as a picture"),
        ("data:image/png;base64,not*base64", "arrived damaged"),
        ("data:image/png;base64," + base64.b64encode(b"not a png").decode(), "arrived damaged"),
        (_url(Image.new("RGBA", (100, 280))), "100x280 pixels, not 280x280"),
    ],
)
def test_a_damaged_drawing_gets_a_message(url: str, says: str) -> None:
    with pytest.raises(BadDrawing, match=says) as caught:
        decode_drawing(url)
    assert "draw again" in str(caught.value)
