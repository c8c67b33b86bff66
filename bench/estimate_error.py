"""How far the time estimate shown before Start is from the real run (issue 11, item 16).

    python -m bench estimate [--cases quick] [--json OUT]

For each case: the estimate the Train page shows (`mnist_core.train.estimate.estimate_run_seconds`,
from the speed measured on this machine with the job's thread count), then the real run as
the app runs it (a `JobManager` job on the real MNIST, one at a time), timed from its start to
its end (`JobSnapshot.elapsed_s`: training, evaluations, saving). Then the same setup once more,
estimated from the first run's own speed (as the Train page does once a run of that setup has
finished). Prints estimate, actual and error per case, and the median and worst absolute
errors. All first estimates are measured before the first run, as a visitor's would be.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from mnist_core.data.mnist import load_mnist
from mnist_core.jobs import JobManager, JobSnapshot
from mnist_core.storage.store import ModelStore
from mnist_core.train.config import TrainConfig
from mnist_core.train.estimate import (
    estimate_run_seconds,
    measure_speed,
    observed_speed,
    remember_speed,
)
from mnist_core.train.recipes import PRESETS

DESCRIPTION = "Error of the time estimate shown before Start, against real short runs."

QUICK = PRESETS["quick look"]
CASES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "quick": [  # about 3 minutes on the 2-core CPU
        ("mlp quick look", {"model": "mlp", **QUICK}),
        ("lenet5 quick look", {"model": "lenet5", **QUICK}),
        ("resnet quick look", {"model": "resnet", **QUICK}),
        ("mlp 1 epoch, all images", {"model": "mlp", "epochs": 1}),
        ("lenet5 1 epoch, 10,000 images", {"model": "lenet5", "epochs": 1, "train_subset": 10_000}),
        (
            "resnet 2 epochs, 2,000 images, no test per epoch",
            {"model": "resnet", "epochs": 2, "train_subset": 2000, "eval_test": False},
        ),
    ],
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cases", choices=sorted(CASES), default="quick")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")


def _run(manager: JobManager, config: TrainConfig) -> JobSnapshot:
    job = manager.submit(config, owner="bench")
    while not manager.wait(job, timeout=1.0):
        manager.heartbeat(job)
    return manager.snapshot(job)


def _record(row: dict[str, Any], snap: JobSnapshot, suffix: str) -> None:
    row[f"actual{suffix}_s"] = snap.elapsed_s
    row[f"status{suffix}"] = snap.status
    row[f"error{suffix}"] = row[f"estimate{suffix}_s"] / snap.elapsed_s - 1.0
    if snap.ended is not None:  # where the time went: steps, evaluations, the rest
        row[f"train{suffix}_s"] = snap.ended.train_seconds
        row[f"eval{suffix}_s"] = snap.ended.eval_seconds
        row[f"other{suffix}_s"] = (
            snap.elapsed_s - snap.ended.train_seconds - snap.ended.eval_seconds
        )


def _print(row: dict[str, Any]) -> None:
    again = (
        f" | again, from that run's speed: estimate {row['estimate_again_s']:.1f} s, actual "
        f"{row['actual_again_s']:.1f} s, error {100 * row['error_again']:+.0f}%"
        if "error_again" in row
        else ""
    )
    print(
        f"{row['case']}: estimate {row['estimate_s']:.1f} s (probe: "
        f"{row['train_images_per_s']:,.0f} train / {row['eval_images_per_s']:,.0f} eval "
        f"images/s, {row['measure_s']:.1f} s to measure), actual {row['actual_s']:.1f} s "
        f"(steps {row.get('train_s', 0):.1f}, evaluations {row.get('eval_s', 0):.1f}, other "
        f"{row.get('other_s', 0):.1f}), error {100 * row['error']:+.0f}%{again}",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    raw = load_mnist()
    with tempfile.TemporaryDirectory() as tmp:
        store = ModelStore(pretrained_dir=Path(tmp) / "none", runs_dir=Path(tmp) / "runs")
        manager = JobManager(max_running=1, data=lambda: raw, store=store)
        threads = manager.threads_per_job
        configs = []
        for name, spec in CASES[args.cases]:
            overrides = {k: v for k, v in spec.items() if k != "model"}
            configs.append((name, TrainConfig.for_model(spec["model"], **overrides)))
        rows = []
        for name, config in configs:  # estimates first, as before Start
            t0 = time.perf_counter()
            speed = measure_speed(config, threads)
            measure_s = time.perf_counter() - t0
            rows.append(
                {
                    "case": name,
                    "estimate_s": estimate_run_seconds(config, threads),
                    "train_images_per_s": speed.train_images_per_s,
                    "eval_images_per_s": speed.eval_images_per_s,
                    "measure_s": measure_s,
                }
            )
        for row, (_, config) in zip(rows, configs, strict=True):
            snap = _run(manager, config)
            _record(row, snap, "")
            # The same setup again, now estimated from the first run's own speed, as the
            # Train page does once a run of that setup has finished.
            speed = observed_speed(config, snap.started, snap.ended) if snap.ended else None
            if speed is not None:
                remember_speed(config, speed, threads)
                row["estimate_again_s"] = estimate_run_seconds(config, threads)
                _record(row, _run(manager, config), "_again")
            _print(row)
        manager.shutdown()
    for label, field in (("probe", "error"), ("learnt from a run", "error_again")):
        errors = [abs(r[field]) for r in rows if field in r]
        if errors:
            print(
                f"absolute error, {label}: median {100 * statistics.median(errors):.0f}%, "
                f"worst {100 * max(errors):.0f}% over {len(errors)} runs ({threads} thread "
                "per job)"
            )
    if args.json:
        meta = {"machine": platform.processor() or platform.machine(), "threads": threads}
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    return 0
