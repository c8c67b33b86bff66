"""Run `training.fit` in a background thread and watch it safely from any other thread.

`TrainingRunner` owns one run: it builds the model (so it can copy the weights while they
train), drives `fit` in a daemon thread, and folds the events into state that `snapshot()`
returns as an immutable `JobSnapshot`. Stop, pause and learning-rate changes go through
`TrainControl`, which `fit` reads before every step, so they act within one batch; a stop also
interrupts an end-of-epoch evaluation between its batches (of 1000 images).

A finished run is saved to the `ModelStore` automatically; a stopped one on request.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

import torch
from torch import nn

from mnist_core.checkpoints import Checkpoint, make_checkpoint, with_cpu_test_accuracy
from mnist_core.config import TrainConfig, field_info
from mnist_core.control import TrainControl
from mnist_core.data import MnistRaw
from mnist_core.errors import CheckpointError, ConfigError, MnistError
from mnist_core.evaluation import evaluate
from mnist_core.events import EpochMetrics, Event, RunEnded, RunStarted, StepMetrics
from mnist_core.memory import trim_heap
from mnist_core.models import create_model
from mnist_core.training import build_model, fit

if TYPE_CHECKING:
    from mnist_core.store import ModelStore

__all__ = [
    "ACTIVE_STATUSES",
    "DONE_STATUSES",
    "JobSnapshot",
    "JobStatus",
    "TrainingRunner",
    "set_thread_count",
]

log = logging.getLogger(__name__)

JobStatus = Literal[
    "queued", "running", "paused", "stopping", "finished", "stopped", "failed", "diverged"
]
DONE_STATUSES: frozenset[str] = frozenset({"finished", "stopped", "failed", "diverged"})
# Started and not yet done: these hold a slot (and CPU or GPU time) in the job manager.
ACTIVE_STATUSES: frozenset[str] = frozenset({"running", "paused", "stopping"})
assert DONE_STATUSES | ACTIVE_STATUSES | {"queued"} == set(get_args(JobStatus))

# Images per second when evaluating, relative to training, for guessing the evaluation time
# before the first epoch has measured it. Forward passes alone should be faster, but on our
# 2-core CPU evaluation (batches of 1000) measured 0.4x to 2x the training throughput: assume 1x.
_EVAL_SPEEDUP = 1.0
_RATE_WINDOW = 5  # StepMetrics used for the recent training rate behind the time-left estimate


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


@dataclass(frozen=True)
class JobSnapshot:
    """An immutable view of one job, safe to keep and read from any thread."""

    job_id: str
    owner: str
    name: str  # display name, e.g. "lenet5 #3"
    status: JobStatus
    config: TrainConfig
    queue_position: int | None  # 1-based while queued (set by the job manager), else None
    started: RunStarted | None
    steps: tuple[StepMetrics, ...]  # the full per-step history, oldest first
    epochs: tuple[EpochMetrics, ...]
    ended: RunEnded | None
    step: int
    total_steps: int
    epoch: float  # fractional, e.g. 1.25
    images_per_s: float  # training throughput of the latest window
    elapsed_s: float  # wall time since the run started (queued time excluded)
    eta_s: float | None  # estimated seconds left; None when unknown or not running
    lr: float  # current peak learning rate (config.lr or the override)
    message: str  # for people: "Running", "Queued: position 2", why it ended...
    error: str | None  # failed runs: the exception's message
    traceback: str | None  # failed runs: the formatted traceback
    checkpoint_id: str | None  # id in the ModelStore once saved
    save_error: str | None  # why the automatic save failed (the model is still in memory)
    created: float  # time.time() when the job was created (submitted)

    @property
    def done(self) -> bool:
        """Ended for good: finished, stopped, failed or diverged."""
        return self.status in DONE_STATUSES

    @property
    def active(self) -> bool:
        """Started and not yet done: running, paused or stopping."""
        return self.status in ACTIVE_STATUSES

    @property
    def progress(self) -> float:
        """Fraction of the optimisation steps done, in [0, 1]; 1 for a finished run."""
        if self.status == "finished":
            return 1.0
        return min(1.0, max(0.0, self.step / self.total_steps)) if self.total_steps else 0.0

    @property
    def test_accuracy(self) -> float | None:
        """Test accuracy of the final weights, else of the latest epoch that measured it."""
        if self.ended is not None and self.ended.test_accuracy is not None:
            return self.ended.test_accuracy
        for ep in reversed(self.epochs):
            if ep.test_accuracy is not None:
                return ep.test_accuracy
        return None


class TrainingRunner:
    """One training run in a daemon thread, controlled and observed from other threads.

    All public methods are thread-safe. State changes happen under one lock held only for
    bookkeeping, never during training or I/O, so `snapshot()` never waits for a step.
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
        self._ckpt_lock = threading.Lock()  # one checkpoint() evaluation at a time
        self._thread: threading.Thread | None = None
        self._created = time.time()

        self._status: JobStatus = "queued"
        self._message = "Queued"
        self._lr = config.lr
        self._started: RunStarted | None = None
        self._ended: RunEnded | None = None
        # Appended by the worker; readers get tuple() copies, rebuilt only when it grew.
        self._steps: list[StepMetrics] = []
        self._epochs: list[EpochMetrics] = []
        self._steps_view: tuple[StepMetrics, ...] = ()
        self._epochs_view: tuple[EpochMetrics, ...] = ()
        self._t_start: float | None = None  # perf_counter at start()
        self._t_end: float | None = None
        self._error: str | None = None
        self._traceback: str | None = None
        self._checkpoint_id: str | None = None
        self._save_error: str | None = None

        self._model: nn.Module | None = None
        self._test_set: tuple[torch.Tensor, torch.Tensor] | None = None  # for stopped runs
        self._checkpoint: Checkpoint | None = None
        self._released = False
        self._stop_reason: str | None = None  # replaces the message once stopped

    # ---- control --------------------------------------------------------------------------
    def start(self) -> bool:
        """Start training in a daemon thread. False if already started or already stopped."""
        with self._lock:
            if self._status != "queued" or self._thread is not None:
                return False
            self._status, self._message = "running", "Starting"
            self._t_start = time.perf_counter()
            self._thread = threading.Thread(
                target=self._run, name=f"mnist-job-{self.job_id}", daemon=True
            )
            # Started under the lock so no stop() can slip in between the status and the thread.
            self._thread.start()
        return True

    def pause(self) -> bool:
        """Pause before the next step. False unless running."""
        with self._lock:
            if self._status != "running":
                return False
            self._control.pause()
            self._status = "paused"
            self._message = f"Paused at step {self._step()}"
        return True

    def resume(self) -> bool:
        """Continue a paused run from the same step. False unless paused."""
        with self._lock:
            if self._status != "paused":
                return False
            self._control.resume()
            self._status, self._message = "running", "Running"
        return True

    def stop(self, reason: str | None = None) -> bool:
        """Stop before the next step (a queued run is stopped at once). False when it is
        already done or stopping. `reason` replaces the message shown once it has stopped."""
        with self._lock:
            if self._status == "queued":
                self._status = "stopped"
                self._message = reason or "Stopped before it started."
                self._t_end = time.perf_counter()
                self._data = _no_data  # a queued job never needs the data again
                return True
            if self._status not in ("running", "paused"):
                return False
            self._status, self._message = "stopping", "Stopping…"
            self._stop_reason = reason
            self._control.request_stop()  # also wakes a paused run
        return True

    def set_lr(self, lr: float) -> None:
        """Change the peak learning rate from the next step on (the schedule keeps its
        shape). ConfigError when out of the allowed range."""
        f = field_info("lr")
        lo, hi = f.metadata["min"], f.metadata["max"]
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not lo <= lr <= hi:
            raise ConfigError(f"learning rate must be between {lo:g} and {hi:g}; got {lr!r}.")
        with self._lock:
            self._control.set_lr(float(lr))
            self._lr = float(lr)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread; True once the run is done."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._lock:
            return self._status in DONE_STATUSES and (thread is None or not thread.is_alive())

    def release(self) -> None:
        """Drop the weights and data this run holds (the job manager calls it for jobs whose
        browser tab went away). The snapshot stays; model_copy and checkpoint return None."""
        with self._lock:
            self._released = True
            if self._status in DONE_STATUSES:
                self._drop_memory()

    # ---- observation ----------------------------------------------------------------------
    @property
    def status(self) -> JobStatus:
        return self._status

    @property
    def holds_weights(self) -> bool:
        """True for a done run that keeps weights in memory (stopped, or its save failed)."""
        with self._lock:
            return self._status in DONE_STATUSES and (
                self._model is not None or self._checkpoint is not None
            )

    def snapshot(self) -> JobSnapshot:
        """The current state as an immutable JobSnapshot; cheap, safe from any thread."""
        with self._lock:
            if len(self._steps_view) != len(self._steps):
                self._steps_view = tuple(self._steps)
            if len(self._epochs_view) != len(self._epochs):
                self._epochs_view = tuple(self._epochs)
            started = self._started
            total = (
                started.total_steps
                if started
                else self.config.steps_per_epoch * (self.config.epochs)
            )
            if self._t_start is None:
                elapsed = 0.0
            else:
                elapsed = (self._t_end or time.perf_counter()) - self._t_start
            last_step = self._steps[-1] if self._steps else None
            return JobSnapshot(
                job_id=self.job_id,
                owner=self.owner,
                name=self.name,
                status=self._status,
                config=self.config,
                queue_position=None,
                started=started,
                steps=self._steps_view,
                epochs=self._epochs_view,
                ended=self._ended,
                step=self._step(),
                total_steps=total,
                epoch=self._epoch(),
                images_per_s=last_step.images_per_s if last_step else 0.0,
                elapsed_s=elapsed,
                eta_s=self._eta(),
                lr=self._lr,
                message=self._message,
                error=self._error,
                traceback=self._traceback,
                checkpoint_id=self._checkpoint_id,
                save_error=self._save_error,
                created=self._created,
            )

    def model_copy(self) -> nn.Module | None:
        """A copy of the current weights as a CPU model in eval mode, for predictions while
        training goes on. Taken under the weights lock, so it never mixes two optimiser steps.
        None before the model exists and after `release()`. A saved run's model comes from
        the store: a done run keeps at most one copy of its weights in memory (see _finish)."""
        model = self._model
        if model is None:
            ckpt = self.checkpoint()
            return ckpt.build_model() if ckpt is not None else None
        with self._control.weights_lock:
            # Copy the tensors only (fast, short hold); the module is rebuilt outside the lock.
            state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        copy = create_model(self.config.model, **self.config.model_kwargs)
        copy.load_state_dict(state)
        return copy.eval()

    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint of a finished run, or of a stopped run's current weights (its test
        accuracy is measured now, once): from the store once saved, else from memory. None for
        other states, after release(), or when a saved one was deleted from the store."""
        with self._ckpt_lock:
            with self._lock:
                if self._checkpoint is not None or self._status not in ("finished", "stopped"):
                    return self._checkpoint
                saved_id = None if self._released else self._checkpoint_id
                if saved_id is None and (self._model is None or self._test_set is None):
                    return None
                model, test_set = self._model, self._test_set
            if saved_id is not None:
                return self._stored_checkpoint(saved_id)
            assert model is not None and test_set is not None
            test_x, test_y = test_set
            with self._control.weights_lock:
                state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            copy = create_model(self.config.model, **self.config.model_kwargs)
            copy.load_state_dict(state)
            accuracy = evaluate(copy, test_x, test_y).accuracy
            ckpt = make_checkpoint(
                copy, self.config, self._metrics(test_accuracy=accuracy), name=self.name
            )
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
            if self._checkpoint_id is not None:
                return self._checkpoint_id
        ckpt = self.checkpoint()
        if ckpt is None:
            raise CheckpointError(
                f"{self.name} cannot be saved: it is {self._status}"
                + (" and its weights were released." if self._released else ".")
            )
        with self._ckpt_lock:
            if self._checkpoint_id is not None:  # saved by another thread meanwhile
                return self._checkpoint_id
            stored = self._store.save(ckpt, self.owner, name or self.name)
            with self._lock:
                self._checkpoint_id, self._save_error = stored.id, None
                self._drop_memory()  # on disk now: model_copy and checkpoint read it back
            return stored.id

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
                if self._status == "running":
                    self._message = "Loading data"
                data = self._data
            raw = data()
            model = build_model(self.config)
            with self._lock:
                self._model = model
                self._test_set = (raw.test_images, raw.test_labels)
                if self._status == "running":
                    self._message = "Preparing"
            for event in fit(self.config, raw, model=model, control=self._control):
                self._on_event(event)
        except Exception as e:
            self._fail(e)
        finally:
            with self._lock:
                if self._status not in DONE_STATUSES:  # cannot happen; never leave it running
                    self._error = self._error or "Training ended unexpectedly."
                    self._set_done("failed", self._error)
                self._data = _no_data
            if self._on_end is not None:
                try:
                    self._on_end(self)
                except Exception:  # the manager's callback must not turn a run into a failure
                    log.exception("on_end callback of job %s failed", self.job_id)
            trim_heap()  # this run's batches and activations are free now: give them back

    def _on_event(self, event: Event) -> None:
        # fit() yields nothing while it evaluates, so the message says when that is coming.
        if isinstance(event, StepMetrics):
            with self._lock:
                self._steps.append(event)
                if self._status == "running":
                    end_of_epoch = self._started and event.step % self._started.steps_per_epoch == 0
                    epoch = round(event.epoch)
                    self._message = f"Evaluating epoch {epoch}" if end_of_epoch else "Running"
        elif isinstance(event, EpochMetrics):
            with self._lock:
                self._epochs.append(event)
                if self._status == "running":
                    last = event.epoch == self.config.epochs and not self.config.eval_test
                    self._message = "Measuring the test accuracy" if last else "Running"
        elif isinstance(event, RunStarted):
            with self._lock:
                self._started = event
                if self._status == "running":
                    self._message = "Running"
        elif isinstance(event, RunEnded):
            self._on_ended(event)

    def _on_ended(self, event: RunEnded) -> None:
        if self._model is not None:
            with self._control.weights_lock:
                self._model.to("cpu")  # free GPU memory; copies and checkpoints are CPU anyway
        with self._lock:
            self._ended = event
        if event.status == "finished":
            self._finish(event)
            return
        with self._lock:
            reason = self._stop_reason if event.status == "stopped" else None
            self._set_done(event.status, reason or event.message)

    def _finish(self, event: RunEnded) -> None:
        """Capture the final weights and save them; the status turns finished afterwards, so
        a finished snapshot always has a checkpoint id or a save error."""
        assert self._model is not None
        ckpt = make_checkpoint(
            self._model,
            self.config,
            self._metrics(test_accuracy=event.test_accuracy),
            name=self.name,
        )
        started, test_set = self._started, self._test_set
        if started is not None and started.device != "cpu" and test_set is not None:
            with self._lock:
                self._message = "Measuring the test accuracy"
            ckpt = with_cpu_test_accuracy(ckpt, *test_set)
            event = dataclasses.replace(event, test_accuracy=ckpt.metrics["test_accuracy"])
            with self._lock:
                self._ended = event
        with self._lock:
            self._message = "Saving"
        checkpoint_id = save_error = None
        if self._store is not None:
            try:
                checkpoint_id = self._store.save(ckpt, self.owner, self.name).id
            except (OSError, MnistError) as e:
                save_error = str(e)
            except Exception as e:  # a bug in saving must not hide a finished run
                log.exception("saving job %s failed", self.job_id)
                save_error = f"Could not save the model: {type(e).__name__}: {e}"
        with self._lock:
            # A hosted demo keeps many done runs (5 per visitor, for half an hour after the
            # visitor's last heartbeat): each keeps at most one copy of its weights in memory,
            # and none once it is on disk (model_copy and checkpoint read the store then).
            self._model = self._test_set = None
            self._checkpoint = None if self._released or checkpoint_id is not None else ckpt
            self._checkpoint_id, self._save_error = checkpoint_id, save_error
            self._set_done("finished", event.message)

    def _fail(self, e: Exception) -> None:
        error = str(e).strip() or type(e).__name__
        with self._lock:
            self._error = error
            self._traceback = traceback.format_exc()
            # Our own errors are written for people; anything else is a bug, said as such.
            self._set_done(
                "failed",
                error
                if isinstance(e, MnistError)
                else f"Training failed with an unexpected error: {type(e).__name__}: {error}",
            )
        log.warning("job %s failed: %s", self.job_id, error)

    # ---- helpers (call with self._lock held) ----------------------------------------------
    def _set_done(self, status: JobStatus, message: str) -> None:
        self._status, self._message = status, message
        self._t_end = self._t_end or time.perf_counter()
        # In the same critical section as the status, so whoever sees the run done also sees
        # its weights gone when they were released (or useless: NaN, or never trained).
        if self._released or status in ("failed", "diverged"):
            self._drop_memory()

    def _drop_memory(self) -> None:
        self._model = None
        self._test_set = None
        self._checkpoint = None

    def _step(self) -> int:
        candidates = [0]
        if self._steps:
            candidates.append(self._steps[-1].step)
        if self._epochs:
            candidates.append(self._epochs[-1].step)
        if self._ended:
            candidates.append(self._ended.step)
        return max(candidates)

    def _epoch(self) -> float:
        if self._ended is not None and self._ended.status == "finished":
            return float(self._ended.epochs_done)
        last_step = self._steps[-1].epoch if self._steps else 0.0
        last_epoch = float(self._epochs[-1].epoch) if self._epochs else 0.0
        return max(last_step, last_epoch)

    def _eta(self) -> float | None:
        """Seconds left: steps left at the recent training rate, plus the evaluations still
        to come (measured per epoch once one has run, else guessed from the throughput)."""
        if self._status not in ACTIVE_STATUSES or self._started is None or not self._steps:
            return None
        window = self._steps[-_RATE_WINDOW:]
        first, last = window[0], window[-1]
        if len(window) > 1 and last.train_seconds > first.train_seconds:
            rate = (last.step - first.step) / (last.train_seconds - first.train_seconds)
        else:
            rate = last.step / max(last.train_seconds, 1e-9)
        if rate <= 0:
            return None
        started, cfg = self._started, self.config
        train_left = max(0, started.total_steps - self._step()) / rate
        epochs_left = cfg.epochs - (self._epochs[-1].epoch if self._epochs else 0)
        eval_rate = max(last.images_per_s, 1e-9) * _EVAL_SPEEDUP  # images/s when evaluating
        if self._epochs and self._epochs[-1].eval_seconds > 0:
            per_epoch = self._epochs[-1].eval_seconds / len(self._epochs)
        else:
            per_epoch = (started.n_val + (started.n_test if cfg.eval_test else 0)) / eval_rate
        final_test = 0.0 if cfg.eval_test else started.n_test / eval_rate
        return train_left + epochs_left * per_epoch + final_test

    def _metrics(self, *, test_accuracy: float | None) -> dict[str, object]:
        """The metrics stored in a checkpoint (plain types only)."""
        with self._lock:
            ended, epochs, steps, started = self._ended, self._epochs, self._steps, self._started
            train_s = ended.train_seconds if ended else (steps[-1].train_seconds if steps else 0.0)
            step = self._step()
        images = 0
        if started is not None:  # the last batch of an epoch may be smaller than batch_size
            full, rest = divmod(step, started.steps_per_epoch)
            images = full * started.n_train + rest * self.config.batch_size
        return {
            "test_accuracy": test_accuracy,
            "val_accuracy": ended.val_accuracy
            if ended
            else (epochs[-1].val_accuracy if epochs else None),
            "train_seconds": train_s,
            "eval_seconds": ended.eval_seconds
            if ended
            else (epochs[-1].eval_seconds if epochs else 0.0),
            "epochs": ended.epochs_done if ended else len(epochs),
            "steps": step,
            "images_per_s": images / train_s if train_s > 0 else None,
            "status": ended.status if ended else self._status,
            "job_name": self.name,
        }


def _no_data() -> MnistRaw:
    raise MnistError("This job no longer has access to the data.")
