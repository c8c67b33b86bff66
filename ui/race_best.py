"""The visitor's best times in the Race to 99% (and to 99.5%), kept for the session.

A run counts when it is a race (`race_of`: the Race to 99% or to 99.5% preset, whatever its
seed): the first test measurement at or above a target (end of epoch, or a check inside an
epoch) and the training seconds behind it (`mnist_core.train.race`). An ordinary run that
passes 99% sets no race time (issue 27, item 16).
"""

from __future__ import annotations

import streamlit as st

from mnist_core.train.race import RACE_TARGETS, race_of, reaches
from ui import keys
from ui.state import keep_race_best


def record(snap: object) -> None:
    """Keep `snap`'s times to the race targets where they beat the visitor's best."""
    config = getattr(snap, "config", None)
    if config is None or race_of(config) is None:
        return
    best: dict[float, tuple[float, str, str]] = st.session_state[keys.RACE_BEST]
    hits = reaches(getattr(snap, "epochs", ()), getattr(snap, "checks", ()), RACE_TARGETS)
    changed = False
    for target, point in hits.items():
        if target not in best or point.train_seconds < best[target][0]:
            best[target] = (point.train_seconds, str(snap.name), str(snap.job_id))
            changed = True
    if changed:  # on the server too: a reload keeps it (issue 27, item 3)
        keep_race_best()


def best_text() -> str:
    """E.g. "best to 99.0%: **4.6 s**" (empty before any run reached a target)."""
    best: dict[float, tuple[float, str, str]] = st.session_state[keys.RACE_BEST]
    parts = [f"{t:.1%}: **{best[t][0]:.1f} s** of training" for t in RACE_TARGETS if t in best]
    return ("your best to " + " · ".join(parts)) if parts else ""


def best_help() -> str:
    """Which runs set the best times (the sidebar's tooltip)."""
    best: dict[float, tuple[float, str, str]] = st.session_state[keys.RACE_BEST]
    return " ".join(
        f"{t:.1%} test accuracy first reached by {best[t][1]} after {best[t][0]:.2f} s of "
        "training (evaluation time not counted)."
        for t in RACE_TARGETS
        if t in best
    )
