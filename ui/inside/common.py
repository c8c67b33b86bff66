"""What the views of the Inside page share: the model looked at, the digit, cached results.

A stored checkpoint is looked into through a private copy of its model (not the shared one of
`ui.resources.get_model`): looking inside registers hooks on the model for the duration of a
call, and a hook on the shared model would also fire on another visitor's prediction. A lock
per copy keeps two Inside visitors from hooking the same copy at once. A job's live model is a
fresh copy on every run, so it needs no lock.

Results that cost more than a few milliseconds (the embedding map, the top digits of every
unit) are cached by the model's weights fingerprint, which names a checkpoint and changes with
every optimiser step of a model still training.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import streamlit as st
from torch import nn

from mnist_core.data.mnist import MnistRaw
from mnist_core.explain import (
    EmbeddingMap,
    TsneTask,
    UnitIndex,
    embedding_map,
    sample_indices,
    tsne_in_background,
    unit_index,
    weights_fingerprint,
)
from mnist_core.storage.store import StoredModel
from ui.model_choice import Choice, model_for
from ui.resources import get_store, model_version, pretrained_dir, runs_dir
from ui.timeline import final_step, model_at

# Test digits behind the map and the top digits of a unit. A model still training is looked at
# again about once a second, so it gets smaller samples than a checkpoint, computed once.
MAP_POINTS = 2000
LIVE_MAP_POINTS = 1000
LIVE_TOP_IMAGES = 1000


@dataclass(frozen=True)
class Subject:
    """The model being looked into: `model` (CPU, eval mode), a `lock` to hold while hooking
    it, `live` (a job still training), `note` (e.g. the step a live model is at) and
    `fingerprint` (its weights' identity)."""

    model: nn.Module
    live: bool
    note: str
    fingerprint: str
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)


@dataclass(frozen=True)
class Digit:
    """The digit looked at: `image` (28, 28) float32 in [0, 1], ink bright; `label` its true
    class when known (a test image); `test_index` when it is a test image; `caption`."""

    image: np.ndarray
    caption: str
    label: int | None = None
    test_index: int | None = None


@st.cache_resource(show_spinner=False, max_entries=8)
def _private_model(
    model_id: str, version: float, pretrained: str, runs: str
) -> tuple[nn.Module, threading.Lock]:
    del version, pretrained, runs  # cache keys: a rewritten checkpoint, another store
    model = get_store().load(model_id).build_model()
    model.eval()
    return model, threading.Lock()


def _stored_subject(stored: StoredModel) -> Subject:
    model, lock = _private_model(
        stored.id, model_version(stored), str(pretrained_dir()), str(runs_dir())
    )
    return Subject(model, live=False, note="", fingerprint=weights_fingerprint(model), lock=lock)


def subject_for(choice: Choice, step: int | None = None) -> tuple[Subject | None, str]:
    """The model of a choice to look into, or None and why (a job's model not built yet). With
    `step`, a step of a saved model's training timeline other than its last (`ui.timeline`):
    that snapshot, looked into the way a model still training is (sampled test digits, PCA
    only), so that playing the timeline redraws each view within its second."""
    if choice.stored is not None:
        final = final_step(choice.stored)
        if step is None or final is None or step == final:
            return _stored_subject(choice.stored), ""
        model = model_at(choice.stored, step)
        note = f"The model after {step:,} of its {final:,} training steps."
        # No note for the page: the timeline's own caption says which step this is.
        return Subject(model, live=True, note=note, fingerprint=weights_fingerprint(model)), ""
    model, note = model_for(choice)
    if model is None:
        return None, note
    return Subject(model, live=True, note=note, fingerprint=weights_fingerprint(model)), note


def test_subset(raw: MnistRaw, subject: Subject) -> tuple[np.ndarray, np.ndarray]:
    """(test indices, uint8 images) searched for a unit's top digits: all 10,000 for a
    checkpoint, a fixed sample for a model still training."""
    n = len(raw.test_images)
    idx = sample_indices(n, LIVE_TOP_IMAGES) if subject.live else np.arange(n, dtype=np.int64)
    images = raw.test_images if not subject.live else raw.test_images[idx]
    return idx, images.numpy()


def units_of(subject: Subject, raw: MnistRaw) -> tuple[UnitIndex, np.ndarray]:
    """The top digits of every unit (cached per weights by the engine) and the test indices
    its image positions stand for."""
    idx, images = test_subset(raw, subject)
    with subject.lock:
        return unit_index(subject.model, images), idx


@st.cache_resource(show_spinner=False, max_entries=8)
def _map(
    fingerprint: str, projection: str, points: int, _model: nn.Module, _raw: MnistRaw
) -> EmbeddingMap:
    del fingerprint  # the cache key: the weights behind `_model`
    idx = sample_indices(len(_raw.test_images), points)
    return embedding_map(
        _model, _raw.test_images, _raw.test_labels, projection=projection, indices=idx
    )


def map_of(subject: Subject, raw: MnistRaw, projection: str) -> EmbeddingMap:
    """The embedding map of the subject's features over a fixed sample of test digits."""
    points = LIVE_MAP_POINTS if subject.live else MAP_POINTS
    with subject.lock:
        return _map(subject.fingerprint, projection, points, subject.model, raw)


def tsne_task(subject: Subject, raw: MnistRaw) -> TsneTask | None:
    """The t-SNE map of a saved model's MAP_POINTS test digits, computed in the background
    (started by the first call for those weights, then shared by every visitor); None for a
    model still training or a timeline's earlier step (PCA only). The Map view calls this as
    soon as it opens, on PCA too, so the t-SNE map is often ready before it is asked for."""
    if subject.live:
        return None
    idx = sample_indices(len(raw.test_images), MAP_POINTS)
    with subject.lock:  # the model is copied: no other visitor's hook may be on it meanwhile
        return tsne_in_background(subject.model, raw.test_images, raw.test_labels, indices=idx)
