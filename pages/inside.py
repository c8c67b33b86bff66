"""Inside: how a model reads a digit, layer by layer; its filters, attributions and map."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from mnist_core.data.mnist import MnistRaw
from mnist_core.errors import MnistError
from mnist_core.explain.layers import Activations
from mnist_core.jobs import JobSnapshot
from ui import keys
from ui.errors import friendly_errors
from ui.inside import attributions, dynamics, embedding, filters, layers
from ui.inside.common import Digit, Subject, subject_for
from ui.inside.digit import choose_digit, show_digit
from ui.live import live_panel, slots
from ui.model_choice import Choice, choose_model
from ui.resources import get_data_source, get_manager
from ui.shell import page_guard
from ui.start import glossary
from ui.timeline import timeline_panel

LIVE_POLL_S = 1.0  # refresh while the chosen model is still training
VIEWS = ("Layers", "Filters", "Attributions", "Map")
TRAINING_VIEW = "Training"  # a run's dynamics, for a model still training


def _test_data() -> MnistRaw | None:
    """MNIST when it is there (the test images, the map, the top digits need it)."""
    source = get_data_source()
    if not source.available():
        return None
    try:
        return source()
    except MnistError as e:
        st.warning(str(e), icon=":material/dataset:")
        return None


def _inside(choice: Choice) -> None:
    """Everything below the model chooser; a live panel (`ui.live`) that refreshes every
    second for a model still training, so a person watches it learn. A saved model with a
    training timeline gets its step slider and Play button (`ui.timeline`) above the rest,
    which then shows the model at that step."""
    (part,) = slots(1)
    with part:
        timeline_panel(choice.stored, "inside", lambda step: _body(choice, step))


def _body(choice: Choice, step: int | None) -> None:
    """The digit and the views; the same three parts in every run (notes, the digit, the
    views), whatever they show."""
    notes, top, views_part = slots(3)
    with notes, friendly_errors("looking inside the model"):
        snap = get_manager().snapshot(choice.job_id) if choice.job_id is not None else None
        if snap is not None and snap.done:
            st.rerun(scope="app")  # the run ended: the full run offers its saved checkpoint
        subject, note = subject_for(choice, step)
        if subject is None:
            st.info(note, icon=":material/hourglass_top:")
            return
        if note:
            st.caption(note)
        raw = _test_data()
        with top:
            left, right = st.columns([1.6, 2], gap="large")
        with left:
            digit = choose_digit(raw)
        acts = layers.compute(subject, digit) if digit is not None else None
        if digit is not None and acts is not None:
            with right:
                show_digit(digit, acts.probabilities[0])
        views = [*VIEWS, TRAINING_VIEW] if snap is not None else list(VIEWS)
        if st.session_state.get(keys.INSIDE_VIEW) not in views:  # e.g. Training, run ended
            st.session_state[keys.INSIDE_VIEW] = views[0]
        with views_part:
            tabs = st.tabs(views, key=keys.INSIDE_VIEW, on_change="rerun")
        _views(tabs, subject, raw, digit, acts, snap)


def _views(
    tabs: Sequence[Any],
    subject: Subject,
    raw: MnistRaw | None,
    digit: Digit | None,
    acts: Activations | None,
    snap: JobSnapshot | None,
) -> None:
    """The open tab's view (the others are not computed)."""
    with tabs[0]:
        if tabs[0].open:
            if acts is None:
                st.caption("Choose a digit to see what each layer makes of it.")
            else:
                layers.render(acts)
    with tabs[1]:
        if tabs[1].open:
            filters.render(subject, raw)
    with tabs[2]:
        if tabs[2].open:
            if digit is None or acts is None:
                st.caption("Choose a digit to see which of its pixels the model relies on.")
            else:
                attributions.render(subject, digit, acts.layers, acts.probabilities[0])
    with tabs[3]:
        if tabs[3].open:
            embedding.render(subject, raw, digit)
    if snap is not None:
        with tabs[4]:
            if tabs[4].open:
                dynamics.render(snap)


def main() -> None:
    st.title("Inside the network", anchor=False)
    st.caption(
        "How a model reads a digit: what every layer computes, what its filters learned, which "
        "pixels it relies on, and where the digit lands among the test digits. Choose a model "
        "that is still training to watch all of it form. New to the words? "
        f"{glossary.link('activation')}, {glossary.link('filter')}."
    )
    choice = choose_model(keys.INSIDE_MODEL)
    if choice is None:
        st.info(
            "There is no model to look into: train one on the Train page or upload one on the "
            "Models page."
        )
        return
    live = choice.job_id is not None
    live_panel(_inside, choice, every=LIVE_POLL_S if live else None, key="live_inside")


if page_guard():
    with friendly_errors("showing the Inside page"):
        main()
