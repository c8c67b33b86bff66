"""`python -m bench race`: the Race to 99% (issue 16). Seconds of training to a target test
accuracy, for the speedrun presets beside the lenet5 and resnet recipes and the two peers, in
one run on one machine.

Each run is `python -m mnist_core train ... --target T --json` in a fresh process (so its
first step pays the warm-up a person's first run pays), measured as the command line reports
it: training seconds to the first test measurement at or above the target (checks inside
epochs included, their own time excluded). The peers have no recipe to a target here: their
training throughput is timed as in `python -m bench tta`, for the ratio of images per second.
`--ablation` also runs the speedrun without each of its tricks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.peers import PEERS
from bench.progress import log
from bench.time_to_accuracy.settings import DEFAULT_PEER_BATCH
from bench.time_to_accuracy.worker import spawn
from mnist_core.data.mnist import find_data_dir, load_mnist
from mnist_core.errors import ConfigError
from mnist_core.machine import device_name, pick_device
from mnist_core.train.recipes import recipe

DESCRIPTION = "Seconds of training to 99% / 99.5% test accuracy: the speedruns vs the recipes."

_REPO = Path(__file__).resolve().parents[1]
# name -> (train options, target, stop at the target?). The recipes get test checks inside
# epochs (every 47 steps, a tenth of an epoch, as the 99.5% speedrun; the 99% one checks every
# 24) so that both are timed alike, and stop at the target: their final accuracy is python -m
# bench tta's.
ENTRIES: dict[str, tuple[list[str], float, bool]] = {
    "speedrun": (["--preset", "speedrun"], 0.99, False),
    "lenet5 recipe": (["--model", "lenet5", "--eval-every", "47"], 0.99, True),
    "speedrun 99.5": (["--preset", "speedrun 99.5"], 0.995, False),
    "resnet recipe": (["--model", "resnet", "--eval-every", "94"], 0.995, True),
}
# The speedrun without one trick each (--ablation): what each one buys.
ABLATION: dict[str, list[str]] = {
    "no channels_last": ["--channels-last", "false"],
    "cosine one-cycle (25% warm-up)": ["--schedule", "onecycle"],
    "no label smoothing": ["--label-smoothing", "0"],
    "AdamW 3e-3 instead of SGD 0.1": ["--optimizer", "adamw", "--lr", "0.003"],
    "batch 256, lr 0.2": ["--batch-size", "256", "--lr", "0.2"],
    # The architecture alone: LeNet-5 trained with the SpeedNet's recipe (below).
    "LeNet-5 instead of SpeedNet": ["--model", "lenet5"],
    "test only at the epoch's end": ["--eval-every", "0"],
}


def _recipe_flags(model: str) -> list[str]:
    """`model`'s recipe as train options, so that another architecture can be given it."""
    flags = []
    for name, value in recipe(model).items():
        if name != "model_kwargs":
            flags += ["--" + name.replace("_", "-"), str(value).lower()]
    return flags


# The speedrun spelled out (its preset is the SpeedNet's recipe): an ablation can then swap
# the architecture and keep the rest.
_SPEEDRUN = ["--model", "speednet", *_recipe_flags("speednet")]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench race`."""
    p.add_argument(
        "--entries",
        default=",".join(ENTRIES),
        help=f"comma-separated, of: {', '.join(ENTRIES)} (default: all)",
    )
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (mean ± sd)")
    p.add_argument(
        "--ablation",
        nargs="?",
        const="all",
        help="also the speedrun without each trick: all (no value) or comma-separated names",
    )
    p.add_argument("--peers", default="seed,examples", help="peers to time, or 'none'")
    p.add_argument("--peer-seconds", type=float, default=30.0, help="timed training per peer")
    p.add_argument("--train-subset", type=int, help="train on this many images (smoke tests)")
    p.add_argument("--data-dir", help="folder with the MNIST files (else $MNIST_DATA_DIR)")
    p.add_argument("--json", metavar="PATH", help="also write every figure as JSON here")


def run(args: argparse.Namespace) -> int:
    """Run every entry for every seed; print the tables; write --json."""
    entries = [e.strip() for e in args.entries.split(",") if e.strip()]
    unknown = [e for e in entries if e not in ENTRIES]
    if unknown or not entries:
        raise ConfigError(f"--entries: choose from {', '.join(ENTRIES)}; got {args.entries!r}.")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds must be whole numbers, got {args.seeds!r}.") from None
    peers = [] if args.peers.strip() == "none" else [p.strip() for p in args.peers.split(",")]
    if any(p not in PEERS for p in peers):
        raise ConfigError(f"--peers: choose from {', '.join(PEERS)}, or none.")
    data_dir = find_data_dir(args.data_dir)
    if data_dir is None:
        load_mnist(args.data_dir)  # raises DataMissingError listing the folders searched
    data_dir = str(Path(data_dir).resolve())

    plan = [(name, *ENTRIES[name]) for name in entries]
    if args.ablation:
        names = list(ABLATION) if args.ablation == "all" else args.ablation.split(",")
        if any(n not in ABLATION for n in names):
            raise ConfigError(f"--ablation: choose from {', '.join(ABLATION)}, or all.")
        _, target, _ = ENTRIES["speedrun"]
        plan += [(f"speedrun, {n}", [*_SPEEDRUN, *ABLATION[n]], target, False) for n in names]
    t0 = time.time()
    peer_results = []
    for name in peers:
        log(f"[peer] {name}: timing training for {args.peer_seconds:g} s")
        spec = {
            "kind": "peer",
            "name": name,
            "device": "auto",
            "data_dir": data_dir,
            "val_size": 0,
            "train_subset": args.train_subset,
            "batch_size": DEFAULT_PEER_BATCH,
            "seconds": args.peer_seconds,
            "deadline": time.time() + 3600,
        }
        peer_results.append({"name": name, **spawn(spec, time.time() + 3600)})
    rows = []
    for name, options, target, stop in plan:
        runs = []
        for seed in seeds:
            log(f"[{name}] seed {seed}: to {target:.1%}")
            runs.append(_train(options, target, stop, seed, data_dir, args.train_subset))
        rows.append({"entry": name, "target": target, "options": options, "runs": runs})
    device = pick_device("auto")
    report = {
        "device": device_name(device),
        "torch_threads": _threads(),
        "seeds": seeds,
        "peers": peer_results,
        "rows": rows,
        "wall_seconds": time.time() - t0,
    }
    print(format_tables(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        log(f"wrote {args.json}")
    ok = all(r.get("status") in ("finished", "stopped") for row in rows for r in row["runs"])
    return 0 if ok else 1


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _train(
    options: list[str], target: float, stop: bool, seed: int, data_dir: str, subset: int | None
) -> dict[str, Any]:
    """One `train --json` in a fresh process: its JSON, plus the wall seconds."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-race-{os.getpid()}.pt"
    cmd = [sys.executable, "-m", "mnist_core", "train", *options, "--seed", str(seed)]
    cmd += ["--target", str(target), "--json", "--data-dir", data_dir, "--out", str(out)]
    cmd += ["--stop-at-target"] if stop else []
    cmd += ["--train-subset", str(subset)] if subset else []
    env = {**os.environ, "PYTHONPATH": str(_REPO)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    out.unlink(missing_ok=True)
    if proc.returncode != 0:
        return {"status": "failed", "error": proc.stderr.strip().splitlines()[-1:]}
    result = json.loads(proc.stdout)
    result.pop("config", None)
    result["wall_seconds"] = round(wall, 2)
    return result


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {sd:.2f}"


def format_tables(report: dict[str, Any]) -> str:
    """The race table (and the ablation rows): mean ± sd over the seeds. "vs recipe": the
    recipe's mean seconds to the same target (lenet5 for 99%, resnet for 99.5%) over the
    row's, in this run."""
    refs = {
        row["target"]: _seconds(row)
        for row in report["rows"]
        if row["entry"] in ("lenet5 recipe", "resnet recipe")
    }
    lines = [
        f"Device: {report['device']}, {report['torch_threads']} torch threads; "
        f"seeds {report['seeds']}; every run a fresh process",
        "",
        "| entry | target | s to target | reached | epoch at target | final test acc "
        "| first step s | wall s | img/s | vs recipe |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        runs = [r for r in row["runs"] if r.get("status") in ("finished", "stopped")]
        if not runs:
            lines.append(f"| {row['entry']} | {row['target']:.1%} | failed | | | | | | | |")
            continue
        secs, ref = _seconds(row), refs.get(row["target"], [])
        all_reached = bool(secs) and len(secs) == len(runs)
        ratio = (
            f"{statistics.mean(ref) / statistics.mean(secs):.1f}x" if ref and all_reached else "-"
        )
        final = [r["test_accuracy"] * 100 for r in runs if r["status"] == "finished"]
        rate = [(r["steps"] * _batch(row)) / r["train_seconds"] for r in runs if r["train_seconds"]]
        lines.append(
            f"| {row['entry']} | {row['target']:.1%} | {_mean_sd(secs)} | "
            f"{len(secs)}/{len(row['runs'])} | "
            f"{_mean_sd([r['epoch_at_target'] for r in runs if r['epoch_at_target']])} | "
            f"{_mean_sd(final) + '%' if final else '(stopped at target)'} | "
            f"{_mean_sd([r['first_step_seconds'] for r in runs if r['first_step_seconds']])} | "
            f"{_mean_sd([r['wall_seconds'] for r in runs])} | "
            f"{statistics.mean(rate):,.0f} | {ratio} |"
        )
    if report["peers"]:
        lines += ["", "| peer | training img/s (batch 128) |", "|---|---|"]
        for p in report["peers"]:
            rate = p.get("images_per_s")
            lines.append(f"| {p['name']} | {f'{rate:,.0f}' if rate else p.get('status')} |")
    return "\n".join(lines)


def _seconds(row: dict[str, Any]) -> list[float]:
    return [r["seconds_to_target"] for r in row["runs"] if r.get("seconds_to_target") is not None]


def _batch(row: dict[str, Any]) -> int:
    opts = row["options"]
    return int(opts[opts.index("--batch-size") + 1]) if "--batch-size" in opts else 128
