"""The network as a column of layers, each with what it computes for the digit."""

from __future__ import annotations

import streamlit as st

from mnist_core.explain import Activations, activations
from ui import digit_charts, keys
from ui.inside import images
from ui.inside.common import Digit, Subject

GRID_COLUMNS = 16  # feature maps per row
STRIP_UNITS = 64  # dense units per row


def _tile_px(height: int, big: bool = False) -> int:
    """Tile size of a feature map: large maps at 2x, small ones enlarged more, within 28-56
    (twice that, `big`)."""
    return max(28, min(56, 4 * height)) * (2 if big else 1)


def bigger_toggle() -> bool:
    """The "Bigger pictures" switch of the layers and weights views: half as many tiles a
    row, each twice the size (issue 27, item 18: feature maps and filters were thumbnails with
    no larger view)."""
    return st.toggle(
        "Bigger pictures",
        key=keys.INSIDE_BIG,
        help="Feature maps and filters at twice the size, half as many a row.",
    )


def compute(subject: Subject, digit: Digit) -> Activations:
    """Every layer's output for the digit (and the ten probabilities)."""
    with subject.lock:
        return activations(subject.model, digit.image)


def render(acts: Activations) -> None:
    """One row per layer: its name, kind, shape and parameters, and its activations (feature
    maps as a grid of small images, dense layers as a strip of units); then the ten
    probabilities."""
    st.caption(
        "Each layer in the order the digit flows through it. Feature maps: one small image "
        "per channel, bright where it responds. Dense layers: one cell per unit."
    )
    big = bigger_toggle()
    per_row = GRID_COLUMNS // 2 if big else GRID_COLUMNS
    for info, value in zip(acts.layers, acts.values, strict=True):
        out = value[0].numpy()
        shape = " × ".join(str(s) for s in info.shape)
        left, right = st.columns([1, 3.2], vertical_alignment="center")
        left.markdown(f"**{info.name}** · {info.kind}")
        left.caption(f"{shape} · {info.params:,} parameters")
        if out.ndim == 3 and out.shape[1] * out.shape[2] > 1:
            right.image(
                images.data_url(
                    images.grid(out, _tile_px(out.shape[1], big), columns=min(len(out), per_row))
                ),
                caption=f"{len(out)} feature map{'s' if len(out) > 1 else ''} of "
                f"{out.shape[1]}×{out.shape[2]}",
            )
        else:
            right.image(
                images.data_url(images.strip(out, per_row=STRIP_UNITS)),
                caption=f"{out.size} units",
            )
    st.markdown("**Probabilities**")
    st.plotly_chart(
        digit_charts.probability_figure(acts.probabilities[0], height=220),
        key="inside_probabilities",
        config={"displayModeBar": False},
    )
