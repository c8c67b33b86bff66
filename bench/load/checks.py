"""Consistency checks of what a visitor sees of its jobs, alone and against its last look."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from mnist_core.jobs import JobSnapshot


@dataclass
class Seen:
    """What a visitor last saw of one of its jobs."""

    step: int
    n_steps: int
    n_epochs: int
    status: str
    done: bool


def violations(snap: JobSnapshot, prev: Seen | None) -> list[str]:
    """What is wrong with `snap`, alone and compared with the previous look at the job."""
    out: list[str] = []
    name = f"{snap.name} ({snap.job_id})"
    numbers = [m.step for m in snap.steps]
    if any(b <= a for a, b in itertools.pairwise(numbers)):
        out.append(f"{name}: step history not strictly increasing")
    if snap.step > snap.total_steps:
        out.append(f"{name}: step {snap.step} beyond total {snap.total_steps}")
    if snap.queue_position is not None and snap.status != "queued":
        out.append(f"{name}: queue position {snap.queue_position} while {snap.status}")
    if snap.status == "finished" and snap.checkpoint_id is None and snap.save_error is None:
        out.append(f"{name}: finished without a checkpoint id or a save error")
    if prev is not None:
        if snap.step < prev.step:
            out.append(f"{name}: step went backwards {prev.step} -> {snap.step}")
        if len(snap.steps) < prev.n_steps or len(snap.epochs) < prev.n_epochs:
            out.append(f"{name}: history shrank")
        if prev.done and (not snap.done or snap.status != prev.status):
            out.append(f"{name}: was {prev.status}, now {snap.status}")
    return out
