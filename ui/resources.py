"""Process-wide objects, created once per server process with `st.cache_resource`.

The job manager, the model store, the loaded MNIST data and the built models are shared by
every visitor; all of them are thread-safe. Nothing here calls Streamlit from another thread:
the job manager's worker threads get the data through `MnistSource`, a plain Python object.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import torch
from torch import nn

from mnist_core.data.mnist import MnistSource, find_data_dir
from mnist_core.jobs import JobManager, default_max_running
from mnist_core.jobs.executors.base import Executor
from mnist_core.jobs.executors.choose import create_executor
from mnist_core.machine import device_name
from mnist_core.settings import settings
from mnist_core.storage.evaluations import SHIPPED_FOLDER, EvaluationCache
from mnist_core.storage.store import ModelStore, StoredModel
from mnist_core.train.evaluation import EvalResult

# What `shutdown` stops when the server stops, as they are made (one of each per server process;
# more only where the folders or the executor change, as in the tests).
_executors: list[Executor] = []
_managers: list[JobManager] = []


def pretrained_dir() -> Path:
    """The read-only pretrained checkpoints: $MNIST_CHECKPOINTS_DIR, else the packaged ones."""
    return settings().pretrained_dir


def runs_dir() -> Path:
    """Where models trained here and uploads are written: $MNIST_RUNS_DIR, else ./runs."""
    return settings().runs_dir


@st.cache_resource(show_spinner=False)
def get_data_source() -> MnistSource:
    return MnistSource()


@st.cache_resource(show_spinner=False)
def _store(pretrained: str, runs: str) -> ModelStore:
    return ModelStore(pretrained_dir=Path(pretrained), runs_dir=Path(runs))


def get_store() -> ModelStore:
    """The model store: pretrained checkpoints (read-only) plus the runs trained or uploaded."""
    return _store(str(pretrained_dir()), str(runs_dir()))


@st.cache_resource(show_spinner=False)
def _executor(kind: str, ray_address: str | None) -> Executor:
    # One child per training slot and no standby beside it: a job ending hands its warm child
    # to the next one, and a standby would only hold ~220 MB while every slot is busy.
    executor = create_executor(kind, ray_address, warm=1, max_workers=default_max_running())
    _executors.append(executor)
    return executor


def get_executor() -> Executor:
    """Where jobs train ($MNIST_EXECUTOR, $MNIST_RAY_ADDRESS): one per server process, with its
    warm workers; a cluster that cannot be reached gives the process executor and a note."""
    s = settings()
    return _executor(s.executor, s.ray_address)


@st.cache_resource(show_spinner=False)
def _manager(
    pretrained: str, runs: str, kind: str, ray_address: str | None, max_queued: int
) -> JobManager:
    manager = JobManager(
        data=get_data_source(),
        store=_store(pretrained, runs),
        executor=get_executor(),
        max_queued=max_queued,
    )
    _managers.append(manager)
    return manager


def get_manager() -> JobManager:
    """The background training job manager (one per server process)."""
    s = settings()
    return _manager(str(pretrained_dir()), str(runs_dir()), s.executor, s.ray_address, s.max_queued)


def shutdown(timeout: float = 5.0) -> None:
    """Stop every job between two steps (each ends "stopped"), then the executors' workers, and
    forget them (a later `get_manager` makes new ones). `app.py`'s lifespan calls this when the
    server stops, which otherwise killed the running jobs and their workers mid-step.

    Made once per key by `st.cache_resource`, which calls no clean-up when the server stops
    (its `on_release` runs on "Clear cache" too, which would stop every visitor's jobs): so
    this keeps its own list of what it made."""
    _manager.clear()
    _executor.clear()
    while _managers:
        _managers.pop().shutdown(timeout)  # the jobs first: they train on the workers
    while _executors:
        _executors.pop().shutdown()


@st.cache_resource(show_spinner=False)
def get_device_name() -> str:
    return device_name()


def model_version(stored: StoredModel) -> float:
    """A value that changes when the checkpoint file is rewritten (cache keys)."""
    try:
        return Path(stored.path).stat().st_mtime
    except (OSError, TypeError):
        return 0.0


@st.cache_resource(show_spinner=False, max_entries=32)
def _model(model_id: str, version: float, pretrained: str, runs: str) -> nn.Module:
    model = _store(pretrained, runs).load(model_id).build_model()
    with torch.inference_mode():  # the first forward allocates: pay it here, not on a stroke
        model(torch.zeros(1, 1, 28, 28))
    return model


def get_model(stored: StoredModel) -> nn.Module:
    """The built model (CPU, eval mode) of a stored checkpoint, cached by id and file time.

    Shared between sessions: use it only for inference (`mnist_core.models.inference.predict`).
    """
    return _model(stored.id, model_version(stored), str(pretrained_dir()), str(runs_dir()))


@st.cache_resource(show_spinner=False)
def _evaluations(runs: str, pretrained: str) -> EvaluationCache:
    return EvaluationCache(
        Path(runs) / EVALUATIONS_FOLDER, shipped=[Path(pretrained) / SHIPPED_FOLDER]
    )


def get_evaluations() -> EvaluationCache:
    """The evaluations stored on disk, beside the runs (`mnist_core.storage.evaluations`)."""
    return _evaluations(str(runs_dir()), str(pretrained_dir()))


# Under the runs folder; a name no owner's folder can have (owners are slugs: no dot).
EVALUATIONS_FOLDER = ".evaluations"


@st.cache_resource(show_spinner=False, max_entries=16)
def _evaluation(model_id: str, version: float, data_folder: str, pre: str, runs: str) -> EvalResult:
    del version, data_folder  # cache keys: a rewritten checkpoint, other data
    raw = get_data_source()()
    stored = _store(pre, runs).get(model_id)
    return _evaluations(runs, pre).evaluate(
        Path(stored.path),
        lambda: _store(pre, runs).load(model_id).build_model(),
        raw.test_images,
        raw.test_labels,
    )


def get_evaluation(stored: StoredModel) -> EvalResult:
    """The checkpoint's evaluation on the 10,000 MNIST test images, cached per checkpoint in
    memory and on disk (read back in milliseconds by a later server process)."""
    folder = find_data_dir()
    return _evaluation(
        stored.id,
        model_version(stored),
        str(folder.resolve()) if folder else "",
        str(pretrained_dir()),
        str(runs_dir()),
    )


def warm_pretrained_evaluations() -> None:
    """Compute the pretrained models' evaluations not stored yet, in a daemon thread (no
    Streamlit call there), so the Mistakes page finds them: called once as the server starts
    (`ui.preload`). Nothing when MNIST is not here (it is not downloaded for this)."""
    if find_data_dir() is None:
        return
    pre, runs = str(pretrained_dir()), str(runs_dir())
    store, source = _store(pre, runs), get_data_source()

    def build(model_id: str) -> nn.Module:
        return store.load(model_id).build_model()

    def data() -> tuple[torch.Tensor, torch.Tensor]:
        raw = source()
        return raw.test_images, raw.test_labels

    models = store.list()
    _evaluations(runs, pre).warm([(Path(m.path), lambda i=m.id: build(i)) for m in models], data)
