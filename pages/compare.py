"""Compare: which setting is better? Every model in one table, the chosen runs' curves
overlaid, a sweep on parallel coordinates, and a run's settings back on Train."""

from __future__ import annotations

import streamlit as st

from mnist_core.errors import MnistError
from ui import keys, state
from ui.compare.runs import Run, load_run
from ui.compare.sections import run_actions, show_curves, show_sweeps, show_table
from ui.compare.sweeps import find_sweeps
from ui.errors import friendly_errors
from ui.resources import get_store
from ui.shell import page_guard

ONLY_PRETRAINED_NOTE = (
    "Only the pretrained models so far: tick two to overlay their curves. Train two runs (or a "
    "sweep on Train) and they appear here beside them."
)
EMPTY_NOTE = (
    "Nothing with curves to compare yet. Train two runs (or a sweep on Train) and they appear "
    "here, with their loss and accuracy curves overlaid. The models below have no saved "
    "curves, only their final figures."
)


def _runs() -> list[Run]:
    """Every model of this visitor and the pretrained ones, as the store lists them."""
    runs, unreadable = [], []
    for stored in get_store().list(state.owner()):
        try:
            runs.append(load_run(stored))
        except MnistError:  # deleted or rewritten since it was listed
            unreadable.append(stored.name)
    if unreadable:
        st.warning(f"Could not read {', '.join(unreadable)}: left out of the table.")
    return runs


def main() -> None:
    st.title("Compare", anchor=False)
    st.caption(
        "Which setting is better? Your models and the pretrained ones side by side: tick rows "
        "to overlay their curves, look at a sweep as a whole, and train a run again."
    )
    runs = _runs()
    note = None
    if runs and all(r.read_only for r in runs):
        note = ONLY_PRETRAINED_NOTE
    elif not any(r.history is not None for r in runs):
        note = EMPTY_NOTE
    if note:
        st.info(note, icon=":material/compare_arrows:")
        st.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
    if not runs:
        return
    chosen: list[Run] = []
    with friendly_errors("showing the table"):
        chosen = show_table(runs)
    sweeps = find_sweeps(runs)
    if not sweeps:
        st.subheader("Curves", anchor=False)
        with friendly_errors("drawing the curves"):
            show_curves(chosen)
    else:
        # Tabs whose content is drawn for the open one only: the sweep's parallel coordinates
        # are a WebGL chart that took ~1 s of the browser's time each time the page was drawn
        # (`python -m bench feel --only compare`, 20 runs: 1.77 s with it, 0.73 s without, in
        # headless Chromium on this 2-core machine), for a chart below the fold.
        curves_tab, sweeps_tab = st.tabs(
            ["Curves", "Sweeps"], key=keys.COMPARE_VIEW, on_change="rerun"
        )
        if curves_tab.open:
            with curves_tab, friendly_errors("drawing the curves"):
                show_curves(chosen)
        if sweeps_tab.open:
            with sweeps_tab, friendly_errors("showing the sweeps"):
                show_sweeps(sweeps)
    with friendly_errors("preparing the selected run"):
        run_actions(chosen)


if page_guard():
    with friendly_errors("showing the Compare page"):
        main()
