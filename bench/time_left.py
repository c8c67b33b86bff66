"""How wrong is the Train page's "Time left"? `python -m bench time-left`.

Trains a few short real runs (`train.loop.fit` in a background thread, as the job runner does),
feeds their events to a `JobState` as they arrive, and every `--every` seconds asks for the
time left: the current estimate (`JobState.eta`, i.e. `snapshot.seconds_left` with the
countdown since the latest event) and the one before issue 11 (`previous_seconds_left`, kept
here as the baseline). Once a run has ended, each sample's true time left is known; the report
gives the absolute relative error |estimate - true| / true per run and method: median, 90th
percentile, and the largest jump between two samples (how far the figure moves in one tick
beyond the time that passed). Samples within the last second are left out (any error is huge
relative to nothing).

Speed figures only: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import threading
import time
from dataclasses import dataclass

from bench.progress import log
from mnist_core.data.mnist import load_mnist
from mnist_core.jobs.snapshot import JobState
from mnist_core.train.config import TrainConfig
from mnist_core.train.events import EpochMetrics, RunStarted, StepMetrics
from mnist_core.train.loop import build_model, fit

DESCRIPTION = "Error of the Train page's time-left estimate over whole real runs (old vs new)."

# (label, model, settings): short runs like the ones people start on a CPU.
RUNS: tuple[tuple[str, str, dict[str, object]], ...] = (
    ("quick look lenet5", "lenet5", dict(train_subset=1000, epochs=3, val_size=1000, log_every=1)),
    ("mlp 5k x3", "mlp", dict(train_subset=5000, epochs=3, val_size=2000, eval_test=False)),
    ("lenet5 3k x2", "lenet5", dict(train_subset=3000, epochs=2, val_size=2000, eval_test=True)),
    ("mlp 10k x2", "mlp", dict(train_subset=10_000, epochs=2, val_size=5000)),
)
MIN_TRUE_S = 1.0  # samples closer to the end than this are left out


def previous_seconds_left(
    config: TrainConfig,
    started: RunStarted,
    steps: list[StepMetrics],
    epochs: list[EpochMetrics],
    step: int,
) -> float | None:
    """The estimate before issue 11 (the baseline): the rate of the last 5 StepMetrics, the
    evaluations guessed at the training throughput until measured, no countdown."""
    if not steps:
        return None
    window = steps[-5:]
    first, last = window[0], window[-1]
    if len(window) > 1 and last.train_seconds > first.train_seconds:
        rate = (last.step - first.step) / (last.train_seconds - first.train_seconds)
    else:
        rate = last.step / max(last.train_seconds, 1e-9)
    if rate <= 0:
        return None
    train_left = max(0, started.total_steps - step) / rate
    epochs_left = config.epochs - (epochs[-1].epoch if epochs else 0)
    eval_rate = max(last.images_per_s, 1e-9)
    if epochs and epochs[-1].eval_seconds > 0:
        per_epoch = epochs[-1].eval_seconds / len(epochs)
    else:
        per_epoch = (started.n_val + (started.n_test if config.eval_test else 0)) / eval_rate
    final_test = 0.0 if config.eval_test else started.n_test / eval_rate
    return train_left + epochs_left * per_epoch + final_test


@dataclass
class Sample:
    t: float  # perf_counter
    new: float | None
    old: float | None


def _one_run(config: TrainConfig, raw: object, every: float) -> tuple[list[Sample], float, float]:
    """Train `config`, sampling both estimates; (samples, start time, end time)."""
    state = JobState(config, job_id="bench", owner="bench", name="bench", created=time.time())
    lock = threading.Lock()
    t0 = time.perf_counter()
    state.start(t0)
    end: list[float] = []

    def work() -> None:
        model = build_model(config)
        for event in fit(config, raw, model=model):  # type: ignore[arg-type]
            with lock:
                state.apply(event, time.perf_counter())
        end.append(time.perf_counter())

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    samples: list[Sample] = []
    while thread.is_alive():
        now = time.perf_counter()
        with lock:
            new = state.eta(now)
            old = None
            if state.started is not None and state.status == "running":
                old = previous_seconds_left(
                    config, state.started, state.record.steps, state.record.epochs, state.step
                )
        samples.append(Sample(now, new, old))
        thread.join(every)
    return samples, t0, end[0]


def _errors(samples: list[Sample], t_end: float, which: str) -> tuple[list[float], int]:
    """Relative errors of the samples that have an estimate, and how many had none."""
    errors, missing = [], 0
    for s in samples:
        true = t_end - s.t
        if true < MIN_TRUE_S:
            continue
        est = getattr(s, which)
        if est is None:
            missing += 1
            continue
        errors.append(abs(est - true) / true)
    return errors, missing


def _largest_jump(samples: list[Sample], which: str) -> float:
    """The largest change of the estimate between two samples, beyond the time between them."""
    jumps = [0.0]
    for a, b in itertools.pairwise(samples):
        ea, eb = getattr(a, which), getattr(b, which)
        if ea is not None and eb is not None:
            jumps.append(abs((ea - (b.t - a.t)) - eb))
    return max(jumps)


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _row(label: str, took: str, which: str, errors: list[float], extra: str = "") -> str:
    median = f"{statistics.median(errors):.1%}" if errors else "–"
    p90 = f"{_quantile(errors, 0.9):.1%}" if errors else "–"
    return f"{label:<20} {took:>6} {which:<4} {median:>7} {p90:>7} {len(errors):>7}{extra}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--every", type=float, default=0.5, help="seconds between samples")
    p.add_argument("--repeat", type=int, default=1, help="runs of each setting")


def run(args: argparse.Namespace) -> int:
    raw = load_mnist()
    print(
        f"{'run':<20} {'took':>6} {'est.':<4} {'median':>7} {'p90':>7} {'samples':>7}"
        f" {'jump':>7} {'none':>5}",
        flush=True,
    )
    pooled: dict[str, list[float]] = {"old": [], "new": []}
    for label, model, settings in RUNS:
        config = TrainConfig.for_model(model, **settings)
        for _ in range(args.repeat):
            log(f"training {label} …")
            samples, t0, t_end = _one_run(config, raw, args.every)
            for which in ("old", "new"):
                errors, missing = _errors(samples, t_end, which)
                pooled[which] += errors
                jump = f" {_largest_jump(samples, which):>6.1f}s {missing:>5}"
                print(_row(label, f"{t_end - t0:.1f}s", which, errors, jump), flush=True)
    for which in ("old", "new"):
        print(_row("all runs", "", which, pooled[which]), flush=True)
    return 0
