"""Where a job's `fit` runs: the executor interface, threads here, and the warm-worker relay.

The job manager (`manager.py`) and its runners (`runner.py`) keep every job's state in the
app's process; an executor only decides where the training loop itself runs:

- `ThreadExecutor` (`thread`): in the runner's own thread, as it always did. Kept for
  notebooks and tests; on a CPU it shares the GIL with the web server.
- `RemoteExecutor`: the base of `process` (child processes, `process.py`) and `ray` (actors,
  `ray.py`). It keeps warm workers (torch imported, the data received once), starts
  the job on one, and relays: the controls go out whenever they change, the events come back
  by polling, and a copy of the current weights can be fetched at any time. A worker that
  dies fails its job with `WorkerLost` and is replaced; the next job gets a live one.

`run(task)` yields the events of `fit` exactly as the thread executor does: when it yields
`RunEnded`, `task.model` holds the final weights (and `task.timeline` the training timeline),
so the runner saves the same checkpoint whichever executor trained it.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from torch import nn

from mnist_core.data.mnist import MnistRaw
from mnist_core.errors import MnistError
from mnist_core.jobs.executors.remote import Controls, state_from_bytes, state_to_bytes
from mnist_core.jobs.failures import RemoteFailure, WorkerLost
from mnist_core.settings import EXECUTOR_KINDS as EXECUTORS
from mnist_core.storage.checkpoints import cpu_state_dict
from mnist_core.storage.timelines import timeline_from_bytes
from mnist_core.train.config import TrainConfig
from mnist_core.train.control import TrainControl
from mnist_core.train.events import Event, RunEnded
from mnist_core.train.finetune import FineTuneData
from mnist_core.train.timeline import TimelineRecorder

__all__ = [
    "EXECUTORS",
    "Executor",
    "Placement",
    "RemoteExecutor",
    "RemoteFailure",
    "RunTask",
    "ThreadExecutor",
    "Worker",
    "WorkerLost",
]

log = logging.getLogger(__name__)

POLL_S = 0.05  # the longest a relay waits for an event before it looks at the controls again


@dataclass(frozen=True)
class RunTask:
    """One job as an executor runs it. `model` holds the starting weights (CPU); the thread
    executor trains it in place, remote ones train a copy and load the final weights into it.
    `timeline`: records the training timeline (remote ones record it there and hand it over
    to this recorder when the run ends)."""

    job_id: str
    config: TrainConfig
    raw: MnistRaw
    model: nn.Module
    control: TrainControl
    threads: int | None = None
    finetune: FineTuneData | None = None
    timeline: TimelineRecorder | None = None


@dataclass(frozen=True)
class Placement:
    """Where jobs run, for the sidebar. `note`: why it is not what was asked for, if so."""

    kind: str  # "thread", "process" or "ray"
    summary: str  # e.g. "this machine's processes (2 warm)" or "Ray cluster: 3 nodes, ..."
    nodes: int = 1
    cpus: float = 0.0
    gpus: float = 0.0
    note: str = ""


class Executor(ABC):
    """Runs `fit` for the job manager's runners; every method is thread-safe."""

    kind: str = ""
    note: str = ""  # set when this executor replaced one that could not start

    @abstractmethod
    def run(self, task: RunTask) -> Iterator[Event]:
        """Train `task`, yielding fit's events; raise on failure (the runner marks it)."""

    def live_state(self, job_id: str) -> dict[str, Any] | None:
        """The current weights of a job trained elsewhere; None: read `task.model` itself."""
        return None

    @abstractmethod
    def placement(self) -> Placement:
        """Where jobs run now (cheap enough to call on every page run)."""

    def default_slots(self) -> int | None:
        """Jobs it can train at once by default (None: the job manager's own default)."""
        return None

    def shutdown(self) -> None:  # noqa: B027 (nothing to stop for threads)
        """Stop the workers (the jobs were stopped by the job manager before)."""


class ThreadExecutor(Executor):
    """`fit` in the runner's thread, in this process."""

    kind = "thread"

    def __init__(self, reason: str = "") -> None:
        """`reason`: why jobs train here, for the sidebar (e.g. a small container's memory)."""
        self.reason = reason

    def run(self, task: RunTask) -> Iterator[Event]:
        from mnist_core.train.loop import fit

        data = task.raw if task.finetune is None else task.finetune.splits(task.raw, task.config)
        yield from fit(
            task.config, data, model=task.model, control=task.control, timeline=task.timeline
        )

    def placement(self) -> Placement:
        summary = "threads of the app's own process"
        return Placement(
            "thread", f"{summary} ({self.reason})" if self.reason else summary, note=self.note
        )


class Worker(ABC):
    """One warm worker, as the app sees it: a child process or a Ray actor."""

    where: str = ""

    @abstractmethod
    def call(self, method: str, *args: Any) -> Any:
        """Call `RemoteRun.<method>(*args)` there; WorkerLost when the worker is gone."""

    @abstractmethod
    def alive(self) -> bool: ...

    @abstractmethod
    def close(self) -> None:
        """End the worker now (a hard kill if it does not answer)."""


class RemoteExecutor(Executor):
    """Warm workers and the relay; subclasses say how a worker is made (`_new_worker`)."""

    def __init__(self, warm: int = 1, max_workers: int | None = None) -> None:
        """`warm`: idle workers kept started for the next job. `max_workers`: no such standby
        is started while this many workers exist, training or idle (a machine that trains
        at most N jobs at once never uses an N+1th; an idle one holds ~220 MB), though a job that
        finds none idle still gets one. None: no limit (a cluster's room decides)."""
        self.warm = max(0, int(warm))
        self.max_workers = None if max_workers is None else max(1, int(max_workers))
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)  # notified when a worker turns idle
        self._idle: list[Worker] = []
        self._busy: dict[str, Worker] = {}  # job id -> its worker
        self._in_use = 0  # workers taken by a job, from `_acquire` to `_release`
        self._starting = 0
        self._closed = False
        self._refill()

    # ---- subclasses ------------------------------------------------------------------------
    @abstractmethod
    def _new_worker(self, config: TrainConfig | None) -> Worker:
        """A started worker (blocks until it answers). `config`: the job it is for, if any."""

    def _fits(self, worker: Worker, config: TrainConfig) -> bool:
        """Whether an idle worker can run `config` (Ray: the same CPUs and GPUs)."""
        return True

    def _room_for_warm(self) -> bool:
        """Whether a warm worker can start now without taking what a job needs. Lock held."""
        return True

    def _data_ref(self, key: str, raw: MnistRaw) -> Any:
        """What `set_data` is sent: the tensors themselves, or a reference to them."""
        return raw

    # ---- the relay -------------------------------------------------------------------------
    def run(self, task: RunTask) -> Iterator[Event]:
        worker = self._acquire(task.config)
        done = False
        try:
            key = f"{id(task.raw)}"
            if not worker.call("has_data", key):
                worker.call("set_data", key, self._data_ref(key, task.raw))
            initial = state_to_bytes(cpu_state_dict(task.model))
            cap = task.timeline.cap_bytes if task.timeline is not None else None
            worker.call(
                "start", task.job_id, task.config, initial, task.threads, task.finetune, cap
            )
            with self._lock:  # only now: before, its weights were another job's
                self._busy[task.job_id] = worker
            sent: Controls | None = None
            while True:
                c = task.control
                wanted = Controls(c.stop_requested, c.paused, c.lr)
                if wanted != sent:
                    worker.call("control", wanted)
                    sent = wanted
                polled = worker.call("poll", POLL_S)
                for event in polled.events:
                    if isinstance(event, RunEnded):  # the weights are final now
                        final = worker.call("state", task.job_id)
                        task.model.load_state_dict(state_from_bytes(final))
                        if task.timeline is not None:
                            data, note = worker.call("timeline", task.job_id)
                            timeline = timeline_from_bytes(data) if data is not None else None
                            task.timeline.adopt(timeline, note)
                    yield event
                if polled.done:
                    done = True
                    if polled.error is not None:
                        raise RemoteFailure(polled.error, polled.message or "", polled.trace or "")
                    return
        finally:
            with self._lock:
                self._busy.pop(task.job_id, None)
            self._release(worker, reusable=done)

    def live_state(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            worker = self._busy.get(job_id)
        if worker is None:
            return None
        data = worker.call("state", job_id)
        return state_from_bytes(data) if data is not None else None

    def worker_of(self, job_id: str) -> Worker | None:
        """The worker training `job_id` now (tests kill it to check what the app does)."""
        with self._lock:
            return self._busy.get(job_id)

    def idle_workers(self) -> int:
        with self._lock:
            return len(self._idle)

    def standby_workers(self) -> int:
        """Workers idle or being started for the next job."""
        with self._lock:
            return len(self._idle) + self._starting

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            workers = self._idle + list(self._busy.values())
            self._idle = []
        for worker in workers:
            _close_quietly(worker)

    # ---- the pool --------------------------------------------------------------------------
    def _acquire(self, config: TrainConfig) -> Worker:
        """An idle worker that fits `config`; else wait for one being started (a second one
        could not get the CPUs a warm Ray actor is about to take); else start one now."""
        with self._cond:
            while True:
                if self._closed:
                    raise MnistError("The job system has shut down: no new jobs.")
                for worker in list(self._idle):
                    if not worker.alive():
                        self._idle.remove(worker)
                        _close_quietly(worker)
                    elif self._fits(worker, config):
                        self._idle.remove(worker)
                        self._in_use += 1
                        self._refill()
                        return worker
                if self._starting <= 0:
                    break
                self._cond.wait(timeout=1.0)
            self._in_use += 1
        try:
            worker = self._new_worker(config)  # none warm: start one now (about 2 s here)
        except BaseException:
            with self._lock:
                self._in_use -= 1
            raise
        self._refill()
        return worker

    def _release(self, worker: Worker, *, reusable: bool) -> None:
        with self._lock:
            self._in_use -= 1
            # Idle workers beyond `warm` only hold memory (torch imported: ~220 MB RSS here).
            keep = reusable and not self._closed and len(self._idle) < self.warm
            keep = keep and worker.alive()
            if keep:
                self._idle.append(worker)
                self._cond.notify_all()
        if not keep:
            _close_quietly(worker)  # a job abandoned half-way or a dead worker: not reused
        self._refill()

    def _refill(self) -> None:
        """Start workers in the background until `warm` are idle or starting, and never
        past `max_workers` in all."""
        with self._lock:
            missing = self.warm - len(self._idle) - self._starting
            if self.max_workers is not None:
                started = len(self._idle) + self._in_use + self._starting
                missing = min(missing, self.max_workers - started)
            if self._closed or missing <= 0 or not self._room_for_warm():
                return
            self._starting += missing
        for _ in range(missing):
            threading.Thread(target=self._warm_one, name="mnist-warm-worker", daemon=True).start()

    def _warm_one(self) -> None:
        try:
            worker = self._new_worker(None)
        except (Exception, SystemExit):  # Ray raises SystemExit when it is shut down meanwhile
            log.warning("could not start a warm training worker", exc_info=True)
            with self._lock:
                self._starting -= 1
                self._cond.notify_all()
            return
        with self._lock:
            self._starting -= 1
            if self._closed or len(self._idle) >= self.warm:
                worker_to_close: Worker | None = worker
            else:
                self._idle.append(worker)
                self._cond.notify_all()
                worker_to_close = None
        if worker_to_close is not None:
            _close_quietly(worker_to_close)


def _close_quietly(worker: Worker) -> None:
    try:
        worker.close()
    except Exception:
        log.debug("closing a worker failed", exc_info=True)
