"""How soon Stop takes effect in a background job, per architecture.

    python -m bench stop [--models mlp,lenet5,resnet] [--runs 5] [--batch-size 128] [--json OUT]

Issue 4's target: a stop mid-epoch ends the job in under 1 s on the 2-core CPU. The tests check
the behaviour that makes this hold without timing it (`fit` honours a stop before the next
step: tests/test_training.py); this measures the seconds, from `JobManager.stop()` to the job
being done, on real jobs (batch 128, mid-epoch, one thread per job as the tests use). Prints a
Markdown table: median and max over --runs per architecture, with the machine's load average,
since these figures grow with load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from mnist_core.data.mnist import load_mnist
from mnist_core.jobs import JobManager
from mnist_core.models import list_models
from mnist_core.train.config import TrainConfig

DESCRIPTION = "seconds from Stop to the job being done, per architecture"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench stop`."""
    p.add_argument("--models", default=",".join(list_models()))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--data-dir")
    p.add_argument("--json", type=Path, help="also write the rows as JSON")


def _wait(until, timeout: float = 120.0) -> float:
    """Poll `until()` every millisecond; the seconds it took."""
    t0 = time.perf_counter()
    while not until():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("the job did not respond within 120 s")
        time.sleep(0.001)
    return time.perf_counter() - t0


def measure(manager: JobManager, model: str, batch_size: int) -> float:
    """One job: the seconds from a stop requested mid-epoch to the job being done."""
    config = TrainConfig.for_model(
        model, train_subset=20_000, val_size=100, epochs=3, batch_size=batch_size, log_every=1
    )
    job = manager.submit(config, owner="bench")
    _wait(lambda: len(manager.snapshot(job).steps) >= 2)
    t0 = time.perf_counter()
    manager.stop(job)
    manager.wait(job, timeout=120)
    return time.perf_counter() - t0


def run(args: argparse.Namespace) -> int:
    """Measure every model named in --models and print a Markdown table."""
    raw = load_mnist(args.data_dir)
    manager = JobManager(1, data=lambda: raw, threads_per_job=1)
    rows = []
    try:
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
        print("| model | runs | stop median s | stop max s |")
        print("|---|---|---|---|")
        for model in args.models.split(","):
            stops = [measure(manager, model, args.batch_size) for _ in range(args.runs)]
            row = {
                "model": model,
                "runs": args.runs,
                "stop_median_s": statistics.median(stops),
                "stop_max_s": max(stops),
            }
            rows.append(row)
            print(
                f"| {model} | {args.runs} | {row['stop_median_s']:.3f} | {row['stop_max_s']:.3f} |"
            )
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
    finally:
        manager.shutdown(timeout=10)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0
