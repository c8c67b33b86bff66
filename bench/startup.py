"""Where a run's first second goes: `python -m bench startup`.

Submits the Quick look preset (LeNet-5) to a real `JobManager`, as the Train page does, and
polls its snapshot every 10 ms; prints when each phase of the start ended, in seconds after
the submit: the data loaded ("Loading data" over), `fit` prepared (RunStarted), the first
StepMetrics (the first point a chart can draw), the first epoch's evaluation, the end. The
first run of a process loads MNIST from disk (a cold MnistSource); the second finds it in
memory, as every later run of a server does. `--as-server` first imports what the app's
server imports before it answers (ui/preload.py).

Speed figures only: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import time

from mnist_core.data.mnist import MnistSource
from mnist_core.jobs import JobManager
from mnist_core.train.config import TrainConfig
from mnist_core.train.recipes import PRESETS

DESCRIPTION = "Where the first second of a Quick look run goes (data, preparation, first step)."


def _phases(manager: JobManager, config: TrainConfig) -> dict[str, float]:
    t0 = time.perf_counter()
    job = manager.submit(config, "bench")
    seen: dict[str, float] = {}
    while True:
        snap = manager.snapshot(job)
        now = time.perf_counter() - t0
        if snap.message not in ("Starting", "Loading data") and snap.status == "running":
            seen.setdefault("data loaded", now)
        if snap.started is not None:
            seen.setdefault("fit prepared", now)
        if snap.steps:
            seen.setdefault("first point", now)
        if snap.epochs:
            seen.setdefault("first epoch evaluated", now)
        if snap.done:
            seen.setdefault("done", now)
            return seen
        time.sleep(0.01)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="lenet5", help="architecture (default lenet5)")
    p.add_argument(
        "--as-server",
        action="store_true",
        help="first import what the app's server imports at start (ui/preload.py)",
    )


def run(args: argparse.Namespace) -> int:
    if args.as_server:
        import ui.preload  # noqa: F401

    config = TrainConfig.for_model(args.model, **PRESETS["quick look"])
    manager = JobManager(data=MnistSource())
    for label in ("cold data", "warm data"):
        phases = _phases(manager, config)
        print(f"{label}: " + " · ".join(f"{k} {v:.2f} s" for k, v in phases.items()), flush=True)
    return 0
