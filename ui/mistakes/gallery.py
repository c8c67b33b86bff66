"""The Mistakes page's gallery: the misread test digits, filtered by a true -> predicted pair
and paged, most confident first; and the inspector of one image with its ten probabilities."""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from mnist_core.data.mnist import MnistRaw
from mnist_core.train.evaluation import EvalResult
from ui import digit_charts, keys
from ui.inside.link import look_inside_button
from ui.widgets import digit_image

PAGE_SIZE = 20
GALLERY_COLUMNS = 5

Pair = tuple[int, int]


def _pair_options(result: EvalResult) -> list[Pair | str]:
    off = result.confusion.copy()
    np.fill_diagonal(off, 0)
    pairs = [(int(t), int(p)) for t, p in zip(*np.nonzero(off), strict=True)]
    pairs.sort(key=lambda tp: -int(off[tp]))
    return [keys.ALL_MISTAKES, *pairs]


def show_gallery(raw: MnistRaw, result: EvalResult, model_key: str) -> None:
    ss = st.session_state
    options = _pair_options(result)
    if isinstance(ss[keys.MISTAKES_PAIR], list):  # a pair that went through JSON
        ss[keys.MISTAKES_PAIR] = tuple(ss[keys.MISTAKES_PAIR])
    if ss[keys.MISTAKES_PAIR] not in options:
        ss[keys.MISTAKES_PAIR] = keys.ALL_MISTAKES
    wrong = result.misclassified

    def label(pair: Pair | str) -> str:
        if pair == keys.ALL_MISTAKES:
            return f"All mistakes ({len(wrong):,})"
        return f"True {pair[0]} → predicted {pair[1]} ({int(result.confusion[pair]):,})"

    st.selectbox(
        "Filter true → predicted",
        options,
        format_func=label,
        key=keys.MISTAKES_PAIR,
        on_change=lambda: ss.update({keys.MISTAKES_PAGE: 1, keys.MISTAKES_INSPECT: None}),
        help="The same filter as clicking a cell of the confusion matrix.",
    )
    pair = ss[keys.MISTAKES_PAIR]
    if pair != keys.ALL_MISTAKES:
        t, p = pair
        wrong = wrong[(result.labels[wrong] == t) & (result.predicted[wrong] == p)]
    if len(wrong) == 0:
        st.success("No mistakes here.", icon=":material/celebration:")
        return

    pages = max(1, math.ceil(len(wrong) / PAGE_SIZE))
    ss[keys.MISTAKES_PAGE] = min(max(1, int(ss[keys.MISTAKES_PAGE] or 1)), pages)
    gallery, inspector = st.columns([3.4, 1.2], gap="large")
    with gallery:
        st.caption(
            f"{len(wrong):,} images, most confident mistakes first. "
            "Click **Inspect** for the ten probabilities."
        )
        page = ss[keys.MISTAKES_PAGE]
        shown = wrong[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        for row in range(0, len(shown), GALLERY_COLUMNS):
            cols = st.columns(GALLERY_COLUMNS)
            for col, idx in zip(cols, shown[row : row + GALLERY_COLUMNS], strict=False):
                idx = int(idx)
                with col:
                    st.image(
                        digit_image(raw.test_images[idx].numpy(), 84),
                        caption=f"true {result.labels[idx]} · said {result.predicted[idx]} · "
                        f"{result.confidence[idx]:.0%}",
                        width="stretch",
                    )
                    st.button(
                        "Inspect",
                        key=f"mistakes_inspect_{idx}",
                        type="tertiary",
                        icon=":material/bar_chart:",
                        on_click=lambda i=idx: ss.update({keys.MISTAKES_INSPECT: i}),
                        width="stretch",
                    )
        if pages > 1:
            # Another page shows other images: the inspector goes back to its first one.
            st.pagination(
                pages,
                key=keys.MISTAKES_PAGE,
                on_change=lambda: ss.update({keys.MISTAKES_INSPECT: None}),
            )
    with inspector:
        _inspect(
            raw,
            result,
            ss[keys.MISTAKES_INSPECT] if ss[keys.MISTAKES_INSPECT] is not None else int(shown[0]),
            model_key,
        )


def _inspect(raw: MnistRaw, result: EvalResult, idx: int, model_key: str) -> None:
    with st.container(border=True):
        st.markdown(f"**Test image #{idx}**")
        st.image(digit_image(raw.test_images[idx].numpy(), 168), width="stretch")
        true, pred = int(result.labels[idx]), int(result.predicted[idx])
        verdict = "correct" if true == pred else "wrong"
        st.markdown(
            f"True **{true}** · predicted **{pred}** ({verdict}) · "
            f"confidence {result.confidence[idx]:.1%}"
        )
        st.plotly_chart(
            digit_charts.probability_figure(result.probabilities[idx], height=230),
            key="mistakes_probabilities",
            config={"displayModeBar": False},
        )
        look_inside_button("mistakes_look_inside", model_key, test_index=idx)
