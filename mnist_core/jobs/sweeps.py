"""Sweeps in the job manager: which jobs belong to which sweep, and a sweep's progress.

A sweep's runs are ordinary jobs (the same queue, slots, leases and live charts). A done job
is forgotten by the manager after a while (`trim_history`), so `SweepRecord` keeps each run's
final figures as soon as it is done, and a 64-run sweep still reports all 64 at the end.
Pure bookkeeping: the manager calls these with its lock held.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mnist_core.jobs.snapshot import ACTIVE_STATUSES, DONE_STATUSES, JobSnapshot, JobStatus
from mnist_core.train.config import TrainConfig

__all__ = ["SweepRecord", "SweepRun", "SweepSnapshot"]


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep as its progress view lists it."""

    job_id: str
    name: str  # the job's display name, e.g. "sweep #1 · lr=0.003"
    label: str  # the swept values, e.g. "lr=0.003 batch_size=64"
    overrides: Mapping[str, Any]  # the swept values
    config: TrainConfig
    status: JobStatus
    test_accuracy: float | None
    elapsed_s: float
    eta_s: float | None
    checkpoint_id: str | None
    message: str

    @classmethod
    def of(cls, snap: JobSnapshot, label: str, overrides: Mapping[str, Any]) -> SweepRun:
        return cls(
            job_id=snap.job_id,
            name=snap.name,
            label=label,
            overrides=dict(overrides),
            config=snap.config,
            status=snap.status,
            test_accuracy=snap.test_accuracy,
            elapsed_s=snap.elapsed_s,
            eta_s=snap.eta_s,
            checkpoint_id=snap.checkpoint_id,
            message=snap.message,
        )


@dataclass(frozen=True)
class SweepSnapshot:
    """A sweep's progress: its runs in order, with counts, the best so far and time left."""

    sweep_id: str
    name: str
    owner: str
    params: tuple[str, ...]  # the settings it varies
    runs: tuple[SweepRun, ...]
    created: float
    max_running: int = 1  # the manager's slots, for the time left

    def count(self, *statuses: str) -> int:
        return sum(1 for r in self.runs if r.status in statuses)

    @property
    def done(self) -> int:
        return self.count(*DONE_STATUSES)

    @property
    def running(self) -> int:
        return self.count(*ACTIVE_STATUSES)

    @property
    def queued(self) -> int:
        return self.count("queued")

    @property
    def finished(self) -> bool:
        """Every run is done (finished, stopped, failed or diverged)."""
        return self.done == len(self.runs)

    @property
    def status(self) -> str:
        """The sweep as one word: "running" until every run is done; then "stopped" when any
        run was stopped (Stop sweep), "failed" when none finished, else "finished"."""
        if not self.finished:
            return "running"
        if self.count("stopped"):
            return "stopped"
        return "finished" if self.count("finished") else "failed"

    @property
    def best(self) -> SweepRun | None:
        """The done run with the highest test accuracy so far (None before any)."""
        scored = [r for r in self.runs if r.status in DONE_STATUSES and r.test_accuracy]
        return max(scored, key=lambda r: r.test_accuracy or 0.0, default=None)

    @property
    def seconds_left(self) -> float | None:
        """The running runs' time left, plus the queued ones at the mean duration of the
        finished runs (before any: of a running one, elapsed + left), shared over the slots.
        None when nothing is known yet; 0 once done."""
        if self.finished:
            return 0.0
        running = [r for r in self.runs if r.status in ACTIVE_STATUSES]
        finished = [r.elapsed_s for r in self.runs if r.status == "finished" and r.elapsed_s]
        known = [r.elapsed_s + r.eta_s for r in running if r.eta_s is not None]
        per_run = (sum(finished) / len(finished)) if finished else (max(known) if known else None)
        if per_run is None:
            return None
        lefts = [r.eta_s if r.eta_s is not None else per_run for r in running]
        current = max(lefts, default=0.0)
        return current + self.queued * per_run / max(1, self.max_running)


@dataclass
class SweepRecord:
    """What the manager keeps of a sweep: its jobs and, once done, their final figures."""

    sweep_id: str
    name: str
    owner: str
    params: tuple[str, ...]
    seq: int  # creation order (newest first in lists)
    created: float
    job_ids: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # job id -> "lr=0.003 ..."
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # job id -> values
    final: dict[str, SweepRun] = field(default_factory=dict)  # job id -> run once done

    def add(self, job_id: str, label: str, overrides: Mapping[str, Any]) -> None:
        self.job_ids.append(job_id)
        self.labels[job_id] = label
        self.overrides[job_id] = dict(overrides)

    def observe(self, snap: JobSnapshot) -> SweepRun:
        """The run of `snap`, kept for good once it is done (a job turns finished only after
        its save, so a done run's checkpoint id or save error is final too)."""
        run = SweepRun.of(snap, self.labels[snap.job_id], self.overrides[snap.job_id])
        if snap.done:
            self.final[snap.job_id] = run
        return run

    @property
    def pending(self) -> list[str]:
        """Ids of the runs not yet known to be done."""
        return [j for j in self.job_ids if j not in self.final]

    def snapshot(self, live: Mapping[str, JobSnapshot], max_running: int) -> SweepSnapshot:
        """The progress, from the snapshots of its jobs still in the manager (`live`) and the
        final figures of those already done."""
        runs = []
        for job_id in self.job_ids:
            snap = live.get(job_id)
            if snap is not None:
                runs.append(self.observe(snap))
            elif job_id in self.final:
                runs.append(self.final[job_id])
        return SweepSnapshot(
            sweep_id=self.sweep_id,
            name=self.name,
            owner=self.owner,
            params=self.params,
            runs=tuple(runs),
            created=self.created,
            max_running=max_running,
        )
