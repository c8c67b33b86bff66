"""Run `train.loop.fit` in the background and watch it safely from any other thread.

`TrainingRunner` is the thread shell of one run: its daemon thread drives `fit` through an
executor (`executors/`: in this thread, in a child process, or on a Ray actor) and hands
each event to its `JobState` (the pure fold in `snapshot.py`), whose `snapshot()` other
threads read; its `RunWeights` (`weights.py`) hold the model and checkpoint and save them.
Stop, pause and learning-rate changes go through `TrainControl`, which `fit` reads before
every step, so they act within one batch; a stop also interrupts an end-of-epoch evaluation
between its batches (of `training.EVAL_BATCH` = 500 images).

A finished run is saved to the `ModelStore` automatically; a stopped one on request. Either
keeps its training timeline beside its checkpoint (`mnist_core.train.timeline`), within the
`MNIST_TIMELINE_MAX_MB` cap, unless it is one of a sweep's runs.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mnist_core.data.mnist import MnistRaw
from mnist_core.errors import MnistError
from mnist_core.jobs.executors.base import Executor, RunTask, ThreadExecutor
from mnist_core.jobs.failures import RemoteFailure, failure_message
from mnist_core.jobs.snapshot import JobSnapshot, JobState, JobStatus
from mnist_core.jobs.weights import RunWeights
from mnist_core.machine import memory_summary, set_thread_count, trim_heap
from mnist_core.settings import settings
from mnist_core.train.config import TrainConfig, check_lr
from mnist_core.train.control import TrainControl
from mnist_core.train.events import Event, RunEnded
from mnist_core.train.finetune import FineTuneData
from mnist_core.train.loop import build_model
from mnist_core.train.timeline import TimelineRecorder

if TYPE_CHECKING:
    from mnist_core.storage.store import ModelStore

__all__ = ["TrainingRunner"]

log = logging.getLogger(__name__)


class TrainingRunner:
    """One training run in a daemon thread, controlled and observed from other threads.

    All public methods are thread-safe. State changes happen under `_lock`, held only for
    bookkeeping, never during training or I/O, so `snapshot()` never waits for a step.
    `weights` (a `RunWeights`) gives the model copies and checkpoints, saves and releases.
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
        tags: Mapping[str, Any] | None = None,
        finetune: FineTuneData | None = None,
        executor: Executor | None = None,
    ) -> None:
        """`data` is called in the worker thread (loading MNIST can take seconds). `threads`
        limits torch's intra-op threads in that thread (None: leave torch's default).
        `on_end` is called in the worker thread once the run is done (the job manager uses
        it to start the next job); it must not raise and must not block. `tags`: plain values
        added to the checkpoint's metrics (the sweep a run belongs to). `finetune`: start from
        those weights on that mixed data, and measure the held-back handwriting before and
        after (tags "personal_accuracy_before" / "personal_accuracy_after"). `executor`:
        where `fit` itself runs (default: in this runner's thread)."""
        self.config, self.job_id, self.owner, self.name = config, job_id, owner, name
        self._data, self._threads, self._on_end = data, threads, on_end
        self._finetune = finetune
        self._executor = executor or ThreadExecutor()
        self._control = TrainControl()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state = JobState(
            config, job_id=job_id, owner=owner, name=name, created=time.time(), tags=tags
        )
        self.weights = RunWeights(self._state, self._lock, self._control.weights_lock, store)

    # ---- control --------------------------------------------------------------------------
    def start(self) -> bool:
        """Start training in a daemon thread. False if already started or already stopped."""
        with self._lock:
            if self._thread is not None or not self._state.start(time.perf_counter()):
                return False
            thread = threading.Thread(
                target=self._run, name=f"mnist-job-{self.job_id}", daemon=True
            )
            # Started under the lock so no stop() can slip in between the status and the thread,
            # and published only once started: `join` reads it without the lock, and joining a
            # thread not yet started raises (seen in CI: JobManager.wait polling a job the
            # scheduler was starting).
            thread.start()
            self._thread = thread
        return True

    def pause(self) -> bool:
        """Pause before the next step. False unless running."""
        with self._lock:
            paused = self._state.pause(time.perf_counter())
            if paused:
                self._control.pause()
        return paused

    def resume(self) -> bool:
        """Continue a paused run from the same step. False unless paused."""
        with self._lock:
            resumed = self._state.resume(time.perf_counter())
            if resumed:
                self._control.resume()
        return resumed

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
            self._state.set_lr(lr)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread; True once the run is done."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._lock:
            return self._state.done and (thread is None or not thread.is_alive())

    # ---- observation ----------------------------------------------------------------------
    @property
    def status(self) -> JobStatus:
        return self._state.status

    def snapshot(self) -> JobSnapshot:
        """The current state as an immutable JobSnapshot; cheap, safe from any thread."""
        with self._lock:
            return self._state.snapshot(time.perf_counter())

    # ---- the worker thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self._threads:
                set_thread_count(self._threads)
            with self._lock:
                self._state.note("Loading data")
                data = self._data
            raw = data()
            ft = self._finetune
            model = build_model(self.config) if ft is None else ft.start_model(self.config)
            if ft is not None:
                before = ft.held_accuracy(model)
                with self._lock:
                    self._state.tags["personal_accuracy_before"] = before
            # Every single run trained here keeps a timeline; a sweep's runs do not: a class
            # replays one run, and a 64-run MLP sweep would keep about 0.9 GB of snapshots.
            cap = settings().timeline_max_bytes
            in_sweep = "sweep_id" in self._state.tags
            timeline = TimelineRecorder(cap) if cap > 0 and not in_sweep else None
            with self._lock:
                self.weights.attach(model, (raw.test_images, raw.test_labels), timeline)
                self._state.note("Preparing")
            task = RunTask(
                self.job_id, self.config, raw, model, self._control, self._threads, ft, timeline
            )
            executor = self._executor
            if not isinstance(executor, ThreadExecutor):  # the live weights are over there
                self.weights.live_state = lambda: executor.live_state(self.job_id)
            for event in executor.run(task):
                self._on_event(event)
        except Exception as e:
            error, message = failure_message(e)
            trace = e.trace if isinstance(e, RemoteFailure) else traceback.format_exc()
            with self._lock:
                self.weights.live_state = None
                self._state.fail(error, message, trace, time.perf_counter())
                self.weights.after_done()
            log.warning("job %s failed: %s", self.job_id, error)
        finally:
            self._end()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, RunEnded):
            self.weights.live_state = None  # the model here holds the final weights now
            self.weights.to_cpu()
            ft, model = self._finetune, self.weights.model
            if ft is not None and model is not None and event.status == "finished":
                after = ft.held_accuracy(model)  # before the checkpoint takes the tags
                with self._lock:
                    self._state.tags["personal_accuracy_after"] = after
        with self._lock:
            self._state.apply(event, time.perf_counter())
            if self._state.done:  # stopped or diverged
                self.weights.after_done()
        if isinstance(event, RunEnded) and event.status == "finished":
            self.weights.finish(event)

    def _end(self) -> None:
        with self._lock:
            if not self._state.done:  # cannot happen; never leave it running
                error = self._state.error or "Training ended unexpectedly."
                self._state.error = error
                self._state.finish("failed", error, time.perf_counter())
                self.weights.after_done()
            self._data = _no_data
        if self._on_end is not None:
            try:
                self._on_end(self)
            except Exception:  # the manager's callback must not turn a run into a failure
                log.exception("on_end callback of job %s failed", self.job_id)
        trim_heap()  # this run's batches and activations are free now: give them back
        # What a deployer reads to size a container (docs/deploy.md, the first-deploy checklist).
        log.info("job %s ended (%s); %s", self.job_id, self._state.status, memory_summary())


def _no_data() -> MnistRaw:
    raise MnistError("This job no longer has access to the data.")
