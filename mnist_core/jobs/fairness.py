"""Which queued job starts next: visitors take turns.

A first-in-first-out queue shared by every visitor lets one visitor's 12-run sweep hold another
visitor's 5-second Quick look at position 7. Instead, the next job to start is the oldest queued
job of the visitor served least recently, and a visitor with nothing running goes before one
who already has a job training. So a single run queued behind another visitor's sweep starts
after at most one of that sweep's runs. Pure functions over plain values, tested without jobs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

__all__ = ["start_order"]


def start_order(
    queued: Sequence[tuple[str, str]],
    last_start: Mapping[str, int],
    busy: Set[str] = frozenset(),
) -> list[str]:
    """The order in which `queued` jobs will start, as their ids.

    queued: (job id, owner) in the order they were submitted.
    last_start: owner -> a number that grows with each start (the most recent start of one of
        their jobs); owners absent from it were never served and go first.
    busy: owners with a job training now; they wait for the others' turn first.

    The first id is the job to start now. The rest is what happens if nobody else submits
    and each start ends before the next one (the queue positions people are shown)."""
    pending: dict[str, list[str]] = {}
    for job_id, owner in queued:
        pending.setdefault(owner, []).append(job_id)
    first_seen = {owner: n for n, owner in enumerate(pending)}  # oldest queued job first
    served = dict(last_start)
    clock = max(served.values(), default=0)
    waiting_busy = set(busy)
    order: list[str] = []
    while pending:
        owner = min(
            pending,
            key=lambda o: (o in waiting_busy, served.get(o, -1), first_seen[o]),
        )
        order.append(pending[owner].pop(0))
        if not pending[owner]:
            del pending[owner]
        clock += 1
        served[owner] = clock
        waiting_busy.clear()  # projected: the jobs training now end before the next start
    return order
