"""`python -m mnist_core sweep`: train every run of a hyperparameter sweep, write a JSON report.

    python -m mnist_core sweep --model lenet5 --epochs 1 \\
        --grid lr=1e-3,3e-3,1e-2 --grid batch_size=64,128 --json sweep.json
    python -m mnist_core sweep --model mlp --random 8 --range lr=1e-4:1e-1:log --json s.json

The runs go through the job manager as the app's do (the same queue and slots), and each is
saved as a checkpoint, with its history, under <runs dir>/cli/. Any TrainConfig field is an
option (the base of every run), as for `train`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from mnist_core.cli.options import CONFIG_FLAGS, flag
from mnist_core.errors import ConfigError
from mnist_core.settings import EXECUTOR_KINDS

_OWNER = "cli"  # checkpoints go to <runs dir>/cli/, beside `train`'s default


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The `sweep` subcommand; the TrainConfig fields are options, as in `train`."""
    s = sub.add_parser(
        "sweep",
        help="train a hyperparameter sweep (grid or random) and write a JSON report",
        description="Grid: --grid NAME=V1,V2,... (up to 3). Random: --random N with "
        "--range NAME=LO:HI[:log]. Grid values and random samples combine. At most 64 runs.",
    )
    s.add_argument("--model", required=True, help="architecture of every run")
    s.add_argument("--preset", help="start every run from a preset (as `train --preset`)")
    s.add_argument(
        "--grid", action="append", default=[], metavar="NAME=V1,V2", help="values to try"
    )
    s.add_argument(
        "--range",
        action="append",
        default=[],
        metavar="NAME=LO:HI[:log]",
        help="a range to sample (with --random N); ':log' samples log-uniformly",
    )
    s.add_argument("--random", type=int, default=0, metavar="N", help="random samples to draw")
    s.add_argument("--sweep-seed", type=int, default=0, help="seed of the random samples")
    s.add_argument("--name", default="", help="the sweep's name (default: sweep #n)")
    s.add_argument(
        "--executor",
        choices=EXECUTOR_KINDS,
        default=None,
        help="where runs train (default: $MNIST_EXECUTOR, else process)",
    )
    s.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="the Ray cluster for --executor ray: auto, local or ray://host:10001 "
        "(default: $MNIST_RAY_ADDRESS, else local)",
    )
    s.add_argument("--parallel", type=int, default=None, metavar="N", help="runs trained at once")
    s.add_argument("--runs-dir", help="where checkpoints go (default: $MNIST_RUNS_DIR or runs)")
    s.add_argument("--json", metavar="PATH", help="write the report here ('-': stdout)")
    s.add_argument("--data-dir", help="folder with the MNIST IDX files")
    s.add_argument("--download", action="store_true", help="download MNIST if missing")
    for f in CONFIG_FLAGS:
        s.add_argument(flag(f.name), dest=f.name, metavar="V", help=f.metadata["help"])


def _spec(args: argparse.Namespace, base: Any) -> Any:
    from mnist_core.train.sweep import SweepParam, SweepSpec

    params = []
    for text, make in [(t, SweepParam.grid) for t in args.grid] + [
        (t, SweepParam.range) for t in args.range
    ]:
        name, eq, values = text.partition("=")
        if not eq or not name.strip() or not values.strip():
            raise ConfigError(
                f"Write each sweep setting as NAME=VALUES, e.g. lr=1e-3,3e-3; got {text!r}."
            )
        params.append(make(name, values))
    if args.random < 0:
        raise ConfigError(f"--random must be 0 or more, got {args.random}.")
    return SweepSpec(base, tuple(params), samples=args.random, seed=args.sweep_seed, name=args.name)


def run(args: argparse.Namespace) -> int:
    """Train the sweep; 0 when every run finished, 1 when some did not (the report says)."""
    import torch

    from mnist_core.cli.options import train_config
    from mnist_core.data.mnist import load_mnist
    from mnist_core.jobs import DONE_STATUSES, JobManager, default_max_running
    from mnist_core.jobs.executors.choose import create_executor
    from mnist_core.settings import settings
    from mnist_core.storage.store import ModelStore

    base = train_config(args)
    spec = _spec(args, base)
    if args.parallel is not None and args.parallel < 1:
        raise ConfigError(f"--parallel must be at least 1, got {args.parallel}.")
    log = sys.stderr if args.json == "-" else sys.stdout
    raw = load_mnist(args.data_dir, download=args.download)
    runs_dir = Path(args.runs_dir) if args.runs_dir else settings().runs_dir
    store = ModelStore(runs_dir=runs_dir)
    # No browser renews leases here: a lease longer than any sweep. And no web server to
    # keep a core free for (the app's manager does): the runs share all of them.
    kind = args.executor or settings().executor
    address = args.ray_address or settings().ray_address
    executor = create_executor(
        kind, address, warm=args.parallel or 1, max_workers=args.parallel or default_max_running()
    )
    if executor.note:
        print(executor.note, file=sys.stderr)
    slots = args.parallel or default_max_running(executor)
    manager = JobManager(
        slots,
        data=lambda: raw,
        store=store,
        lease_s=1e9,
        threads_per_job=max(1, torch.get_num_threads() // slots),
        executor=executor,
    )
    where = manager.placement().summary
    print(
        f"{spec.n_runs} runs of {base.model}, {manager.max_running} at a time in {where}", file=log
    )
    t0 = time.perf_counter()
    try:
        name = args.name or f"{base.model} sweep {time.strftime('%Y-%m-%d %H:%M')}"
        sweep_id = manager.submit_sweep(spec, _OWNER, name)
        reported: set[str] = set()
        while True:
            snap = manager.sweep(sweep_id)
            for run_ in snap.runs:
                if run_.status in DONE_STATUSES and run_.job_id not in reported:
                    reported.add(run_.job_id)
                    acc = "" if run_.test_accuracy is None else f"test {run_.test_accuracy:.2%}"
                    print(
                        f"[{len(reported)}/{spec.n_runs}] {run_.label}: {run_.status} {acc} "
                        f"in {run_.elapsed_s:.1f} s",
                        file=log,
                    )
            if snap.finished:
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        manager.shutdown()
        executor.shutdown()
        raise
    wall = time.perf_counter() - t0
    manager.shutdown()
    executor.shutdown()
    report = _report(snap, store, wall)
    report["executor"] = executor.kind
    report["parallel"] = slots
    best = snap.best
    if best is not None:
        print(
            f"best: {best.label} (test {best.test_accuracy:.2%}); {spec.n_runs} runs in "
            f"{wall:.1f} s",
            file=log,
        )
    if args.json:
        text = json.dumps(report, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text + "\n")
            print(f"wrote {args.json}", file=log)
    return 0 if all(r.status == "finished" for r in snap.runs) else 1


def _report(snap: Any, store: Any, wall_s: float) -> dict[str, Any]:
    runs = []
    for r in snap.runs:
        train_s = None
        if r.checkpoint_id:
            train_s = store.load(r.checkpoint_id).metrics.get("train_seconds")
        runs.append(
            {
                "name": r.name,
                "swept": dict(r.overrides),
                "config": r.config.to_dict(),
                "status": r.status,
                "test_accuracy": r.test_accuracy,
                "train_seconds": train_s,
                "elapsed_seconds": r.elapsed_s,
                "checkpoint": str(store.get(r.checkpoint_id).path) if r.checkpoint_id else None,
                "message": r.message,
            }
        )
    best = snap.best
    return {
        "sweep": snap.name,
        "params": list(snap.params),
        "n_runs": len(runs),
        "wall_seconds": wall_s,
        "best": None
        if best is None
        else {
            "name": best.name,
            "swept": dict(best.overrides),
            "test_accuracy": best.test_accuracy,
        },
        "runs": runs,
    }
