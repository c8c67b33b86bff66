"""The weights of one training run: the live model while it trains, its checkpoint once done.

`RunWeights` builds checkpoints (a stopped run's test accuracy is measured on demand, once),
saves them to the `ModelStore` and lets go of the weights as soon as they are not needed: a
hosted demo keeps many done runs (5 per visitor, for half an hour after the visitor's last
heartbeat), so a done run keeps at most one copy of its weights in memory, and none once it
is on disk (`model_copy` and `checkpoint` read the store then), released, failed or diverged.

It shares the runner's lock and `JobState`: a change of the weights that goes with a status
change happens in the same critical section, so whoever sees a run done also sees its
weights gone when they were dropped. Methods marked "lock held" expect the caller to hold
that lock; the others take it themselves, and never hold it while evaluating or writing.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from mnist_core.errors import CheckpointError, MnistError
from mnist_core.jobs.snapshot import JobState
from mnist_core.storage.checkpoints import (
    Checkpoint,
    cpu_state_dict,
    make_checkpoint,
    uninitialised_model,
    with_cpu_test_accuracy,
)
from mnist_core.train.evaluation import evaluate
from mnist_core.train.events import RunEnded
from mnist_core.train.timeline import Timeline, TimelineRecorder

if TYPE_CHECKING:
    from mnist_core.storage.store import ModelStore

__all__ = ["RunWeights", "save_to_store"]

log = logging.getLogger(__name__)


def save_to_store(
    store: ModelStore | None,
    ckpt: Checkpoint,
    owner: str,
    name: str,
    timeline: Timeline | None = None,
) -> tuple[str | None, str | None]:
    """Save a finished run (and its training timeline): (checkpoint id, None), or (None, why it
    failed for people). Never raises: a failed save must not hide a finished run (its weights
    stay in memory)."""
    if store is None:
        return None, None
    try:
        return store.save(ckpt, owner, name, timeline=timeline).id, None
    except (OSError, MnistError) as e:
        return None, str(e)
    except Exception as e:  # a bug in saving
        log.exception("saving the run %r failed", name)
        return None, f"Could not save the model: {type(e).__name__}: {e}"


class RunWeights:
    """The model, test set and checkpoint one run holds, and saving them to the store.

    Args:
        state: the run's JobState (read for metrics and status; the save result goes there).
        lock: the lock that guards `state`, shared with the runner.
        weights_lock: held by `fit` around each optimiser step (`TrainControl.weights_lock`),
            so a copy never mixes two steps.
        store: where checkpoints are saved (None: kept in memory only).
    """

    def __init__(
        self,
        state: JobState,
        lock: threading.Lock,
        weights_lock: threading.Lock,
        store: ModelStore | None = None,
    ) -> None:
        self._state = state
        self._lock = lock
        self._weights_lock = weights_lock
        self._store = store
        self._ckpt_lock = threading.Lock()  # one checkpoint evaluation or save at a time
        self.model: nn.Module | None = None
        self.test_set: tuple[torch.Tensor, torch.Tensor] | None = None  # for stopped runs
        # The run's training timeline as `fit` records it; saved beside the checkpoint.
        self.timeline: TimelineRecorder | None = None
        self.kept_checkpoint: Checkpoint | None = None
        self.released = False
        # Set while a job trains in another process: the current weights are fetched from
        # there (`Executor.live_state`); `model` holds the starting, then the final weights.
        self.live_state: Callable[[], dict[str, torch.Tensor] | None] | None = None

    # ---- called by the runner's worker (lock held) -----------------------------------------
    def attach(
        self,
        model: nn.Module,
        test_set: tuple[torch.Tensor, torch.Tensor],
        timeline: TimelineRecorder | None = None,
    ) -> None:
        """The model `fit` trains, the test set a stopped run is measured on and the recorder
        of its timeline (None: it keeps none). Lock held."""
        self.model, self.test_set, self.timeline = model, test_set, timeline

    def after_done(self) -> None:
        """The run just became done: drop weights that are released or useless (NaN after a
        divergence, never trained after a failure). Lock held."""
        if self.released or self._state.status in ("failed", "diverged"):
            self._drop()

    def to_cpu(self) -> None:
        """Move the model to the CPU once training ended (frees GPU memory; copies and
        checkpoints are CPU anyway). Takes the weights lock, not the state lock."""
        model = self.model
        if model is not None:
            with self._weights_lock:
                model.to("cpu")

    # ---- reading, saving and releasing -------------------------------------------------------
    @property
    def kept(self) -> bool:
        """True for a done run that keeps weights in memory (stopped, or its save failed)."""
        with self._lock:
            return self._state.done and (self.model is not None or self.kept_checkpoint is not None)

    def release(self) -> None:
        """Drop the weights (now if the run is done, else as it ends); the job manager calls
        it for jobs whose browser tab went away. model_copy and checkpoint return None then."""
        with self._lock:
            self.released = True
            if self._state.done:
                self._drop()

    def model_copy(self) -> nn.Module | None:
        """A CPU eval-mode copy of the current weights; from the checkpoint once the live model
        is gone. None before the model exists and after release."""
        model = self.model
        if model is None:
            ckpt = self.checkpoint()
            return ckpt.build_model() if ckpt is not None else None
        return self._cpu_copy(model).eval()

    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint of a finished run, or of a stopped run's current weights (its test
        accuracy is measured now, once): from the store once saved, else from memory. None for
        other states, after release, or when a saved one was deleted from the store."""
        with self._ckpt_lock:
            with self._lock:
                held, status = self.kept_checkpoint, self._state.status
                if held is not None or status not in ("finished", "stopped"):
                    return held
                saved_id = None if self.released else self._state.checkpoint_id
                model, test_set = self.model, self.test_set
            if saved_id is not None:
                return self._stored_checkpoint(saved_id)
            if model is None or test_set is None:
                return None
            copy = self._cpu_copy(model)
            ckpt = self._make_checkpoint(copy, evaluate(copy, *test_set).accuracy)
            with self._lock:
                if not self.released:
                    self.kept_checkpoint = ckpt
                    self.model = None  # one copy of the weights is enough for a done run
            return ckpt

    def save(self, name: str | None = None) -> str:
        """Save the run to the store; returns the checkpoint id (an already saved run returns
        its id). CheckpointError when there is nothing to save, no store, or the write fails."""
        state = self._state
        if self._store is None:
            raise CheckpointError("There is no model store to save to.")
        with self._lock:
            if state.checkpoint_id is not None:
                return state.checkpoint_id
        ckpt = self.checkpoint()
        if ckpt is None:
            raise CheckpointError(
                f"{state.name} cannot be saved: it is {state.status}"
                + (" and its weights were released." if self.released else ".")
            )
        with self._ckpt_lock:
            if state.checkpoint_id is not None:  # saved by another thread meanwhile
                return state.checkpoint_id
            stored = self._store.save(
                ckpt, state.owner, name or state.name, timeline=self._final_timeline()
            )
            with self._lock:
                state.checkpoint_id, state.save_error = stored.id, None
                self._drop()  # on disk now: model_copy and checkpoint read it back
            return stored.id

    def finish(self, event: RunEnded) -> None:
        """Capture the final weights, save them and mark the run finished: the status turns
        finished only afterwards, so a finished snapshot always has a checkpoint id or a save
        error. Called in the worker thread, lock not held."""
        state, model = self._state, self.model
        assert model is not None
        with self._lock:
            started, test_set = state.started, self.test_set
        ckpt = self._make_checkpoint(model, event.test_accuracy)
        if started is not None and started.device != "cpu" and test_set is not None:
            # Measured on the GPU in bfloat16: the checkpoint states the float32 CPU figure.
            with self._lock:
                state.note("Measuring the test accuracy")
            ckpt = with_cpu_test_accuracy(ckpt, *test_set)
            event = dataclasses.replace(event, test_accuracy=ckpt.metrics["test_accuracy"])
            with self._lock:
                state.record.ended = event
        with self._lock:
            state.note("Saving")
        checkpoint_id, save_error = save_to_store(
            self._store, ckpt, state.owner, state.name, self._final_timeline()
        )
        with self._lock:
            self.model = self.test_set = None
            if checkpoint_id is not None:
                self.timeline = None  # on disk now
            self.kept_checkpoint = None if self.released or checkpoint_id is not None else ckpt
            state.checkpoint_id, state.save_error = checkpoint_id, save_error
            state.finish("finished", event.message, time.perf_counter())

    # ---- helpers ----------------------------------------------------------------------------
    def _make_checkpoint(self, model: nn.Module, test_accuracy: float | None) -> Checkpoint:
        """`model`'s checkpoint with the run's metrics and history as of now (read under the
        lock; the weights are copied outside it)."""
        state = self._state
        with self._lock:
            metrics = state.metrics(test_accuracy=test_accuracy)
            history = state.history()
        return make_checkpoint(model, state.config, metrics, name=state.name, history=history)

    def _drop(self) -> None:
        self.model = self.test_set = self.kept_checkpoint = self.timeline = None

    def _final_timeline(self) -> Timeline | None:
        """The run's timeline once it has ended (None when it keeps none)."""
        recorder = self.timeline
        return recorder.timeline() if recorder is not None else None

    def _cpu_copy(self, model: nn.Module) -> nn.Module:
        """`model` rebuilt on the CPU (train mode) from its weights as of the last full step."""
        live = self.live_state
        state = live() if live is not None else None
        if state is None:
            with self._weights_lock:
                # Copy the tensors only (fast, short hold); the module is rebuilt outside it.
                state = cpu_state_dict(model)
        config = self._state.config
        copy = uninitialised_model(config.model, **config.model_kwargs)
        copy.load_state_dict(state)
        return copy

    def _stored_checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        """The saved checkpoint read back from the store; None if it has gone (deleted)."""
        assert self._store is not None
        try:
            return self._store.load(checkpoint_id)
        except (OSError, MnistError):
            return None
