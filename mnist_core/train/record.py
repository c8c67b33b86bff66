"""One run's record: the events of `fit` folded into what its checkpoint keeps.

`RunRecord` is fed the frozen events of `mnist_core.train.events` one by one (or all at once)
and gives the checkpoint's metrics dict and its `RunHistory`. The command line (`train`,
`finetune`) and the background jobs (`mnist_core.jobs.snapshot.JobState`) all keep their run
in one, so a checkpoint says the same things whoever trained it. It knows no clocks, threads
or files; what is not an event of `fit` (learning-rate changes, pauses, the job's status while
no RunEnded has come) the caller passes in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mnist_core.storage.checkpoints import checkpoint_metrics
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

__all__ = ["RunRecord"]


class RunRecord:
    """The events of one run so far, by kind, oldest first.

    Mutable on purpose: a job appends an event per logged step for thousands of steps, and
    readers take tuple() copies (see `JobState.snapshot`). One writer at a time.
    """

    def __init__(self) -> None:
        self.started: RunStarted | None = None
        self.steps: list[StepMetrics] = []
        self.epochs: list[EpochMetrics] = []
        self.checks: list[AccuracyCheck] = []
        self.ended: RunEnded | None = None

    @classmethod
    def of(cls, events: Iterable[Event]) -> RunRecord:
        """The record of these events."""
        record = cls()
        for event in events:
            record.add(event)
        return record

    def add(self, event: Event) -> None:
        """Fold one event of `fit`."""
        if isinstance(event, StepMetrics):
            self.steps.append(event)
        elif isinstance(event, EpochMetrics):
            self.epochs.append(event)
        elif isinstance(event, AccuracyCheck):
            self.checks.append(event)
        elif isinstance(event, RunStarted):
            self.started = event
        elif isinstance(event, RunEnded):
            self.ended = event

    # ---- derived values ---------------------------------------------------------------------
    @property
    def step(self) -> int:
        """Optimiser steps done: the latest step any event reports (0 before the first)."""
        candidates = [0]
        if self.steps:
            candidates.append(self.steps[-1].step)
        if self.epochs:
            candidates.append(self.epochs[-1].step)
        if self.ended:
            candidates.append(self.ended.step)
        return max(candidates)

    @property
    def epoch(self) -> float:
        """Epochs done, fractional (e.g. 1.25); a finished run's epochs_done exactly."""
        if self.ended is not None and self.ended.status == "finished":
            return float(self.ended.epochs_done)
        last_step = self.steps[-1].epoch if self.steps else 0.0
        last_epoch = float(self.epochs[-1].epoch) if self.epochs else 0.0
        return max(last_step, last_epoch)

    @property
    def train_seconds(self) -> float:
        """Training time so far: the end's figure once ended, else the latest step's."""
        if self.ended is not None:
            return self.ended.train_seconds
        return self.steps[-1].train_seconds if self.steps else 0.0

    @property
    def first_step_seconds(self) -> float | None:
        """Training seconds at step 1 (the warm-up the first step pays); None if not logged."""
        return next((s.train_seconds for s in self.steps if s.step == 1), None)

    # ---- what the checkpoint keeps ----------------------------------------------------------
    def metrics(
        self,
        config: TrainConfig,
        *,
        name: str,
        test_accuracy: float | None,
        status: str = "running",
        lr_changes: Sequence[Mapping[str, Any]] = (),
        pauses: Sequence[int] = (),
    ) -> dict[str, Any]:
        """The checkpoint's metrics (`checkpoint_metrics`). `test_accuracy`: of the weights
        saved (the caller may have measured it again); `status`: the run's while no RunEnded
        has come (a run stopped mid-way whose weights are captured now)."""
        return checkpoint_metrics(
            config,
            started=self.started,
            epochs=self.epochs,
            ended=self.ended,
            train_seconds=self.train_seconds,
            step=self.step,
            status=status,
            test_accuracy=test_accuracy,
            name=name,
            lr_changes=lr_changes,
            pauses=pauses,
        )

    def history(
        self, *, lr_changes: Sequence[Mapping[str, Any]] = (), pauses: Sequence[int] = ()
    ) -> RunHistory:
        """The run's curves and events, as its checkpoint keeps them."""
        return RunHistory.from_events(
            started=self.started,
            steps=self.steps,
            epochs=self.epochs,
            checks=self.checks,
            ended=self.ended,
            lr_changes=lr_changes,
            pauses=pauses,
        )
