"""Recipe sweep: test accuracy after every epoch for candidate recipes (used to tune
mnist_core/train/recipes.py; accuracy per epoch barely depends on the device, so it can run on a GPU
while CPU images/s are measured separately). Usage:

    python -m bench sweep 'resnet:width=16,depth=1:epochs=6,lr=4e-3' ... [--seeds 0,1]

Each argument is model:model_kwargs:config overrides. Prints one JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import time

from mnist_core.data.mnist import load_mnist
from mnist_core.errors import ConfigError
from mnist_core.train.config import TrainConfig, parse_value
from mnist_core.train.events import EpochMetrics, RunEnded
from mnist_core.train.loop import fit

DESCRIPTION = "Test accuracy after every epoch for candidate recipes, one JSON line per run."


def parse(spec: str) -> tuple[str, dict, dict]:
    """'model:k=v,...:field=v,...' -> (model, model_kwargs, TrainConfig overrides)."""
    model, kw, over = [*spec.split(":"), "", ""][:3]
    kwargs = {
        k: int(v) if v.isdigit() else float(v)
        for k, v in (p.split("=") for p in kw.split(",") if p)
    }
    overrides = {k: parse_value(k, v) for k, v in (p.split("=") for p in over.split(",") if p)}
    return model, kwargs, overrides


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench sweep`."""
    p.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC",
        help="model:model_kwargs:config overrides, e.g. 'resnet:width=16,depth=1:epochs=6'",
    )
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")


def run(args: argparse.Namespace) -> int:
    """Train every spec with every seed; print one JSON line per run."""
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise ConfigError(
            f"--seeds must be comma-separated whole numbers, got {args.seeds!r}."
        ) from None
    raw = load_mnist()
    for spec in args.specs:
        model, kwargs, overrides = parse(spec)
        for seed in seeds:
            config = TrainConfig.for_model(model, model_kwargs=kwargs, seed=seed, **overrides)
            t0 = time.perf_counter()
            accs, times = [], []
            for ev in fit(config, raw):
                if isinstance(ev, EpochMetrics):
                    accs.append(ev.test_accuracy)
                    times.append(round(ev.train_seconds, 2))
                if isinstance(ev, RunEnded):
                    end = ev
            print(
                json.dumps(
                    {
                        "spec": spec,
                        "seed": seed,
                        "acc": accs,
                        "train_s_at": times,
                        "final": end.test_accuracy,
                        "train_s": round(end.train_seconds, 1),
                        "wall_s": round(time.perf_counter() - t0, 1),
                    }
                ),
                flush=True,
            )
    return 0
