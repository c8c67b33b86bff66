"""The executor the settings ask for (`MNIST_EXECUTOR`, `MNIST_RAY_ADDRESS`), or the default
one with a note when it cannot start: an unreachable cluster must not keep the app from
serving, and the sidebar says where jobs train instead. "auto" is the process executor, or the
thread executor in a small container (`mnist_core.machine.small_container`)."""

from __future__ import annotations

import logging

from mnist_core.errors import ConfigError, MnistError
from mnist_core.jobs.executors.base import Executor, ThreadExecutor
from mnist_core.machine import cgroup_memory_limit, small_container
from mnist_core.settings import EXECUTOR_KINDS

__all__ = ["create_executor", "resolve_kind"]

log = logging.getLogger(__name__)


def create_executor(
    kind: str,
    ray_address: str | None = None,
    *,
    warm: int = 1,
    threads: int = 1,
    max_workers: int | None = None,
) -> Executor:
    """An executor of `kind` ("process", "thread" or "ray"); `warm` workers kept started,
    `threads` the CPUs a Ray actor reserves by default, `max_workers` the child processes
    beyond which the process executor starts no standby (the jobs this machine trains at
    once; None: no limit). A ray executor that cannot connect falls back to a process
    executor whose `note` says why."""
    if kind not in EXECUTOR_KINDS:
        raise ConfigError(f"Unknown executor {kind!r}: choose {', '.join(EXECUTOR_KINDS)}.")
    kind, reason = resolve_kind(kind)
    if kind == "thread":
        return ThreadExecutor(reason=reason)
    if kind == "ray":
        from mnist_core.jobs.executors.ray import RayExecutor

        address = ray_address or "local"
        try:
            return RayExecutor(address, warm=warm, threads=threads)
        except MnistError as e:
            log.warning("falling back to the process executor: %s", e)
            fallback = _process(warm, max_workers)
            fallback.note = f"{e} Jobs train in this machine's processes instead."
            return fallback
    return _process(warm, max_workers)


def resolve_kind(kind: str) -> tuple[str, str]:
    """The executor kind that `kind` stands for, and why when "auto" chose it: "thread" in a
    small container (with its memory), else "process". Other kinds stand for themselves."""
    if kind != "auto":
        return kind, ""
    limit = cgroup_memory_limit()
    if limit is not None and small_container(limit):
        return "thread", f"a container with {limit / 1024**3:.1f} GiB of memory"
    return "process", ""


def _process(warm: int, max_workers: int | None) -> Executor:
    from mnist_core.jobs.executors.process import ProcessExecutor

    return ProcessExecutor(warm=warm, max_workers=max_workers)
