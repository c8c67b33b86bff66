"""Digits drawn as a person draws them on the 280x280 canvas (white pen of width 18 on black,
RGBA as the component returns it), for tests of what the preprocessing shows."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

WHITE = (255, 255, 255, 255)


def drawn_digit(digit: int) -> np.ndarray:
    """A drawn 5 or 9 as (280, 280, 4) uint8 RGBA. Both touch the edges of their ink box with
    much ink (the 5's top bar and left side, the 9's stem), so the border median of their
    20x20 tile is grey: the case where the preview used to pad it with grey bands."""
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    pen = ImageDraw.Draw(img)
    if digit == 5:
        pen.line([(190, 50), (100, 50), (92, 135)], fill=WHITE, width=18, joint="curve")
        pen.arc([(80, 105), (200, 235)], start=-100, end=140, fill=WHITE, width=18)
    elif digit == 9:
        pen.ellipse([(100, 40), (180, 150)], outline=WHITE, width=18)
        pen.line([(171, 95), (171, 245)], fill=WHITE, width=18)
        pen.line([(171, 245), (110, 245)], fill=WHITE, width=18)
    else:
        raise ValueError(f"no drawing of {digit}")
    return np.asarray(img)
