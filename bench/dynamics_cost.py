"""What recording the training dynamics costs `fit` (issue 12's budget: under 3% of training).

    python -m bench dynamics [--models mlp,lenet5,resnet] [--subset 4000] [--epochs 1]
                             [--log-every 10,1] [--repeats 2] [--json OUT]

Per architecture and logging interval, each run trains the architecture's recipe on
--subset training digits with the dynamics on and off (alternating, --repeats pairs). Two
figures: the probe's own time (`RunEnded.dynamics_seconds`, timed inside fit around every
copy, reduction and histogram) as a share of the training time, which is exact; and the
difference of the medians of the training times with and without, which also holds what the
probe's timer cannot see but is as noisy as the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from mnist_core.data.mnist import load_mnist
from mnist_core.models import list_models
from mnist_core.train.config import TrainConfig
from mnist_core.train.events import RunEnded
from mnist_core.train.loop import build_model, fit

DESCRIPTION = "cost of the training dynamics that fit records (norms, ratios, histograms)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench dynamics`."""
    p.add_argument("--models", default=",".join(list_models()))
    p.add_argument("--data-dir")
    p.add_argument("--subset", type=int, default=4000, help="training digits per run")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--log-every", default="10,1", help="logging intervals to measure")
    p.add_argument("--repeats", type=int, default=2, help="pairs of runs (on, off)")
    p.add_argument("--json", type=Path, help="also write the rows as JSON")


def _train(raw: object, config: TrainConfig, dynamics: bool) -> RunEnded:
    ended = None
    for event in fit(config, raw, model=build_model(config), dynamics=dynamics):
        if isinstance(event, RunEnded):
            ended = event
    assert ended is not None and ended.status == "finished", ended
    return ended


def run(args: argparse.Namespace) -> int:
    """Measure every model and logging interval; print a Markdown table."""
    raw = load_mnist(args.data_dir)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| model | log every | train s (on) | train s (off) | probe share | wall diff |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = []
    for model in args.models.split(","):
        for every in (int(v) for v in args.log_every.split(",")):
            config = TrainConfig.for_model(
                model,
                epochs=args.epochs,
                train_subset=args.subset,
                val_size=1000,
                eval_test=False,
                log_every=every,
            )
            on, off, share = [], [], []
            for _ in range(args.repeats):
                a = _train(raw, config, True)
                b = _train(raw, config, False)
                on.append(a.train_seconds)
                off.append(b.train_seconds)
                share.append(a.dynamics_seconds / a.train_seconds)
            row = {
                "model": model,
                "log_every": every,
                "train_s_on": statistics.median(on),
                "train_s_off": statistics.median(off),
                "probe_share": max(share),
                "wall_diff": statistics.median(on) / statistics.median(off) - 1,
            }
            rows.append(row)
            print(
                f"| {model} | {every} | {row['train_s_on']:.2f} | {row['train_s_off']:.2f} | "
                f"{row['probe_share']:.2%} | {row['wall_diff']:+.1%} |",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0
