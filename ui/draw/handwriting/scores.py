"""How every model reads the visitor's set: accuracy overall and per digit, and what each
gets wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from mnist_core.digits.handwriting import HandwritingSet
from mnist_core.storage.store import StoredModel
from mnist_core.train.evaluation import evaluate
from mnist_core.words import count_of
from ui import fmt, keys, state
from ui.resources import get_model, get_store, model_version
from ui.widgets import choose_stored_model, digit_image, model_label

WRONG_SHOWN = 40
WRONG_COLUMNS = 10


_CACHE = "hw_results_cache"  # session state: (model id, version, set) -> results
_CACHE_MAX = 64


def _results(m: StoredModel, s: HandwritingSet) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, confidence) of model `m` on the set: (N,) int64 and (N,) float32. Kept per
    session for the set as it is, so that reruns (a click in the gallery) do not re-evaluate."""
    cache: dict = st.session_state.setdefault(_CACHE, {})
    key = (m.id, model_version(m), tuple(d.id for d in s.digits))
    if key not in cache:
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        res = evaluate(get_model(m), torch.from_numpy(s.images), torch.from_numpy(s.labels))
        cache[key] = (res.predicted, res.confidence)
    return cache[key]


def accuracy_table(models: list[StoredModel], s: HandwritingSet) -> pd.DataFrame:
    """One row per model: accuracy on the whole set, then per digit present ("–" when absent)."""
    labels = s.labels
    present = [d for d in range(10) if (labels == d).any()]
    rows = []
    for m in models:
        predicted, _ = _results(m, s)
        row = {"Model": model_label(m), "All": fmt.percent(float((predicted == labels).mean()), 1)}
        for d in range(10):
            mask = labels == d
            hit = float((predicted[mask] == d).mean()) if d in present else None
            row[str(d)] = fmt.percent(hit, 0)
        rows.append(row)
    return pd.DataFrame(rows)


def scores_tab() -> None:
    s: HandwritingSet = st.session_state[keys.HW_SET]
    if not len(s):
        st.caption("Label a few digits first: then every model is scored on them here.")
        return
    models = get_store().list(state.owner())
    if not models:
        st.caption("There are no models to score yet.")
        return
    st.markdown(f"Accuracy on your {count_of(len(s), 'digit')}, overall and per digit:")
    st.dataframe(accuracy_table(models, s), hide_index=True, width="stretch")
    m = choose_stored_model(models, keys.HW_WRONG_MODEL, label="Digits this model gets wrong")
    predicted, confidence = _results(m, s)
    wrong = np.flatnonzero(predicted != s.labels)
    if not len(wrong):
        st.success(f"{m.name} reads all {len(s)} of your digits right.")
        return
    st.caption(
        f"{len(wrong)} of {len(s)} wrong"
        + (f", the first {WRONG_SHOWN} shown" if len(wrong) > WRONG_SHOWN else "")
        + ": your label → what it read."
    )
    shown = wrong[:WRONG_SHOWN]
    for row in range(0, len(shown), WRONG_COLUMNS):
        cols = st.columns(WRONG_COLUMNS)
        for col, i in zip(cols, shown[row : row + WRONG_COLUMNS], strict=False):
            d = s.digits[int(i)]
            col.image(
                digit_image(d.image, 56),
                caption=f"{d.label} → {predicted[i]} ({confidence[i]:.0%})",
            )
