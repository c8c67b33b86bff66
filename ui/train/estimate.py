"""How long a run will take, in words, before Start; how long a queued job will wait.

The figures come from the engine (`mnist_core.train.estimate`): the speed of each setup measured on
this machine once per process, and the queue's first-come-first-served wait.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import streamlit as st

from mnist_core.errors import MnistError
from mnist_core.jobs import JobSnapshot
from mnist_core.machine import device_name, pick_device
from mnist_core.models import get_spec
from mnist_core.train.config import TrainConfig
from mnist_core.train.estimate import (
    known_speed,
    measure_speed_soon,
    observed_speed,
    queue_wait_seconds,
    remember_speed,
    run_seconds,
)
from ui.live import live_panel, slots
from ui.resources import get_manager


def about(seconds: float) -> str:
    """A duration as an estimate is honest about: 7 -> "about 7 s", 83 -> "about 1.5 min",
    500 -> "about 8 min", 4000 -> "about 1 h 05 min"."""
    if seconds < 10:
        return f"about {max(1, round(seconds))} s"
    if seconds < 60:
        return f"about {round(seconds / 5) * 5} s"
    minutes = seconds / 60
    if minutes < 3:
        return f"about {round(minutes * 2) / 2:g} min"
    if minutes < 60:
        return f"about {round(minutes)} min"
    h, m = divmod(round(minutes), 60)
    return f"about {h} h {m:02d} min"


def _job_threads() -> int:
    return get_manager().threads_per_job


def _training() -> bool:
    """Whether any job trains now (the speed probe then waits: it would slow the job down).
    Called from the probe's thread too: the manager is thread-safe, and this calls no st.*."""
    return get_manager().running_count() > 0


_learnt: set[str] = set()  # ids of finished jobs whose speed has been remembered


def _learn_from_finished_runs() -> None:
    """Remember the real speed of each run that finished since the last call (any visitor's:
    they ran on this machine), so the next estimate of that setup uses it."""
    for job in get_manager().jobs():
        if job.status != "finished" or job.job_id in _learnt:
            continue
        _learnt.add(job.job_id)
        if job.started is None or job.ended is None:
            continue
        speed = observed_speed(job.config, job.started, job.ended)
        if speed is not None:
            try:
                remember_speed(job.config, speed, _job_threads())
            except MnistError:  # its device is gone
                continue


def _duration(config: TrainConfig, measure: bool) -> float | None:
    """Seconds a run of `config` will take; None while its speed is not known yet (then, with
    `measure`, the probe is started in the background) or cannot be known."""
    try:
        speed = known_speed(config, _job_threads())
        if speed is None:
            if measure and not _training():
                measure_speed_soon(config, _job_threads(), busy=_training)
            return None
        return run_seconds(config, speed)
    except MnistError:  # its device is absent
        return None


def run_estimate(config: TrainConfig) -> str | None:
    """E.g. "about 8 min on CPU (1 thread), at 920 training images/s measured for ResNet
    (small)"; None while the speed is being measured (in the background: the page does not
    wait), "" when it cannot be known. The speed is the probe's until a run of the same setup
    has finished here, then that run's."""
    _learn_from_finished_runs()
    seconds = _duration(config, measure=True)
    if seconds is None:
        try:
            pick_device(config.device)
        except MnistError:
            return ""
        return None
    speed = known_speed(config, _job_threads())
    assert speed is not None
    where = device_name(pick_device(config.device))
    threads = config.threads or _job_threads()
    if where.startswith("CPU"):
        where = f"CPU ({threads} thread{'s' if threads != 1 else ''})"
    return (
        f"{about(seconds)} on {where}, at {speed.train_images_per_s:,.0f} training images/s "
        f"measured for {get_spec(config.model).title}"
    )


def show_run_estimate(config: TrainConfig) -> None:
    """The estimate as a caption. The speed is measured in the background, not waited for:
    while it is, the caption polls (a fragment, once a second) and, once the figure is known,
    redraws the page once, which draws it plainly and stops polling (issue 27, item 2: it said
    "shown at the next change" and waited for one)."""
    measuring = run_estimate(config) is None and not _training()
    live_panel(
        _estimate_caption,
        config,
        measuring,
        every=ESTIMATE_POLL_S if measuring else None,
        key="live_estimate",
    )


ESTIMATE_POLL_S = 1.0  # a probe takes 1-3 s once the machine is quiet


def _estimate_caption(config: TrainConfig, polling: bool) -> None:
    (line,) = slots(1)  # one part in every run, drawn or not (`ui.live`)
    text = run_estimate(config)
    if text and polling:  # known now: the whole page once, drawn plainly from then on
        st.rerun(scope="app")
    if text:
        line.caption(f"Estimated time: **{text}**.")
    elif text is None:
        line.caption(
            "Estimated time: measured once the training now under way has ended."
            if _training()
            else "Estimated time: measuring this setup's speed on this machine…"
        )


def sweep_estimate(configs: Sequence[TrainConfig]) -> str | None:
    """E.g. "about 14 min in all" for a sweep's runs one after another; None while a setup's
    speed is still unknown (one probe at a time is started in the background), "" when it
    cannot be known."""
    _learn_from_finished_runs()
    total, probing = 0.0, False
    for config in configs:
        seconds = _duration(config, measure=not probing)
        if seconds is None:
            try:
                pick_device(config.device)
            except MnistError:
                return ""
            probing = True
            continue
        total += seconds
    return None if probing else f"{about(total)} in all"


def _remaining(job: JobSnapshot) -> float | None:
    """Seconds left of a job that holds a slot: its own estimate once it has one, else the
    estimate of the whole run less the time it has been going."""
    if job.eta_s is not None:
        return job.eta_s
    if job.status == "paused":  # nobody knows when it resumes
        return None
    total = _duration(job.config, measure=True)
    return None if total is None else max(0.0, total - job.elapsed_s)


def queue_wait(snap: JobSnapshot) -> float | None:
    """Seconds until the queued job `snap` starts; None when unknown, e.g. while the speed
    of a job ahead is still measured (the queue's status is redrawn every second)."""
    pos = snap.queue_position
    if snap.status != "queued" or not pos:
        return None
    manager = get_manager()
    jobs = manager.jobs()
    running = [_remaining(j) for j in jobs if j.active]
    ahead = sorted(
        (j for j in jobs if j.status == "queued" and j.queue_position and j.queue_position < pos),
        key=lambda j: j.queue_position or 0,
    )
    durations = [_duration(j.config, measure=True) for j in ahead]
    wait = queue_wait_seconds(running, durations, manager.max_running)
    return wait if wait is not None and math.isfinite(wait) else None


def queue_wait_text(snap: JobSnapshot) -> str:
    """E.g. "position 1, about 9 min"; "position 1" when the wait is unknown."""
    pos = snap.queue_position
    if not pos:
        return ""
    wait = queue_wait(snap)
    return f"position {pos}, {about(wait)}" if wait is not None else f"position {pos}"
