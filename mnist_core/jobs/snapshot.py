"""A job's state as a pure fold: control requests and `fit`'s events in, `JobSnapshot` out.

`JobState` knows no threads, clocks or I/O: every transition that needs a time takes `now`
(a `time.perf_counter()` value), so tests can feed synthetic events and read exact snapshots.
`TrainingRunner` calls it under its lock. The time-left estimate is `seconds_left`.

A little over 400 lines: the estimate stays next to the fold whose event lists it reads; it is
the piece to move out (to jobs/time_left.py) when either grows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from mnist_core.storage.history import RunHistory
from mnist_core.train.config import TrainConfig
from mnist_core.train.events import (
    AccuracyCheck,
    EpochMetrics,
    Event,
    RunEnded,
    RunStarted,
    StepMetrics,
)
from mnist_core.train.record import RunRecord

__all__ = [
    "ACTIVE_STATUSES",
    "DONE_STATUSES",
    "JobSnapshot",
    "JobState",
    "JobStatus",
    "LrChange",
    "seconds_left",
]

JobStatus = Literal[
    "queued", "running", "paused", "stopping", "finished", "stopped", "failed", "diverged"
]
DONE_STATUSES: frozenset[str] = frozenset({"finished", "stopped", "failed", "diverged"})
# Started and not yet done: these hold a slot (and CPU or GPU time) in the job manager.
ACTIVE_STATUSES: frozenset[str] = frozenset({"running", "paused", "stopping"})
assert DONE_STATUSES | ACTIVE_STATUSES | {"queued"} == set(get_args(JobStatus))

# Images per second when evaluating, relative to training, for guessing the evaluation time
# before the first epoch has measured it: forward passes in batches of 500 without gradients.
# Measured on our 2-core CPU (issue 11): 18x for the MLP, 6x for LeNet-5, 4.6x for the ResNet;
# a little under, so that the guess errs long rather than short. Other models: the lowest.
EVAL_SPEEDUP = {"mlp": 15.0, "lenet5": 5.0, "resnet": 4.0}
_EVAL_SPEEDUP_OTHER = 4.0
# Training seconds of history behind the step rate of the time-left estimate: long enough to
# average out slow windows (a busy CPU, the first batches after an evaluation).
_RATE_WINDOW_S = 30.0


@dataclass(frozen=True)
class LrChange:
    """A change of the peak learning rate while training: from `old` to `new`, for the steps
    after `step`."""

    step: int
    old: float
    new: float


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
    checks: tuple[
        AccuracyCheck, ...
    ]  # test accuracy inside epochs (config.eval_every), oldest first
    ended: RunEnded | None
    step: int
    total_steps: int
    epoch: float  # fractional, e.g. 1.25
    images_per_s: float  # training throughput of the latest window
    elapsed_s: float  # wall time since the run started (queued time excluded)
    eta_s: float | None  # estimated seconds left; None when unknown or not running
    lr: float  # current peak learning rate (config.lr or the override)
    lr_changes: tuple[LrChange, ...]  # changes of the peak learning rate, oldest first
    message: str  # for people: "Running", "Queued: position 2", why it ended...
    error: str | None  # failed runs: the exception's message
    traceback: str | None  # failed runs: the formatted traceback
    checkpoint_id: str | None  # id in the ModelStore once saved
    save_error: str | None  # why the automatic save failed (the model is still in memory)
    created: float  # time.time() when the job was created (submitted)
    # Plain values the job was submitted with and its checkpoint's metrics get (the sweep it
    # belongs to; a fine-tune's accuracy on the held-back handwriting, before and after).
    tags: Mapping[str, Any] = field(default_factory=dict)

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
    def train_seconds(self) -> float:
        """Training time: seconds of optimisation steps, evaluations and pauses excluded. The
        app calls `elapsed_s` "wall time" and this "training time", everywhere (issue 27,
        item 5: one run was "1 min 55 s" on Train and "1 min 40 s" on Models)."""
        if self.ended is not None:
            return self.ended.train_seconds
        latest = [e.train_seconds for e in self.epochs[-1:]]
        latest += [s.train_seconds for s in self.steps[-1:]]
        return max(latest, default=0.0)

    @property
    def test_accuracy(self) -> float | None:
        """Test accuracy of the final weights, else of the latest epoch that measured it."""
        if self.ended is not None and self.ended.test_accuracy is not None:
            return self.ended.test_accuracy
        for ep in reversed(self.epochs):
            if ep.test_accuracy is not None:
                return ep.test_accuracy
        return None


def _step_rate(steps: tuple[StepMetrics, ...] | list[StepMetrics]) -> float:
    """Optimisation steps per second of training time over the last _RATE_WINDOW_S seconds.

    The window starts at a StepMetrics, so the run's first window (which pays for the warm-up
    of the first batches) counts only while it is the only one."""
    last = steps[-1]
    base = 0
    for i in range(len(steps) - 2, -1, -1):
        base = i
        if last.train_seconds - steps[i].train_seconds >= _RATE_WINDOW_S:
            break
    first = steps[base]
    if base < len(steps) - 1 and last.train_seconds > first.train_seconds:
        return (last.step - first.step) / (last.train_seconds - first.train_seconds)
    return last.step / max(last.train_seconds, 1e-9)


def seconds_left(
    config: TrainConfig,
    started: RunStarted,
    steps: tuple[StepMetrics, ...] | list[StepMetrics],
    epochs: tuple[EpochMetrics, ...] | list[EpochMetrics],
    step: int,
    since: float = 0.0,
) -> float | None:
    """Seconds left: steps left at the training rate of the last _RATE_WINDOW_S seconds, plus
    the evaluations still to come (measured per epoch once one has run, else guessed from
    that rate and EVAL_SPEEDUP), less the `since` seconds (not paused) gone by since the
    latest of these events, counted off the phase under way (training, an end-of-epoch
    evaluation or the final test), so that the estimate counts down between events instead
    of standing still.
    None before the first StepMetrics or when no rate can be measured."""
    if not steps:
        return None
    rate = _step_rate(steps)
    if rate <= 0:
        return None
    last = steps[-1]
    train_left = max(0, started.total_steps - step) / rate
    epochs_done = epochs[-1].epoch if epochs else 0
    per_epoch_images = config.eval_images_per_epoch(started.n_val, started.n_test)
    if epochs and epochs[-1].eval_seconds > 0 and per_epoch_images:
        per_image = epochs[-1].eval_seconds / len(epochs) / per_epoch_images  # measured
    else:  # guessed from the training throughput
        speedup = EVAL_SPEEDUP.get(config.model, _EVAL_SPEEDUP_OTHER)
        per_image = 1.0 / max(rate * config.batch_size * speedup, 1e-9)
    per_epoch = per_epoch_images * per_image
    final_test = 0.0 if config.eval_test else started.n_test * per_image
    epochs_left = config.epochs - epochs_done
    evaluating = last.step > (epochs[-1].step if epochs else 0) and (
        last.step % started.steps_per_epoch == 0 or last.step >= started.total_steps
    )
    if epochs_left <= 0:  # every epoch evaluated: the final test, then the end
        return max(0.0, final_test - since)
    if evaluating:  # the end-of-epoch evaluation of the latest step is under way
        current = max(0.0, per_epoch - since)
        return train_left + current + (epochs_left - 1) * per_epoch + final_test
    return max(0.0, train_left - since) + epochs_left * per_epoch + final_test


class JobState:
    """The state of one job, changed only by the methods below (one caller at a time).

    Control transitions (`start`, `pause`, `resume`, `request_stop`) answer whether they
    applied; `apply` folds one event of `fit`; `snapshot(now)` returns the JobSnapshot.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        job_id: str,
        owner: str,
        name: str,
        created: float,
        tags: Mapping[str, Any] | None = None,
    ):
        self.config = config
        # Plain values stored with the checkpoint's metrics, e.g. the sweep a run belongs to.
        self.tags: dict[str, Any] = dict(tags or {})
        self.job_id, self.owner, self.name, self.created = job_id, owner, name, created
        self.status: JobStatus = "queued"
        self.message = "Queued"
        self.lr = config.lr
        self._lr_changes: list[LrChange] = []
        # The events of `fit`, appended per event; snapshots get tuple() copies of its lists,
        # rebuilt only when they grew.
        self.record = RunRecord()
        self._steps_view: tuple[StepMetrics, ...] = ()
        self._epochs_view: tuple[EpochMetrics, ...] = ()
        self._checks_view: tuple[AccuracyCheck, ...] = ()
        self.t_start: float | None = None
        self.t_end: float | None = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.checkpoint_id: str | None = None
        self.save_error: str | None = None
        self.stop_reason: str | None = None  # replaces the message once stopped
        self.pauses: list[int] = []  # the step of each pause, kept in the checkpoint
        # When the latest event of `fit` came, and when the run was paused (if it is): the
        # time-left estimate counts down from that event, paused time excluded.
        self._t_event: float | None = None
        self._t_pause: float | None = None

    # ---- control --------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES

    def start(self, now: float) -> bool:
        """queued -> running. False otherwise."""
        if self.status != "queued":
            return False
        self.status, self.message, self.t_start = "running", "Starting", now
        return True

    def pause(self, now: float | None = None) -> bool:
        """running -> paused. False otherwise. `now`: when (stops the time-left countdown)."""
        if self.status != "running":
            return False
        self._t_pause = now
        self.status, self.message = "paused", f"Paused at step {self.step:,}"
        self.pauses.append(self.step)
        return True

    def resume(self, now: float | None = None) -> bool:
        """paused -> running. False otherwise. `now`: when (restarts the countdown)."""
        if self.status != "paused":
            return False
        if now is not None and self._t_pause is not None and self._t_event is not None:
            self._t_event += now - self._t_pause  # paused time is not time gone by
        self._t_pause = None
        self.status, self.message = "running", "Running"
        return True

    def request_stop(self, reason: str | None, now: float) -> JobStatus | None:
        """A queued job is stopped at once ("stopped"); a running or paused one is "stopping"
        until `fit` ends. None when already done or stopping. `reason` replaces the message
        shown once it has stopped."""
        if self.status == "queued":
            self.finish("stopped", reason or "Stopped before it started.", now)
            return "stopped"
        if self.status not in ("running", "paused"):
            return None
        self.status, self.message, self.stop_reason = "stopping", "Stopping…", reason
        return "stopping"

    def set_lr(self, lr: float) -> None:
        """The peak learning rate is `lr` from the next step on (recorded as an LrChange)."""
        if lr != self.lr:
            self._lr_changes.append(LrChange(self.step, self.lr, lr))
        self.lr = lr

    def note(self, message: str) -> None:
        """Show `message` (what the worker is doing) while the job runs undisturbed."""
        if self.status == "running":
            self.message = message

    def finish(self, status: JobStatus, message: str, now: float) -> None:
        """The job is done: finished, stopped, failed or diverged."""
        self.status, self.message = status, message
        self.t_end = self.t_end or now

    def fail(self, error: str, message: str, traceback: str, now: float) -> None:
        self.error, self.traceback = error, traceback
        self.finish("failed", message, now)

    # ---- events ---------------------------------------------------------------------------
    def apply(self, event: Event, now: float) -> None:
        """Fold one event of `fit`. fit() yields nothing while it evaluates, so the message
        says when that is coming. A RunEnded "finished" only records the event: the job is
        finished once its checkpoint is saved (`finish`)."""
        if not isinstance(event, RunEnded):
            self._t_event = now
        self.record.add(event)
        if isinstance(event, StepMetrics):
            end_of_epoch = self.started and event.step % self.started.steps_per_epoch == 0
            self.note(f"Evaluating epoch {round(event.epoch)}" if end_of_epoch else "Running")
        elif isinstance(event, EpochMetrics):
            last = event.epoch == self.config.epochs and not self.config.eval_test
            self.note("Measuring the test accuracy" if last else "Running")
        elif isinstance(event, RunStarted):
            self.note("Running")
        elif isinstance(event, RunEnded) and event.status != "finished":
            reason = self.stop_reason if event.status == "stopped" else None
            self.finish(event.status, reason or event.message, now)

    # ---- derived values -------------------------------------------------------------------
    @property
    def started(self) -> RunStarted | None:
        return self.record.started

    @property
    def ended(self) -> RunEnded | None:
        return self.record.ended

    @property
    def step(self) -> int:
        return self.record.step

    @property
    def epoch(self) -> float:
        return self.record.epoch

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left at `now` while the job is active (see `seconds_left`), else None.
        Without `now`: as of the latest event."""
        if self.status not in ACTIVE_STATUSES or self.started is None:
            return None
        since = 0.0
        if now is not None and self._t_event is not None:
            since = max(0.0, (self._t_pause or now) - self._t_event)
        return seconds_left(
            self.config, self.started, self.record.steps, self.record.epochs, self.step, since=since
        )

    def metrics(self, *, test_accuracy: float | None) -> dict[str, object]:
        """The metrics stored in this job's checkpoint (plain types only): `train_seconds`
        (training time) from the record, and `wall_seconds` (wall time, start to now or end)."""
        wall = None if self.t_start is None else (self.t_end or time.perf_counter()) - self.t_start
        return (
            {"wall_seconds": None if wall is None else round(wall, 3)}
            | self.record.metrics(
                self.config,
                name=self.name,
                test_accuracy=test_accuracy,
                status=self.status,
                lr_changes=self._lr_change_dicts(),
                pauses=self.pauses,
            )
            | self.tags
        )

    def _lr_change_dicts(self) -> list[dict[str, float]]:
        """The learning-rate changes as checkpoints keep them: {"step", "from", "to"}."""
        return [{"step": c.step, "from": c.old, "to": c.new} for c in self._lr_changes]

    def history(self) -> RunHistory:
        """The run's curves and events so far, as its checkpoint keeps them."""
        return self.record.history(lr_changes=self._lr_change_dicts(), pauses=self.pauses)

    def snapshot(self, now: float) -> JobSnapshot:
        """The state as an immutable JobSnapshot; `now` is a time.perf_counter() value."""
        record = self.record
        if len(self._steps_view) != len(record.steps):
            self._steps_view = tuple(record.steps)
        if len(self._epochs_view) != len(record.epochs):
            self._epochs_view = tuple(record.epochs)
        if len(self._checks_view) != len(record.checks):
            self._checks_view = tuple(record.checks)
        started = self.started
        total = started.total_steps if started else self.config.steps_per_epoch * self.config.epochs
        elapsed = 0.0 if self.t_start is None else (self.t_end or now) - self.t_start
        last_step = record.steps[-1] if record.steps else None
        return JobSnapshot(
            job_id=self.job_id,
            owner=self.owner,
            name=self.name,
            status=self.status,
            config=self.config,
            queue_position=None,
            started=started,
            steps=self._steps_view,
            epochs=self._epochs_view,
            checks=self._checks_view,
            ended=self.ended,
            step=self.step,
            total_steps=total,
            epoch=self.epoch,
            images_per_s=last_step.images_per_s if last_step else 0.0,
            elapsed_s=elapsed,
            eta_s=self.eta(now),
            lr=self.lr,
            lr_changes=tuple(self._lr_changes),
            message=self.message,
            error=self.error,
            traceback=self.traceback,
            checkpoint_id=self.checkpoint_id,
            save_error=self.save_error,
            created=self.created,
            tags=dict(self.tags),
        )
