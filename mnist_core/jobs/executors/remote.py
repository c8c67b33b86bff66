"""The far side of a job that trains outside the app's process: `RemoteRun`.

A child process (`process.py`) or a Ray actor (`ray.py`) holds one `RemoteRun` and
answers the app's calls on it: `start` a run of `fit` in a thread there, `poll` the events it
produced since the last poll, `control` (stop, pause, learning rate), and `state` (a copy of
the current weights). One RemoteRun runs one job at a time and is reused for the next, so a
warm worker keeps torch imported and the MNIST tensors it was sent.

A run that keeps a training timeline (`start`'s `timeline_cap`) records it over there, and
`timeline` hands it back once the run has ended, as bytes, with its note.

Everything crossing the boundary is plain picklable data: configs, frozen events, strings,
and weights as `torch.save` bytes (one buffer, rather than one shared-memory handle per
tensor every time a drawn digit asks for the current model).
"""

from __future__ import annotations

import io
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from mnist_core.data.mnist import MnistRaw
from mnist_core.models import create_model
from mnist_core.storage.checkpoints import cpu_state_dict
from mnist_core.storage.timelines import timeline_bytes
from mnist_core.train.config import TrainConfig
from mnist_core.train.control import TrainControl
from mnist_core.train.events import Event
from mnist_core.train.finetune import FineTuneData
from mnist_core.train.timeline import TimelineRecorder

__all__ = ["Controls", "Poll", "RemoteRun", "state_from_bytes", "state_to_bytes"]


def state_to_bytes(state: Mapping[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    return buffer.getvalue()


def state_from_bytes(data: bytes) -> dict[str, torch.Tensor]:
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


@dataclass(frozen=True)
class Controls:
    """What the app wants of the run now; sent whenever it changes."""

    stop: bool = False
    paused: bool = False
    lr: float | None = None


@dataclass(frozen=True)
class Poll:
    """The events since the last poll; once `done`, the failure if it raised. (The final
    weights are fetched with `state` when `RunEnded` arrives: fit trains no further.)"""

    events: tuple[Event, ...] = ()
    done: bool = False
    error: str | None = None  # the run raised: (error, message for people, traceback)
    message: str | None = None
    trace: str | None = None
    where: str = ""


@dataclass
class _Job:
    job_id: str
    control: TrainControl
    model: torch.nn.Module
    timeline: TimelineRecorder | None = None
    events: list[Event] = field(default_factory=list)
    done: bool = False
    error: tuple[str, str, str] | None = None


class RemoteRun:
    """One worker's trainer: runs `fit` in a thread of this process, one job at a time."""

    def __init__(self, where: str = "") -> None:
        self.where = where
        self._cond = threading.Condition()
        self._job: _Job | None = None
        self._data: MnistRaw | None = None
        self._data_key: str | None = None

    def ping(self) -> str:
        """The worker is up (torch imported); says where it runs."""
        return self.where

    def has_data(self, key: str) -> bool:
        return self._data_key == key

    def set_data(self, key: str, raw: MnistRaw) -> None:
        """Keep the MNIST tensors for every later job (sent once per worker)."""
        self._data, self._data_key = raw, key

    def start(
        self,
        job_id: str,
        config: TrainConfig,
        initial_state: bytes,
        threads: int | None,
        finetune: FineTuneData | None = None,
        timeline_cap: int | None = None,
    ) -> None:
        """Train `config` (job `job_id`) from `initial_state` on the data sent before, in a
        thread; with `timeline_cap`, keep its training timeline within that many bytes."""
        from mnist_core.machine import set_thread_count

        if self._data is None:
            raise RuntimeError("start() before set_data(): the worker has no data.")
        with self._cond:
            if self._job is not None and not self._job.done:
                raise RuntimeError("This worker is still running a job.")
            model = create_model(config.model, **config.model_kwargs)
            model.load_state_dict(state_from_bytes(initial_state))
            recorder = None if timeline_cap is None else TimelineRecorder(timeline_cap)
            self._job = job = _Job(job_id, TrainControl(), model, recorder)
        raw = self._data

        def work() -> None:
            from mnist_core.jobs.failures import failure_message
            from mnist_core.train.loop import fit

            try:
                if threads:
                    set_thread_count(threads)
                data = raw if finetune is None else finetune.splits(raw, config)
                events = fit(config, data, model=model, control=job.control, timeline=recorder)
                for event in events:
                    with self._cond:
                        job.events.append(event)
                        self._cond.notify_all()
                with self._cond:
                    job.done = True
                    self._cond.notify_all()
            except Exception as e:
                error, message = failure_message(e)
                with self._cond:
                    job.error = (error, message, traceback.format_exc())
                    job.done = True
                    self._cond.notify_all()

        threading.Thread(target=work, name="mnist-remote-run", daemon=True).start()

    def control(self, controls: Controls) -> None:
        job = self._job
        if job is None:
            return
        c = job.control
        if controls.lr is not None and controls.lr != c.lr:
            c.set_lr(controls.lr)
        if controls.paused and not c.paused:
            c.pause()
        elif not controls.paused and c.paused:
            c.resume()
        if controls.stop and not c.stop_requested:
            c.request_stop()

    def poll(self, wait_s: float = 0.1) -> Poll:
        """The events since the last poll (waits up to `wait_s` for one)."""
        with self._cond:
            job = self._job
            if job is None:
                return Poll(where=self.where)
            if not job.events and not job.done:
                self._cond.wait(timeout=wait_s)
            events, job.events = tuple(job.events), []
            if not job.done:
                return Poll(events, where=self.where)
            error = job.error or (None, None, None)
            return Poll(events, True, *error, where=self.where)

    def state(self, job_id: str) -> bytes | None:
        """The current weights of `job_id` as of its last full step (None unless it is the job
        this worker runs or ran last)."""
        job = self._job
        if job is None or job.job_id != job_id:
            return None
        with job.control.weights_lock:
            state = cpu_state_dict(job.model)
        return state_to_bytes(state)

    def timeline(self, job_id: str) -> tuple[bytes | None, str]:
        """The training timeline of `job_id` once its run has ended, as `torch.save` bytes
        (None when it keeps none), and its recorder's note (why fewer steps, or none)."""
        job = self._job
        if job is None or job.job_id != job_id or job.timeline is None:
            return None, ""
        timeline = job.timeline.timeline()
        return (timeline_bytes(timeline) if timeline else None), job.timeline.note

    def call(self, method: str, *args: Any) -> Any:
        """One request by name (how a child process's command loop dispatches)."""
        if method not in _METHODS:
            raise ValueError(f"unknown method {method!r}")
        return getattr(self, method)(*args)


_METHODS = frozenset(
    {"ping", "has_data", "set_data", "start", "control", "poll", "state", "timeline"}
)
