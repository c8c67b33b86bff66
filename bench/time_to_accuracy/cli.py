"""`python -m bench tta`: the options, then the run over peers and (model, seed) pairs, each
in its own worker process; prints the tables and writes --json."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.peers import PEERS
from bench.progress import log
from bench.time_to_accuracy.report import build_report
from bench.time_to_accuracy.settings import DEFAULT_PEER_BATCH, TARGETS
from bench.time_to_accuracy.tables import format_tables
from bench.time_to_accuracy.worker import spawn
from mnist_core.data.mnist import find_data_dir, load_mnist
from mnist_core.errors import ConfigError
from mnist_core.machine import pick_device
from mnist_core.models import list_models
from mnist_core.train.config import TrainConfig

DESCRIPTION = "Time-to-accuracy benchmark of each architecture's default recipe, against two peers."


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench tta`."""
    p.add_argument("--models", default="mlp,lenet5,resnet", help="comma-separated architectures")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds; mean ± sd over them")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument(
        "--max-minutes",
        type=float,
        default=60.0,
        help="budget for the whole benchmark; training past it is cut (default 60)",
    )
    p.add_argument("--epochs", type=int, help="override the recipes' epochs (smoke tests)")
    p.add_argument("--batch-size", type=int, help="override the recipes' batch size (e.g. CUDA)")
    p.add_argument("--train-subset", type=int, help="train on this many images (smoke tests)")
    p.add_argument(
        "--val-size", type=int, default=0, help="images held out for validation (default 0)"
    )
    p.add_argument("--peers", default="seed,examples", help="peers to time, or 'none'")
    p.add_argument(
        "--peer-seconds", type=float, default=30.0, help="timed training per peer (default 30)"
    )
    p.add_argument(
        "--peer-batch-size",
        type=int,
        help=f"peers' batch size (default: --batch-size if given, else {DEFAULT_PEER_BATCH})",
    )
    p.add_argument(
        "--latency-samples", type=int, default=200, help="timed predictions (default 200)"
    )
    p.add_argument("--data-dir", help="folder with the MNIST files (else $MNIST_DATA_DIR)")
    p.add_argument("--json", metavar="PATH", help="also write every figure as JSON here")


def _split_list(text: str, what: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise ConfigError(f"--{what} is empty.")
    if len(set(items)) != len(items):
        raise ConfigError(f"--{what} names something twice: {text!r}.")
    return items


def _parse_seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in _split_list(text, "seeds")]
    except ValueError:
        raise ConfigError(f"--seeds must be comma-separated whole numbers, got {text!r}.") from None


def _parse_peers(text: str) -> list[str]:
    if text.strip().lower() == "none":
        return []
    names = _split_list(text, "peers")
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        raise ConfigError(
            f"Unknown peer {', '.join(unknown)}. Choose from {', '.join(PEERS)}, or none."
        )
    return names


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; print the tables; write --json. Exit status 1 if a worker failed."""
    models = _split_list(args.models, "models")
    unknown = [m for m in models if m not in list_models()]
    if unknown:
        raise ConfigError(
            f"Unknown model {', '.join(unknown)}. Choose from {', '.join(list_models())}."
        )
    seeds = _parse_seeds(args.seeds)
    peers = _parse_peers(args.peers)
    for name in ("max_minutes", "peer_seconds"):
        if not getattr(args, name) > 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive.")
    if args.latency_samples < 1:
        raise ConfigError("--latency-samples must be at least 1.")
    pick_device(args.device)  # an absent CUDA is an error now, not in every worker

    overrides: dict[str, Any] = {"val_size": args.val_size, "device": args.device}
    for name in ("epochs", "batch_size", "train_subset"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    # Validate every configuration before spending minutes on the first.
    configs = {(m, s): TrainConfig.for_model(m, **overrides, seed=s) for s in seeds for m in models}
    data_dir = find_data_dir(args.data_dir)
    if data_dir is None:
        load_mnist(args.data_dir)  # raises DataMissingError listing the folders searched
    data_dir = str(Path(data_dir).resolve())
    peer_batch = args.peer_batch_size or args.batch_size or DEFAULT_PEER_BATCH

    t_start = time.time()
    deadline = t_start + 60.0 * args.max_minutes
    peer_results: list[dict[str, Any]] = []
    for i, name in enumerate(peers, 1):  # first: short and bounded, and the ratios need them
        log(f"[peer {i}/{len(peers)}] {name}: timing training for {args.peer_seconds:g} s")
        spec = {
            "kind": "peer",
            "name": name,
            "device": args.device,
            "data_dir": data_dir,
            "val_size": args.val_size,
            "train_subset": args.train_subset,
            "batch_size": peer_batch,
            "seconds": args.peer_seconds,
            "deadline": deadline,
        }
        res = spawn(spec, deadline)
        peer_results.append({"name": name, **res})
        log(f"    {name}: {res['status']}" + _fmt_rate(res.get("images_per_s")))

    runs: list[dict[str, Any]] = []
    n_runs = len(configs)
    # Seeds outer, models inner: a cut budget still leaves every model's first seed.
    for k, (model, seed) in enumerate(configs, 1):
        config = configs[(model, seed)]
        log(f"[run {k}/{n_runs}] {model} seed {seed}: up to {config.epochs} epochs")
        spec = {
            "kind": "train",
            "config": config.to_dict(),
            "targets": list(TARGETS.get(model, ())),
            "data_dir": data_dir,
            "latency_samples": args.latency_samples,
            "deadline": deadline,
        }
        res = spawn(spec, deadline)
        runs.append({"model": model, "seed": seed, **res})
        acc = res.get("final_test_accuracy")
        log(
            f"    {model} seed {seed}: {res['status']}"
            + (f", test {acc:.2%}" if acc is not None else "")
            + _fmt_rate(res.get("train_images_per_s"))
        )

    report = build_report(args, models, seeds, peers, runs, peer_results, time.time() - t_start)
    print(format_tables(report))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        log(f"wrote {out}")
    failed = [r for r in [*runs, *peer_results] if r["status"] in ("failed", "killed")]
    return 1 if failed else 0


def _fmt_rate(v: float | None) -> str:
    return f", {v:,.0f} img/s" if v else ""
