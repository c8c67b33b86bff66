"""Learned weights: first-layer kernels or templates, and the test digits a unit looks for."""

from __future__ import annotations

import streamlit as st

from mnist_core.data.mnist import MnistRaw
from mnist_core.errors import ExplainError
from mnist_core.explain import first_conv_kernels, first_layer_templates
from ui import keys
from ui.inside import images
from ui.inside.common import Subject, units_of
from ui.inside.layers import bigger_toggle
from ui.widgets import digit_image

MAX_TEMPLATES = 64  # a 256-unit first layer shows its first 64 templates
UNIT_KINDS = ("Conv2d", "Linear")  # layers whose units learn what to look for
TOP_SHOWN = 8


def _first_layer(subject: Subject, big: bool) -> None:
    with subject.lock:
        try:
            kernels = first_conv_kernels(subject.model)
        except ExplainError:
            kernels = None
            templates = first_layer_templates(subject.model)
    if kernels is not None:
        c_out, c_in, kh, kw = kernels.shape
        st.markdown(f"**The first convolution's {c_out} kernels** ({kh}×{kw})")
        columns = min(c_out, 8 if big else 16)
        st.image(
            images.data_url(
                images.grid(kernels[:, 0], 112 if big else 56, columns=columns, signed=True)
            )
        )
        st.caption(
            "Red weights add the pixel's ink, blue ones subtract it: each kernel is a small "
            "stroke or edge detector slid over the digit."
            + (f" (Input channel 1 of {c_in}.)" if c_in > 1 else "")
        )
        return
    shown = templates[:MAX_TEMPLATES]
    st.markdown(
        f"**The first layer's units as 28×28 templates** ({len(shown)} of {len(templates)})"
    )
    st.image(
        images.data_url(
            images.grid(shown, 84 if big else 42, columns=8 if big else 16, signed=True)
        )
    )
    st.caption(
        "Each unit weighs every pixel: red where ink raises its output, blue where ink lowers it."
    )


def _unit_label(name: str, kind: str, shape: tuple[int, ...]) -> str:
    return f"{name} · {kind} · {' × '.join(str(s) for s in shape)}"


def render(subject: Subject, raw: MnistRaw | None) -> None:
    """First-layer weights, then the top test digits of a chosen unit of any layer."""
    _first_layer(subject, bigger_toggle())
    st.markdown("**What a unit looks for**")
    if raw is None:
        st.info("The top digits of a unit come from the MNIST test set: get it on the Train page.")
        return
    with st.spinner("Finding the test digits each unit responds to most …"):
        index, test_idx = units_of(subject, raw)
    layers = {info.name: info for info in index.layers if info.name in index.indices}
    names = list(layers)
    ss = st.session_state
    if ss.get(keys.INSIDE_LAYER) not in layers:  # the first layer with units of its own
        ss[keys.INSIDE_LAYER] = next(  # (it was "0 · Normalize": issue 27, item 18)
            (n for n in names if layers[n].kind in UNIT_KINDS), names[0]
        )
    cols = st.columns([2, 1])
    name = cols[0].selectbox(
        "Layer",
        names,
        format_func=lambda n: _unit_label(n, layers[n].kind, layers[n].shape),
        key=keys.INSIDE_LAYER,
    )
    units = index.indices[name].shape[0]
    if not isinstance(ss.get(keys.INSIDE_UNIT), int) or not 0 <= ss[keys.INSIDE_UNIT] < units:
        ss[keys.INSIDE_UNIT] = 0
    unit = cols[1].number_input(
        "Unit" if len(layers[name].shape) == 1 else "Channel",
        min_value=0,
        max_value=units - 1,
        step=1,
        key=keys.INSIDE_UNIT,
    )
    top, scores = index.top(name, int(unit), TOP_SHOWN)
    where = (
        f"the {len(test_idx):,} test digits"
        if not subject.live
        else f"a sample of {len(test_idx):,} test digits (the model is still training)"
    )
    st.caption(f"The {TOP_SHOWN} digits among {where} that make unit {int(unit)} respond most.")
    row = st.columns(TOP_SHOWN)
    for col, pos, score in zip(row, top, scores, strict=True):
        i = int(test_idx[int(pos)])
        col.image(
            images.data_url(digit_image(raw.test_images[i].numpy(), 84)),
            caption=f"#{i} · a {int(raw.test_labels[i])} · {float(score):.2f}",
            width="stretch",
        )
