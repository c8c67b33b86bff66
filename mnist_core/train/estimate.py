"""How long a run will take, before it starts, and how long a queued job will wait.

`measure_speed` times the real training step (`train.loop.fit`: the architecture with its
options, the optimiser, the augmentation) and the evaluation on this machine, on a few batches
of random pixels, once per process and setup; `run_seconds` turns that speed into a run's
duration from the number of images it will process, evaluations included. Once a run of the
same setup has finished, its own speed (`observed_speed`, `remember_speed`) replaces the
probe's. `queue_wait_seconds` is a pure function of the running jobs' time left and the queued
jobs' durations.

Accuracy: see bench/estimate_error.py, which compares the estimate with real short runs.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from mnist_core.data.mnist import MnistSplits
from mnist_core.machine import pick_device
from mnist_core.models import create_model
from mnist_core.train.config import TrainConfig
from mnist_core.train.control import TrainControl
from mnist_core.train.evaluation import evaluate
from mnist_core.train.events import RunEnded, RunStarted, StepMetrics
from mnist_core.train.loop import EVAL_BATCH, fit

__all__ = [
    "MNIST_TEST_SIZE",
    "Speed",
    "estimate_run_seconds",
    "is_measuring",
    "known_speed",
    "measure_speed",
    "measure_speed_soon",
    "observed_speed",
    "queue_wait_seconds",
    "remember_speed",
    "run_seconds",
]

MNIST_TEST_SIZE = 10_000
# The measurement: WARMUP steps not timed (first calls allocate and pick kernels), then steps
# until at least MIN_TIMED_S and MIN_TIMED_STEPS have been timed (at most MAX_STEPS in all):
# a fast model's step takes milliseconds, too short to time a few of them on a busy machine.
# Batches larger than MEASURE_BATCH_MAX are timed at that size (a step of a big batch can take
# seconds, and the throughput hardly grows beyond it on a CPU).
_WARMUP_STEPS = 2
_MIN_TIMED_STEPS = 2
_MIN_TIMED_S = 1.0
_MAX_STEPS = 60
MEASURE_BATCH_MAX = 256
_EVAL_IMAGES = 1_000  # evaluated after a warm-up batch, to time the forward pass
# Measured on the 2-core CPU with `python -m bench estimate`: a job spends 0.0 to 0.4 s outside
# its training steps and evaluations (splitting the data, building the model and the
# optimiser, saving the checkpoint).
STARTUP_S = 0.2


@dataclass(frozen=True)
class Speed:
    """Throughput of one setup on this machine, in images per second."""

    train_images_per_s: float  # optimisation steps (forward, backward, update, augmentation)
    eval_images_per_s: float  # forward passes of the end-of-epoch evaluation


_cache: dict[tuple[object, ...], Speed] = {}
_pending: set[tuple[object, ...]] = set()  # setups measure_speed_soon is measuring
_cache_lock = threading.Lock()  # guards _cache and _pending, held only briefly
_lock = threading.Lock()  # one measurement at a time: two at once would slow each other down


def _key(config: TrainConfig, threads: int, device: str) -> tuple[object, ...]:
    return (
        config.model,
        json.dumps(dict(config.model_kwargs), sort_keys=True, default=list),
        min(config.batch_size, MEASURE_BATCH_MAX),
        2 ** math.ceil(math.log2(config.train_size)),  # the size matters (the CPU's cache)
        config.optimizer,
        config.loss,
        config.augments,
        device,
        threads,
    )


def _random_splits(n_train: int, n_test: int, seed: int = 0) -> MnistSplits:
    gen = torch.Generator().manual_seed(seed)

    def images(n: int) -> torch.Tensor:
        return torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=gen)

    def labels(n: int) -> torch.Tensor:
        return torch.randint(0, 10, (n,), generator=gen)

    return MnistSplits(
        images(n_train), labels(n_train), images(0), labels(0), images(n_test), labels(n_test)
    )


class ProbeAbandoned(Exception):
    """A measurement gave way to a training run (`measure_speed_soon`'s `busy`)."""


def _measure(config: TrainConfig, threads: int, busy: Callable[[], bool] | None = None) -> Speed:
    """Time fit()'s steps on random pixels, then evaluate() (what fit evaluates with)."""
    from mnist_core.machine import set_thread_count  # the job's own thread limit

    bs = min(config.batch_size, MEASURE_BATCH_MAX)
    # The same step as the real run, at a learning rate that cannot diverge on random data.
    probe = config.replace(
        epochs=1, batch_size=bs, log_every=1, eval_test=False, lr=1e-4, schedule="constant"
    )
    # As many training images as the run has: batches gathered from 55,000 images run slower
    # than from a few thousand that stay in the CPU's cache (the MLP's steps by about 2x).
    splits = _random_splits(max(config.train_size, bs * (_WARMUP_STEPS + 1)), EVAL_BATCH)
    control = TrainControl()
    steps: list[StepMetrics] = []
    eval_s: list[float] = []
    failure: list[BaseException] = []

    def work() -> None:
        set_thread_count(threads)
        try:
            model = create_model(config.model, **config.model_kwargs)
            for event in fit(probe, splits, model=model, control=control):
                if busy is not None and busy():  # a run started: do not slow it down
                    control.request_stop()
                    raise ProbeAbandoned
                if isinstance(event, StepMetrics):
                    steps.append(event)
                    timed = event.step - _WARMUP_STEPS
                    if timed >= _MIN_TIMED_STEPS:
                        start = steps[_WARMUP_STEPS - 1].train_seconds
                        long_enough = event.train_seconds - start >= _MIN_TIMED_S
                        if long_enough or event.step >= _MAX_STEPS:
                            control.request_stop()
                elif isinstance(event, RunEnded):
                    break
            images = splits.test_x[:64], splits.test_y[:64]
            evaluate(model, *images, batch_size=EVAL_BATCH)  # warm-up
            x = torch.randint(0, 256, (_EVAL_IMAGES, 28, 28), dtype=torch.uint8)
            y = torch.randint(0, 10, (_EVAL_IMAGES,))
            t0 = time.perf_counter()
            evaluate(model, x, y, batch_size=EVAL_BATCH)
            eval_s.append(time.perf_counter() - t0)
        except BaseException as e:  # reported in the caller's thread
            failure.append(e)

    # In a thread of its own, like a job, so the caller's torch thread count stays as it was.
    worker = threading.Thread(target=work, name="mnist-speed-probe", daemon=True)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    timed = steps[_WARMUP_STEPS:]
    if timed:  # one StepMetrics per step: its images are its rate times its duration
        durations = [b.train_seconds - a.train_seconds for a, b in itertools.pairwise(steps)]
        durations = durations[_WARMUP_STEPS - 1 :]
        images = sum(e.images_per_s * d for e, d in zip(timed, durations, strict=True))
        train_ips = images / max(sum(durations), 1e-9)
    else:  # a run shorter than the warm-up: its own rate
        train_ips = steps[-1].images_per_s
    eval_ips = _EVAL_IMAGES / eval_s[0] if eval_s and eval_s[0] > 0 else train_ips
    return Speed(train_images_per_s=train_ips, eval_images_per_s=eval_ips)


def _setup(config: TrainConfig, threads: int | None) -> tuple[tuple[object, ...], int]:
    threads = config.threads or threads or torch.get_num_threads()
    return _key(config, threads, pick_device(config.device).type), threads


def known_speed(config: TrainConfig, threads: int | None = None) -> Speed | None:
    """The speed of `config`'s setup if it has been measured (or learnt), else None; never
    measures (see `measure_speed_soon`)."""
    key, _ = _setup(config, threads)
    with _cache_lock:
        return _cache.get(key)


def is_measuring(config: TrainConfig, threads: int | None = None) -> bool:
    """Whether `measure_speed_soon` is measuring `config`'s setup now."""
    key, _ = _setup(config, threads)
    with _cache_lock:
        return key in _pending


# A probe needs its threads' CPUs to itself: with one of two cores busy (a process importing
# torch, a page being drawn), its two threads' steps took 50-580 ms instead of 10-13 ms (torch's
# threads wait for each other), and a fresh server's first estimate came out 3-5x too long
# (issue 27, item 2; 2 of 3 fresh processes measured 300-380 images/s for LeNet-5 instead of
# 8,500-10,600 while another process used one core). So it waits, up to QUIET_WAIT_S, until
# that many CPUs are idle.
QUIET_WAIT_S = 20.0


def _wait_for_quiet(threads: int, busy: Callable[[], bool] | None) -> None:
    from mnist_core.machine import idle_cpus

    deadline = time.monotonic() + QUIET_WAIT_S
    while time.monotonic() < deadline:
        idle = idle_cpus()
        if idle is None or idle >= threads - 0.3:
            return
        if busy is not None and busy():  # a run started: the probe will not run anyway
            return


def measure_speed_soon(
    config: TrainConfig, threads: int | None = None, busy: Callable[[], bool] | None = None
) -> None:
    """Measure `config`'s setup in a background thread unless it is known or under way, so a
    page can show it on a later run instead of waiting for it now (`known_speed`).

    `busy` (called from that thread) says a training run is under way: then nothing is
    measured, and a measurement under way is abandoned at its next step, so that it never
    slows a run down (a stop must land within a second) nor measures a shared machine."""
    key, threads = _setup(config, threads)
    with _cache_lock:
        if key in _cache or key in _pending:
            return
        _pending.add(key)

    def work() -> None:
        try:
            with _lock:  # one probe at a time
                _wait_for_quiet(threads, busy)
                if known_speed(config, threads) is None and not (busy and busy()):
                    speed = _measure(config, threads, busy)
                    with _cache_lock:
                        _cache[key] = speed
        except Exception:  # abandoned, an absent device, a model that cannot run: unknown
            pass
        finally:
            with _cache_lock:
                _pending.discard(key)

    threading.Thread(target=work, name="mnist-speed-soon", daemon=True).start()


def measure_speed(config: TrainConfig, threads: int | None = None) -> Speed:
    """The training and evaluation throughput of `config`'s setup on this machine.

    Measured once per process for each architecture with its options, batch size (up to
    MEASURE_BATCH_MAX), training set size (to the next power of two), optimiser, loss,
    augmentation on or off, device and `threads` (torch threads of the job; `config.threads`
    wins when set), then cached: the first call takes one to four seconds, later calls
    nothing. Busy cores (another job running) make it slower, as they make the run slower.
    """
    key, threads = _setup(config, threads)
    with _lock:  # held while measuring: one probe at a time
        speed = known_speed(config, threads)
        if speed is None:
            speed = _measure(config, threads)
            with _cache_lock:
                _cache[key] = speed
        return speed


def observed_speed(config: TrainConfig, started: RunStarted, ended: RunEnded) -> Speed | None:
    """The speed a finished run of `config` actually had (its images over its training and
    evaluation seconds); None for a run that did not finish or timed nothing."""
    if ended.status != "finished" or ended.train_seconds <= 0 or ended.eval_seconds <= 0:
        return None
    eval_images = config.eval_images(started.n_val, started.n_test)
    return Speed(
        train_images_per_s=config.epochs * started.n_train / ended.train_seconds,
        eval_images_per_s=eval_images / ended.eval_seconds,
    )


def remember_speed(config: TrainConfig, speed: Speed, threads: int | None = None) -> None:
    """Use `speed` (e.g. the `observed_speed` of a real run) for `config`'s setup from now on:
    a whole run is timed over far longer than the probe, so it is the better figure."""
    key, _ = _setup(config, threads)
    with _cache_lock:
        _cache[key] = speed


def run_seconds(config: TrainConfig, speed: Speed, startup_s: float = STARTUP_S) -> float:
    """Seconds a run of `config` takes at `speed`: every training image of every epoch, the
    validation (and test, with eval_test) images after every epoch, the test checks inside
    epochs (eval_every), the final test evaluation when eval_test is off, and the start-up."""
    train_images = config.epochs * config.train_size
    eval_images = config.eval_images(config.val_size, MNIST_TEST_SIZE)
    return (
        train_images / speed.train_images_per_s + eval_images / speed.eval_images_per_s + startup_s
    )


def estimate_run_seconds(config: TrainConfig, threads: int | None = None) -> float:
    """`run_seconds` at the speed measured on this machine (`measure_speed`)."""
    return run_seconds(config, measure_speed(config, threads))


def queue_wait_seconds(
    running_left: Sequence[float | None],
    queued_ahead: Sequence[float | None],
    slots: int,
) -> float | None:
    """Seconds until a queued job starts.

    Args:
        running_left: time left of each job that holds a slot now (running or paused).
        queued_ahead: estimated durations of the queued jobs ahead of it, first in line first.
        slots: jobs that run at once (the job manager's max_running).

    First come, first served: each job ahead takes the slot that frees first; the job starts
    when a slot frees after them. None when a figure is unknown (None or not finite).
    """
    if slots < 1:
        raise ValueError(f"slots must be at least 1, got {slots}")
    figures = [*running_left, *queued_ahead]
    if any(f is None or not math.isfinite(f) for f in figures):
        return None
    left = sorted(max(0.0, float(f)) for f in running_left)  # type: ignore[arg-type]
    # With more jobs running than slots (the limit was lowered), a slot frees only once the
    # surplus has ended: the slots free at the `slots` latest end times.
    free = left[-slots:] if len(left) >= slots else [0.0] * (slots - len(left)) + left
    heapq.heapify(free)
    for duration in queued_ahead:
        heapq.heappush(free, heapq.heappop(free) + max(0.0, float(duration)))  # type: ignore[arg-type]
    return free[0]
