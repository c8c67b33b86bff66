"""'What the model sees' on Draw: the preview tiles show the preprocessing steps' own pixels and
nothing else, and the last one is exactly the model's input (issue 11, item 8)."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.digits.preprocess import preprocess
from tests.drawn_digits import drawn_digit
from ui.widgets import square_preview

SIZE = 140  # the Draw page's preview size (square_preview's default)


def _border_median(img: np.ndarray) -> int:
    return int(np.median(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])))


@pytest.mark.parametrize("digit", [5, 9])
def test_the_preview_shows_no_grey_the_model_never_sees(digit: int) -> None:
    pre = preprocess(drawn_digit(digit))
    assert not pre.empty
    steps = dict(pre.steps)
    tile = steps["scaled to 20x20"]
    h, w = tile.shape
    assert h == 20 and w < 20  # a narrow digit: its tile needs padding to line up
    assert _border_median(tile) > 0  # what the padding used to be filled with: grey bands

    preview = square_preview(tile, SIZE)
    assert preview.shape == (SIZE, SIZE, 4)
    opaque = preview[..., 3] == 255
    assert set(np.unique(preview[..., 3])) <= {0, 255}
    # Only the tile itself is visible: crisp pixels (7 x 7 screen px each), centred; the
    # padding is transparent, no colour at all.
    k = SIZE // 20
    rows, cols = np.flatnonzero(opaque.any(1)), np.flatnonzero(opaque.any(0))
    assert (len(rows), len(cols)) == (h * k, w * k)
    visible = preview[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    assert (visible[..., 3] == 255).all()
    np.testing.assert_array_equal(visible[::k, ::k, 0], tile)
    assert int(opaque.sum()) == h * k * w * k


@pytest.mark.parametrize("digit", [5, 9])
def test_the_last_preview_is_the_model_input(digit: int) -> None:
    pre = preprocess(drawn_digit(digit))
    caption, last = pre.steps[-1]
    assert caption == "centred by mass 28x28"
    preview = square_preview(last, SIZE)
    assert (preview[..., 3] == 255).all()  # all of it is the model's field, nothing added
    model_input = (np.clip(pre.image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)  # (28, 28)
    k = SIZE // 28
    for dy in range(k):  # every screen pixel of an image pixel shows that pixel's value
        for dx in range(k):
            np.testing.assert_array_equal(preview[dy::k, dx::k, 0], model_input)
    assert (preview[..., 0] == preview[..., 1]).all() and (preview[..., 1] == preview[..., 2]).all()
