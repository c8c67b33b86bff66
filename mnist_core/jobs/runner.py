"""Run `training.fit` in a background thread and watch it safely from any other thread.

`TrainingRunner` owns one run: it builds the model (so it can copy the weights while they
train), drives `fit` in a daemon thread and hands each event to its `JobState` (the pure fold
in `snapshot.py`), whose `snapshot()` other threads read. Stop, pause and learning-rate changes
go through `TrainControl`, which `fit` reads before every step, so they act within one batch;
a stop also interrupts an end-of-epoch evaluation between its batches (of
`training.EVAL_BATCH` = 500 images).

A finished run is saved to the `ModelStore` automatically; a stopped one on request.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from mnist_core.checkpoints import (
    Checkpoint,
    cpu_state_dict,
    make_checkpoint,
    with_cpu_test_accuracy,
)
from mnist_core.config import TrainConfig, check_lr
from mnist_core.control import TrainControl
from mnist_core.data import MnistRaw
from mnist_core.errors import CheckpointError, MnistError
from mnist_core.evaluation import evaluate
from mnist_core.events import Event, RunEnded
from mnist_core.jobs.snapshot import JobSnapshot, JobState, JobStatus
from mnist_core.memory import trim_heap
from mnist_core.models import create_model
from mnist_core.training import build_model, fit

if TYPE_CHECKING:
    from mnist_core.store import ModelStore

__all__ = ["TrainingRunner", "set_thread_count"]

log = logging.getLogger(__name__)


def set_thread_count(n: int) -> None:
    """Limit torch's intra-op threads for the calling thread only.

    With torch's OpenMP backend the thread count is per thread, but a thread that has not yet
    run a parallel op initialises it lazily from the value most recently set by *any* thread.
    Reading it first forces that initialisation, so a later `set_num_threads` in another job's
    thread cannot override this one. (Threads that first touch torch after this call start
    with `n` threads too: torch keeps the last value set as the default for new threads.)
    """
    torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))


def save_to_store(
    store: ModelStore | None, ckpt: Checkpoint, owner: str, name: str
) -> tuple[str | None, str | None]:
    """Save a finished run: (checkpoint id, None), or (None, why it failed for people).
    Never raises: a failed save must not hide a finished run (its weights stay in memory)."""
    if store is None:
        return None, None
    try:
        return store.save(ckpt, owner, name).id, None
    except (OSError, MnistError) as e:
        return None, str(e)
    except Exception as e:  # a bug in saving
        log.exception("saving %s of %s failed", name, owner)
        return None, f"Could not save the model: {type(e).__name__}: {e}"


class TrainingRunner:
    """One training run in a daemon thread, controlled and observed from other threads.

    All public methods are thread-safe. State changes happen under `_lock`, held only for
    bookkeeping, never during training or I/O, so `snapshot()` never waits for a step. The
    weights have their own locks: `TrainControl.weights_lock` (held by fit around each step)
    and `_ckpt_lock` (one checkpoint evaluation or save at a time).
    """

    def __init__(
        self,
        config: TrainConfig,
        data: Callable[[], MnistRaw],
        *,
        job_id: str,
        owner: str,
        name: str,
        store: ModelStore | None = None,
        threads: int | None = None,
        on_end: Callable[[TrainingRunner], None] | None = None,
    ) -> None:
        """`data` is called in the worker thread (loading MNIST can take seconds). `threads`
        limits torch's intra-op threads in that thread (None: leave torch's default).
        `on_end` is called in the worker thread once the run is done (the job manager uses
        it to start the next job); it must not raise and must not block."""
        self.config = config
        self.job_id = job_id
        self.owner = owner
        self.name = name
        self._data = data
        self._store = store
        self._threads = threads
        self._on_end = on_end
        self._control = TrainControl()
        self._lock = threading.Lock()
        self._ckpt_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state = JobState(config, job_id=job_id, owner=owner, name=name, created=time.time())
        # The weights a run holds; a done run keeps at most one copy (see _finish).
        self._model: nn.Module | None = None
        self._test_set: tuple[torch.Tensor, torch.Tensor] | None = None  # for stopped runs
        self._checkpoint: Checkpoint | None = None
        self._released = False

    # ---- control --------------------------------------------------------------------------
    def start(self) -> bool:
        """Start training in a daemon thread. False if already started or already stopped."""
        with self._lock:
            if self._thread is not None or not self._state.start(time.perf_counter()):
                return False
            self._thread = threading.Thread(
                target=self._run, name=f"mnist-job-{self.job_id}", daemon=True
            )
            # Started under the lock so no stop() can slip in between the status and the thread.
            self._thread.start()
        return True

    def pause(self) -> bool:
        """Pause before the next step. False unless running."""
        with self._lock:
            if not self._state.pause():
                return False
            self._control.pause()
        return True

    def resume(self) -> bool:
        """Continue a paused run from the same step. False unless paused."""
        with self._lock:
            if not self._state.resume():
                return False
            self._control.resume()
        return True

    def stop(self, reason: str | None = None) -> bool:
        """Stop before the next step (a queued run is stopped at once). False when it is
        already done or stopping. `reason` replaces the message shown once it has stopped."""
        with self._lock:
            outcome = self._state.request_stop(reason, time.perf_counter())
            if outcome == "stopped":
                self._data = _no_data  # a queued job never needs the data again
            elif outcome == "stopping":
                self._control.request_stop()  # also wakes a paused run
        return outcome is not None

    def set_lr(self, lr: float) -> None:
        """Change the peak learning rate from the next step on (the schedule keeps its
        shape). ConfigError when out of the allowed range."""
        lr = check_lr(lr)
        with self._lock:
            self._control.set_lr(lr)
            self._state.lr = lr

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread; True once the run is done."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._lock:
            return self._state.done and (thread is None or not thread.is_alive())

    def release(self) -> None:
        """Drop the weights and data this run holds (the job manager calls it for jobs whose
        browser tab went away). The snapshot stays; model_copy and checkpoint return None."""
        with self._lock:
            self._released = True
            if self._state.done:
                self._drop_weights()

    # ---- observation ----------------------------------------------------------------------
    @property
    def status(self) -> JobStatus:
        return self._state.status

    @property
    def holds_weights(self) -> bool:
        """True for a done run that keeps weights in memory (stopped, or its save failed)."""
        with self._lock:
            return self._state.done and (self._model is not None or self._checkpoint is not None)

    def snapshot(self) -> JobSnapshot:
        """The current state as an immutable JobSnapshot; cheap, safe from any thread."""
        with self._lock:
            return self._state.snapshot(time.perf_counter())

    def model_copy(self) -> nn.Module | None:
        """A copy of the current weights as a CPU model in eval mode, for predictions while
        training goes on. Taken under the weights lock, so it never mixes two optimiser steps.
        None before the model exists and after `release()`. A saved run's model comes from
        the store: a done run keeps at most one copy of its weights in memory (see _finish)."""
        model = self._model
        if model is None:
            ckpt = self.checkpoint()
            return ckpt.build_model() if ckpt is not None else None
        return self._cpu_copy(model).eval()

    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint of a finished run, or of a stopped run's current weights (its test
        accuracy is measured now, once): from the store once saved, else from memory. None for
        other states, after release(), or when a saved one was deleted from the store."""
        with self._ckpt_lock:
            with self._lock:
                if self._checkpoint is not None or self.status not in ("finished", "stopped"):
                    return self._checkpoint
                saved_id = None if self._released else self._state.checkpoint_id
                if saved_id is None and (self._model is None or self._test_set is None):
                    return None
                model, test_set = self._model, self._test_set
            if saved_id is not None:
                return self._stored_checkpoint(saved_id)
            assert model is not None and test_set is not None
            copy = self._cpu_copy(model)
            accuracy = evaluate(copy, *test_set).accuracy
            with self._lock:
                metrics = self._state.metrics(test_accuracy=accuracy)
            ckpt = make_checkpoint(copy, self.config, metrics, name=self.name)
            with self._lock:
                if not self._released:
                    self._checkpoint = ckpt
                    self._model = None  # one copy of the weights is enough for a done run
            return ckpt

    def save(self, name: str | None = None) -> str:
        """Save the run to the store (automatic for finished runs; stopped runs on request).
        Returns the checkpoint id; an already saved run returns its id. CheckpointError when
        there is nothing to save, no store, or the write fails."""
        if self._store is None:
            raise CheckpointError("There is no model store to save to.")
        with self._lock:
            if self._state.checkpoint_id is not None:
                return self._state.checkpoint_id
        ckpt = self.checkpoint()
        if ckpt is None:
            raise CheckpointError(
                f"{self.name} cannot be saved: it is {self.status}"
                + (" and its weights were released." if self._released else ".")
            )
        with self._ckpt_lock:
            if self._state.checkpoint_id is not None:  # saved by another thread meanwhile
                return self._state.checkpoint_id
            stored = self._store.save(ckpt, self.owner, name or self.name)
            with self._lock:
                self._state.checkpoint_id, self._state.save_error = stored.id, None
                self._drop_weights()  # on disk now: model_copy and checkpoint read it back
            return stored.id

    def _cpu_copy(self, model: nn.Module) -> nn.Module:
        """`model` rebuilt on the CPU (train mode) from its weights as of the last full step."""
        with self._control.weights_lock:
            # Copy the tensors only (fast, short hold); the module is rebuilt outside the lock.
            state = cpu_state_dict(model)
        copy = create_model(self.config.model, **self.config.model_kwargs)
        copy.load_state_dict(state)
        return copy

    def _stored_checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        """The saved checkpoint read back from the store; None if it has gone (deleted)."""
        assert self._store is not None
        try:
            return self._store.load(checkpoint_id)
        except (OSError, MnistError):
            return None

    # ---- the worker thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self._threads:
                set_thread_count(self._threads)
            with self._lock:
                self._state.note("Loading data")
                data = self._data
            raw = data()
            model = build_model(self.config)
            with self._lock:
                self._model = model
                self._test_set = (raw.test_images, raw.test_labels)
                self._state.note("Preparing")
            for event in fit(self.config, raw, model=model, control=self._control):
                self._on_event(event)
        except Exception as e:
            self._fail(e)
        finally:
            with self._lock:
                if not self._state.done:  # cannot happen; never leave it running
                    error = self._state.error or "Training ended unexpectedly."
                    self._state.error = error
                    self._set_done("failed", error)
                self._data = _no_data
            if self._on_end is not None:
                try:
                    self._on_end(self)
                except Exception:  # the manager's callback must not turn a run into a failure
                    log.exception("on_end callback of job %s failed", self.job_id)
            trim_heap()  # this run's batches and activations are free now: give them back

    def _on_event(self, event: Event) -> None:
        if isinstance(event, RunEnded) and self._model is not None:
            with self._control.weights_lock:
                self._model.to("cpu")  # free GPU memory; copies and checkpoints are CPU anyway
        with self._lock:
            self._state.apply(event, time.perf_counter())
            if self._state.done:  # stopped or diverged
                self._after_done()
        if isinstance(event, RunEnded) and event.status == "finished":
            self._finish(event)

    def _finish(self, event: RunEnded) -> None:
        """Capture the final weights and save them; the status turns finished afterwards, so
        a finished snapshot always has a checkpoint id or a save error."""
        assert self._model is not None
        with self._lock:
            metrics = self._state.metrics(test_accuracy=event.test_accuracy)
            started, test_set = self._state.started, self._test_set
        ckpt = make_checkpoint(self._model, self.config, metrics, name=self.name)
        if started is not None and started.device != "cpu" and test_set is not None:
            with self._lock:
                self._state.note("Measuring the test accuracy")
            ckpt = with_cpu_test_accuracy(ckpt, *test_set)
            event = dataclasses.replace(event, test_accuracy=ckpt.metrics["test_accuracy"])
            with self._lock:
                self._state.ended = event
        with self._lock:
            self._state.note("Saving")
        checkpoint_id, save_error = save_to_store(self._store, ckpt, self.owner, self.name)
        with self._lock:
            # A hosted demo keeps many done runs (5 per visitor, for half an hour after the
            # visitor's last heartbeat): each keeps at most one copy of its weights in memory,
            # and none once it is on disk (model_copy and checkpoint read the store then).
            self._model = self._test_set = None
            self._checkpoint = None if self._released or checkpoint_id is not None else ckpt
            self._state.checkpoint_id, self._state.save_error = checkpoint_id, save_error
            self._set_done("finished", event.message)

    def _fail(self, e: Exception) -> None:
        error = str(e).strip() or type(e).__name__
        # Our own errors are written for people; anything else is a bug, said as such.
        message = (
            error
            if isinstance(e, MnistError)
            else f"Training failed with an unexpected error: {type(e).__name__}: {error}"
        )
        with self._lock:
            self._state.fail(error, message, traceback.format_exc(), time.perf_counter())
            self._after_done()
        log.warning("job %s failed: %s", self.job_id, error)

    # ---- helpers (call with self._lock held) ----------------------------------------------
    def _set_done(self, status: JobStatus, message: str) -> None:
        self._state.finish(status, message, time.perf_counter())
        self._after_done()

    def _after_done(self) -> None:
        # In the same critical section as the status, so whoever sees the run done also sees
        # its weights gone when they were released (or useless: NaN, or never trained).
        if self._released or self._state.status in ("failed", "diverged"):
            self._drop_weights()

    def _drop_weights(self) -> None:
        self._model = None
        self._test_set = None
        self._checkpoint = None


def _no_data() -> MnistRaw:
    raise MnistError("This job no longer has access to the data.")
