"""The job manager's housekeeping over its job table: leases and history trimming.

Pure bookkeeping on `Job` records (no threads of its own); the manager calls these from its
scheduler tick with its lock held, passing `time.monotonic()` as `now`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mnist_core.jobs.runner import TrainingRunner
from mnist_core.jobs.snapshot import DONE_STATUSES

__all__ = ["Job", "expire_leases", "trim_history"]


@dataclass
class Job:
    """One entry of the manager's job table."""

    runner: TrainingRunner
    owner: str
    seq: int  # submit order, for FIFO and for "newest first" without clock ties
    last_seen: float  # time.monotonic() of submit or the latest heartbeat
    expired: bool = False


def expire_leases(jobs: Iterable[Job], now: float, lease_s: float) -> None:
    """Stop the jobs whose owner sent no heartbeat for `lease_s` seconds and release their
    weights (as soon as their thread has ended); a queued one never starts."""
    for job in jobs:
        if job.expired or job.runner.status in DONE_STATUSES:
            continue
        if now - job.last_seen > lease_s:
            job.expired = True
            idle = f"{lease_s:g} s"
            was_queued = job.runner.status == "queued"
            job.runner.stop(
                f"Removed from the queue: no heartbeat from its browser tab for {idle}."
                if was_queued
                else f"Stopped: no heartbeat from its browser tab for {idle}."
            )
            job.runner.weights.release()


def trim_history(
    jobs: dict[str, Job],
    owner_seen: dict[str, float],
    now: float,
    *,
    keep_finished: int,
    done_ttl_s: float,
    keep_weights: int,
) -> None:
    """Forget done jobs beyond `keep_finished` per owner and those of owners not seen for
    `done_ttl_s`, and bound the unsaved weights kept in memory to `keep_weights` runs.
    Changes `jobs` and `owner_seen` in place."""
    by_owner: dict[str, list[Job]] = {}
    for job in list(jobs.values()):
        if job.runner.status in DONE_STATUSES:
            if now - owner_seen.get(job.owner, now) > done_ttl_s:
                del jobs[job.runner.job_id]  # its visitor left long ago
                job.runner.weights.release()
                continue
            by_owner.setdefault(job.owner, []).append(job)
    for owned in by_owner.values():
        owned.sort(key=lambda j: j.seq)
        for job in owned[: max(0, len(owned) - keep_finished)]:
            del jobs[job.runner.job_id]
            job.runner.weights.release()
    # Unsaved weights kept in memory, bounded over all owners (about 1 MB a run): the
    # runs of visitors seen least recently, and then the oldest, release theirs first.
    holding = [j for j in jobs.values() if j.runner.weights.kept]
    holding.sort(key=lambda j: (owner_seen.get(j.owner, 0.0), j.seq))
    for job in holding[: max(0, len(holding) - keep_weights)]:
        job.runner.weights.release()
    owners = {job.owner for job in jobs.values()}
    gone = [o for o, seen in owner_seen.items() if now - seen > done_ttl_s]
    for owner in gone:
        if owner not in owners:
            del owner_seen[owner]
