"""Choosing a model to look at: a stored checkpoint, or a job of this visitor still training.

Draw and Inside both offer this choice; the live model of a job is a private CPU copy of its
current weights, taken again on each call.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from torch import nn

from mnist_core.errors import MnistError
from mnist_core.jobs import JobSnapshot
from mnist_core.models import get_spec
from mnist_core.storage.store import StoredModel, picker_order
from ui import state
from ui.resources import get_manager, get_model, get_store
from ui.widgets import model_label


@dataclass(frozen=True)
class Choice:
    """A model to predict with: a stored checkpoint, or a job that is still training."""

    key: str  # "ckpt:<id>" or "job:<id>"
    label: str
    stored: StoredModel | None = None
    job_id: str | None = None


def checkpoint_key(model_id: str) -> str:
    """The choice key of a stored checkpoint (what a "Look inside" link puts in the state)."""
    return f"ckpt:{model_id}"


def model_choices() -> list[Choice]:
    """This visitor's jobs still training (live) first, then the stored models they may use
    (pretrained and theirs), each sweep's runs together at the end (`picker_order`)."""
    out = []
    for job in get_manager().jobs(state.owner()):
        if job.active:
            title = get_spec(job.config.model).title
            out.append(
                Choice(
                    f"job:{job.job_id}",
                    f"{job.name} · {title} · training now (live)",
                    job_id=job.job_id,
                )
            )
    out += [
        Choice(checkpoint_key(m.id), model_label(m), stored=m)
        for m in picker_order(get_store().list(state.owner()))
    ]
    return out


def saved_model_of(key: str | None, by_key: dict[str, Choice]) -> str | None:
    """When the live model chosen has finished training, its saved checkpoint (if any)."""
    if not key or not key.startswith("job:"):
        return None
    try:
        snap = get_manager().snapshot(key.removeprefix("job:"))
    except MnistError:
        return None
    saved = checkpoint_key(snap.checkpoint_id) if snap.checkpoint_id else None
    return saved if saved in by_key else None


def choose_model(key: str) -> Choice | None:
    """The "Model" selectbox (session-state `key`) over `model_choices()`; its choice, or None
    when there is none. A live model whose run has ended and was saved turns into that saved
    model; any other choice that is gone falls back to the first."""
    ss = st.session_state
    choices = model_choices()
    if not choices:
        return None
    by_key = {c.key: c for c in choices}
    if ss.get(key) not in by_key:  # the first stored model: a live one only when chosen
        first = next((c for c in choices if c.stored is not None), choices[0])
        ss[key] = saved_model_of(ss.get(key), by_key) or first.key
    chosen = st.selectbox(
        "Model",
        list(by_key),
        format_func=lambda k: by_key[k].label,
        key=key,
        help="Pretrained models, your saved runs, and your runs still training (live).",
    )
    return by_key[chosen]


def model_for(choice: Choice) -> tuple[nn.Module | None, str]:
    """The model to use, and a note about it (e.g. the step a live model is at).

    A stored model is the shared, cached one (inference only); a live model is a fresh copy.
    """
    if choice.stored is not None:
        return get_model(choice.stored), ""
    assert choice.job_id is not None
    manager = get_manager()
    snap: JobSnapshot = manager.snapshot(choice.job_id)
    model = manager.model_copy(choice.job_id)
    if model is None:
        return None, f"{snap.name} is still being prepared: its model appears in a moment."
    return model, (
        f"Live model of **{snap.name}** at step {snap.step:,} of {snap.total_steps:,} "
        f"(epoch {snap.epoch:.1f}, {snap.status})."
    )
