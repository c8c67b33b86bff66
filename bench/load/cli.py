"""`python -m bench load`: the options, the run, the summary on stdout and --json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.load.options import LoadOptions
from bench.load.run import run_load
from bench.load.tables import format_report
from mnist_core.settings import EXECUTOR_KINDS

DESCRIPTION = (
    "Simulate browser sessions against the engine; report errors, prediction latency and memory."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench load` (defaults from `LoadOptions`)."""
    d = LoadOptions()
    p.add_argument("--sessions", type=int, default=d.sessions, help="simulated visitors")
    p.add_argument("--minutes", type=float, default=d.minutes, help="how long to run")
    p.add_argument(
        "--max-running", type=int, default=d.max_running, help="jobs trained at the same time"
    )
    p.add_argument("--seed", type=int, default=d.seed, help="random seed of the visitors")
    p.add_argument(
        "--lease",
        type=float,
        default=d.lease_s,
        help="seconds without a heartbeat before a job is reaped; keep it well above the "
        "longest visitor turn (a few seconds)",
    )
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: the usual search)")
    p.add_argument("--pretrained-dir", default=d.pretrained_dir, help="pretrained checkpoints")
    p.add_argument(
        "--predict-threads",
        type=int,
        default=0,
        help="torch threads for predictions in visitor threads (0: torch's default, as the app)",
    )
    p.add_argument(
        "--executor",
        choices=EXECUTOR_KINDS,
        default=d.executor,
        help="where jobs train (as MNIST_EXECUTOR; default: process, the app's default)",
    )
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON here")


def run(args: argparse.Namespace) -> int:
    """Run, print the summary, write --json; 0 (MnistError when it cannot run: no data, no
    pretrained checkpoints, bad options)."""
    options = LoadOptions(
        sessions=args.sessions,
        minutes=args.minutes,
        max_running=args.max_running,
        seed=args.seed,
        lease_s=args.lease,
        data_dir=args.data_dir,
        pretrained_dir=args.pretrained_dir,
        predict_threads=args.predict_threads,
        executor=args.executor,
    )
    report = run_load(options)
    print(format_report(report))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    return 0
