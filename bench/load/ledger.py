"""What the visitors and the sampler record during a load test, under one lock."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from bench.progress import log
from mnist_core.jobs import JobSnapshot

KEEP_TRACEBACKS = 5  # errors kept in full (the rest are only counted)


@dataclass
class Ledger:
    """Everything the visitors and the sampler record; one lock for all of it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    actions: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)  # first few, in full
    n_exceptions: int = 0
    nviolations: int = 0
    predict_busy_ms: list[float] = field(default_factory=list)
    predict_idle_ms: list[float] = field(default_factory=list)
    model_copy_ms: list[float] = field(default_factory=list)
    pretrained_hits: int = 0
    pretrained_total: int = 0
    submitted: set[str] = field(default_factory=set)
    status: dict[str, str] = field(default_factory=dict)  # job id -> latest status seen
    message: dict[str, str] = field(default_factory=dict)  # job id -> latest message seen
    failures: dict[str, str] = field(default_factory=dict)  # failed job id -> traceback
    abandoned: dict[str, float] = field(default_factory=dict)  # job id -> monotonic time
    reaped_after: dict[str, float] = field(default_factory=dict)  # job id -> s after abandon
    late_reaps: set[str] = field(default_factory=set)
    memory: list[tuple[float, float, float]] = field(default_factory=list)  # (t, rss, hwm) MB
    busy_samples: int = 0
    max_running_seen: int = 0

    def count(self, action: str) -> None:
        with self.lock:
            self.actions[action] = self.actions.get(action, 0) + 1

    def error(self, kind: str, message: str, tb: str = "") -> None:
        """Record an exception ("exception") or a consistency violation ("violation")."""
        with self.lock:
            if kind == "violation":
                self.nviolations += 1
            else:
                self.n_exceptions += 1
            if len(self.errors) < KEEP_TRACEBACKS:
                self.errors.append({"kind": kind, "message": message, "traceback": tb})
        log(f"[load] {kind}: {message}")

    def observe(self, snap: JobSnapshot) -> None:
        """Remember the latest status of a job (whoever looked at it)."""
        with self.lock:
            self.status[snap.job_id] = snap.status
            self.message[snap.job_id] = snap.message
            if snap.status == "failed" and snap.job_id not in self.failures:
                self.failures[snap.job_id] = snap.traceback or snap.message
            since = self.abandoned.get(snap.job_id)
            if since is not None and snap.done and snap.job_id not in self.reaped_after:
                self.reaped_after[snap.job_id] = time.monotonic() - since
