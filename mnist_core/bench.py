"""Time-to-accuracy benchmark: `python -m mnist_core bench`.

For each architecture's default recipe (trained on the full training set: all 60,000 images,
no validation hold-out unless --val-size) it reports, per seed and as mean ± sd over seeds:

- the training seconds (`EpochMetrics.train_seconds`, evaluation excluded) to the first epoch
  whose test accuracy reaches each target, and the wall seconds since the start of `fit`
  (evaluation and set-up included) at that point; test accuracy is measured after every epoch;
- the final test accuracy, training images/s (images trained / training seconds);
- single-digit prediction latency p50/p95: `mnist_core.preprocess.predict` (what the app
  calls: batch of one, inference mode, softmax, numpy) on a real test digit, after warm-up;
- peak resident memory of the process (each run is a fresh subprocess, so the figure is its own).

In the same run it times two peers' training (images/s: forward, backward and optimiser step on
batches indexed from the same whole-split uint8 tensor on the same device; see
`mnist_core.peers`) and prints our images/s divided by theirs. --json PATH writes every figure,
per-seed raw values and machine information.

Each (model, seed) and each peer runs in `python -m mnist_core.bench --worker SPEC`, which prints
one line `BENCH_RESULT {json}` on stdout (progress goes to stderr). --max-minutes is a budget for
the whole benchmark: a worker stops training at the deadline (TrainControl.request_stop from a
timer thread) and reports the run as "cut"; runs not started by then are "skipped".
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist_core.errors import ConfigError

# Test accuracy each architecture is timed to (fractions).
TARGETS: dict[str, tuple[float, ...]] = {
    "mlp": (0.98,),
    "lenet5": (0.99,),
    "resnet": (0.995, 0.996),
}
DEFAULT_PEER_BATCH = 128  # the same for both peers (and our recipes' default), for fairness
PEER_WARMUP_STEPS = 2  # untimed steps first: allocator, oneDNN/cuDNN kernel choice
LATENCY_WARMUP = 20
RESULT_PREFIX = "BENCH_RESULT "
# The parent kills a worker this long after the deadline: loading data, the final
# evaluation and the latency loop happen after training stops.
_KILL_GRACE_S = 300.0
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the folder holding mnist_core/


# ---- command line ------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m mnist_core bench` (cli.py builds the sub-command)."""
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
    from mnist_core.peers import PEERS

    if text.strip().lower() == "none":
        return []
    names = _split_list(text, "peers")
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        raise ConfigError(
            f"Unknown peer {', '.join(unknown)}. Choose from {', '.join(PEERS)}, or none."
        )
    return names


def run_from_args(args: argparse.Namespace) -> int:
    """Run the benchmark; print the tables; write --json. Exit status 1 if a worker failed."""
    from mnist_core.config import TrainConfig
    from mnist_core.data import find_data_dir, load_mnist
    from mnist_core.device import pick_device
    from mnist_core.models import list_models

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
        _log(f"[peer {i}/{len(peers)}] {name}: timing training for {args.peer_seconds:g} s")
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
        res = _spawn(spec, deadline)
        peer_results.append({"name": name, **res})
        _log(f"    {name}: {res['status']}" + _fmt_rate(res.get("images_per_s")))

    runs: list[dict[str, Any]] = []
    n_runs = len(configs)
    # Seeds outer, models inner: a cut budget still leaves every model's first seed.
    for k, (model, seed) in enumerate(configs, 1):
        config = configs[(model, seed)]
        _log(f"[run {k}/{n_runs}] {model} seed {seed}: up to {config.epochs} epochs")
        spec = {
            "kind": "train",
            "config": config.to_dict(),
            "targets": list(TARGETS.get(model, ())),
            "data_dir": data_dir,
            "latency_samples": args.latency_samples,
            "deadline": deadline,
        }
        res = _spawn(spec, deadline)
        runs.append({"model": model, "seed": seed, **res})
        acc = res.get("final_test_accuracy")
        _log(
            f"    {model} seed {seed}: {res['status']}"
            + (f", test {acc:.2%}" if acc is not None else "")
            + _fmt_rate(res.get("train_images_per_s"))
        )

    report = _report(args, models, seeds, peers, runs, peer_results, time.time() - t_start)
    print(format_tables(report))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        _log(f"wrote {out}")
    failed = [r for r in [*runs, *peer_results] if r["status"] in ("failed", "killed")]
    return 1 if failed else 0


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _fmt_rate(v: float | None) -> str:
    return f", {v:,.0f} img/s" if v else ""


# ---- the parent side: spawn workers, summarise ------------------------------------------


def _spawn(spec: dict[str, Any], deadline: float) -> dict[str, Any]:
    """Run one worker in a fresh interpreter; its result dict, or a status saying why not."""
    if time.time() >= deadline:
        return {"status": "skipped", "error": "the --max-minutes budget was spent"}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
    )
    cmd = [sys.executable, "-m", "mnist_core.bench", "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,  # the result line; stderr (progress) goes to ours
            text=True,
            env=env,
            timeout=deadline - time.time() + _KILL_GRACE_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"status": "killed", "error": "the worker overran the deadline and was killed"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    return {"status": "failed", "error": f"the worker exited with status {proc.returncode}"}


def _stats(values: Sequence[float | None]) -> dict[str, float] | None:
    """Mean, sample standard deviation (0 for one value), min, max and count; None if empty."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    return {
        "mean": statistics.fmean(vals),
        "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0,
        "min": min(vals),
        "max": max(vals),
        "n": len(vals),
    }


def _summarise(model: str, seeds: list[int], runs: list[dict[str, Any]]) -> dict[str, Any]:
    mine = [r for r in runs if r["model"] == model and r["status"] in ("finished", "cut")]
    finished = [r for r in mine if r["status"] == "finished"]
    targets = []
    for i, target in enumerate(TARGETS.get(model, ())):
        hits = [r["targets"][i] for r in mine if r["targets"][i]["train_seconds"] is not None]
        targets.append(
            {
                "target": target,
                "reached": len(hits),
                "of": len(seeds),
                "train_seconds": _stats([h["train_seconds"] for h in hits]),
                "wall_seconds": _stats([h["wall_seconds"] for h in hits]),
                "epoch": _stats([h["epoch"] for h in hits]),
            }
        )
    return {
        "model": model,
        "params": mine[0]["n_params"] if mine else None,
        "seeds_run": [r["seed"] for r in mine],
        "seeds_finished": [r["seed"] for r in finished],
        # A cut run's last accuracy is not a final one: only finished runs count here.
        "final_test_accuracy": _stats([r["final_test_accuracy"] for r in finished]),
        "targets": targets,
        "train_images_per_s": _stats([r["train_images_per_s"] for r in mine]),
        "latency_p50_ms": _stats([r["latency_ms"]["p50"] for r in mine]),
        "latency_p95_ms": _stats([r["latency_ms"]["p95"] for r in mine]),
        "peak_rss_mib": _stats([r["peak_rss_mib"] for r in mine]),
    }


def _cpu_model() -> str:
    """The CPU's name: platform.processor() is often empty on Linux, /proc/cpuinfo is not."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _report(
    args: argparse.Namespace,
    models: list[str],
    seeds: list[int],
    peers: list[str],
    runs: list[dict[str, Any]],
    peer_results: list[dict[str, Any]],
    seconds: float,
) -> dict[str, Any]:
    import torch

    done = [r for r in [*runs, *peer_results] if r["status"] in ("finished", "cut")]
    summary = {m: _summarise(m, seeds, runs) for m in models}
    ratios: dict[str, dict[str, float | None]] = {}
    for m in models:
        ours = summary[m]["train_images_per_s"]
        ratios[m] = {}
        for p in peer_results:
            theirs = p.get("images_per_s")
            ratios[m][p["name"]] = ours["mean"] / theirs if ours and theirs else None
    uname = platform.uname()
    return {
        "machine": {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "system": f"{uname.system} {uname.release} {uname.machine}",
            "platform": platform.platform(),
            "processor": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            # As the workers saw them (they train); the parent never touches the device.
            "torch_num_threads": done[0]["num_threads"] if done else torch.get_num_threads(),
            "device": done[0]["device"] if done else None,
            "device_name": done[0]["device_name"] if done else None,
        },
        "settings": {
            "models": models,
            "seeds": seeds,
            "peers": peers,
            "device": args.device,
            "max_minutes": args.max_minutes,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "train_subset": args.train_subset,
            "val_size": args.val_size,
            "peer_seconds": args.peer_seconds,
            "peer_batch_size": args.peer_batch_size or args.batch_size or DEFAULT_PEER_BATCH,
            "latency_samples": args.latency_samples,
            "latency_warmup": LATENCY_WARMUP,
            "targets": {m: list(TARGETS.get(m, ())) for m in models},
            "seconds": seconds,
        },
        "summary": summary,
        "peers": peer_results,
        "ratios": ratios,
        "runs": runs,
    }


# ---- the tables ---------------------------------------------------------------------------


def _pm(s: dict[str, float] | None, fmt: str, scale: float = 1.0) -> str:
    """'mean ± sd' (just the mean for one value), or '-'."""
    if s is None:
        return "-"
    mean = format(s["mean"] * scale, fmt)
    return mean if s["n"] < 2 else f"{mean} ± {format(s['sd'] * scale, fmt)}"


def _params(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def format_tables(report: dict[str, Any]) -> str:
    """The report as Markdown: machine line, our models, the peers, then any problems."""
    m = report["machine"]
    st = report["settings"]
    out = [
        f"## MNIST benchmark — {m['date']}",
        "",
        f"Device {m['device_name']}; {m['processor']}, {m['cpu_count']} CPUs, "
        f"{m['torch_num_threads']} torch threads; torch {m['torch']}, Python {m['python']}. Seeds "
        f"{', '.join(map(str, st['seeds']))}; values are mean ± sd over seeds. Time to target: "
        "training seconds (evaluation excluded) to the first epoch at or above the target "
        "test accuracy [wall seconds including evaluation], seeds that reached it. Latency: "
        "preprocess.predict on one test digit.",
        "",
    ]
    rows = []
    for s in report["summary"].values():
        targets = []
        for t in s["targets"]:
            label = f"{t['target']:.1%}"
            if t["reached"] == 0:
                targets.append(f"{label}: not reached")
            else:
                targets.append(
                    f"{label}: {_pm(t['train_seconds'], '.1f')} s "
                    f"[{_pm(t['wall_seconds'], '.1f')}] {t['reached']}/{t['of']}"
                )
        p50, p95 = s["latency_p50_ms"], s["latency_p95_ms"]
        rows.append(
            [
                s["model"],
                _params(s["params"]),
                f"{len(s['seeds_finished'])}/{len(st['seeds'])}",
                _pm(s["final_test_accuracy"], ".2f", 100)
                + ("%" if s["final_test_accuracy"] else ""),
                "; ".join(targets) or "-",
                _pm(s["train_images_per_s"], ",.0f"),
                f"{p50['mean']:.2f} / {p95['mean']:.2f}" if p50 and p95 else "-",
                _pm(s["peak_rss_mib"], ".0f"),
            ]
        )
    out.append(
        _table(
            [
                "model",
                "params",
                "seeds done",
                "final test acc",
                "time to target",
                "train img/s",
                "p50 / p95 ms",
                "peak RSS MiB",
            ],
            rows,
        )
    )
    if report["peers"]:
        models = list(report["summary"])
        prow = []
        for p in report["peers"]:
            prow.append(
                [
                    p["name"] + ("" if p["status"] == "finished" else f" ({p['status']})"),
                    _params(p.get("params")),
                    str(p.get("batch_size", "-")),
                    f"{p['images_per_s']:,.1f}" if p.get("images_per_s") else "-",
                    *(
                        f"{r:,.1f}x" if (r := report["ratios"][mm][p["name"]]) else "-"
                        for mm in models
                    ),
                ]
            )
        out += [
            "",
            "Peers: training images/s on the same data and device (float32, batches indexed "
            "from the whole-split tensor), and our mean images/s divided by theirs.",
            "",
            _table(["peer", "params", "batch", "img/s", *(f"{mm} ÷ peer" for mm in models)], prow),
        ]
    problems = [
        f"- {r['model']} seed {r['seed']}: {r['status']}"
        + (f" ({r['error']})" if r.get("error") else "")
        for r in report["runs"]
        if r["status"] != "finished"
    ]
    if problems:
        out += ["", "Runs not finished (cut runs count for time to target, not final accuracy):"]
        out += problems
    return "\n".join(out)


# ---- the worker side ----------------------------------------------------------------------


def _peak_rss_mib() -> float:
    import resource

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / (1024 * 1024) if sys.platform == "darwin" else kib / 1024  # bytes on macOS


def _latency_ms(model: Any, image: Any, samples: int) -> dict[str, float]:
    """p50/p95/mean of `predict(model, image)` over `samples` calls after LATENCY_WARMUP."""
    import numpy as np

    from mnist_core.preprocess import predict

    for _ in range(LATENCY_WARMUP):
        predict(model, image)
    times = np.empty(samples)
    for i in range(samples):
        t0 = time.perf_counter()
        predict(model, image)  # ends with .cpu(): on a GPU this waits for the result
        times[i] = time.perf_counter() - t0
    times *= 1000.0
    return {
        "p50": float(np.percentile(times, 50)),
        "p95": float(np.percentile(times, 95)),
        "mean": float(times.mean()),
        "n": samples,
    }


def _train_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one (model, seed), timing each target; then time predictions."""
    import threading

    import torch

    from mnist_core.config import TrainConfig
    from mnist_core.control import TrainControl
    from mnist_core.data import load_mnist
    from mnist_core.events import EpochMetrics, RunEnded, RunStarted
    from mnist_core.training import build_model, fit

    config = TrainConfig.from_dict(spec["config"])
    raw = load_mnist(spec["data_dir"])
    control = TrainControl()
    timer = threading.Timer(max(0.0, spec["deadline"] - time.time()), control.request_stop)
    timer.daemon = True
    timer.start()
    targets: list[float] = spec["targets"]
    hits: list[dict[str, Any]] = [
        {"target": t, "train_seconds": None, "wall_seconds": None, "epoch": None} for t in targets
    ]
    epochs: list[dict[str, Any]] = []
    started: RunStarted | None = None
    ended: RunEnded | None = None
    model = build_model(config)
    # The first optimiser built in a process imports torch._dynamo (about 1.5 s on a CPU): do
    # it now so that the wall seconds measure training and evaluation, not Python imports.
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])
    t0 = time.perf_counter()
    for ev in fit(config, raw, model=model, control=control):
        if isinstance(ev, RunStarted):
            started = ev
        elif isinstance(ev, EpochMetrics):
            wall = time.perf_counter() - t0
            acc = ev.test_accuracy
            epochs.append(
                {
                    "epoch": ev.epoch,
                    "test_accuracy": acc,
                    "train_loss": ev.train_loss,
                    "train_seconds": ev.train_seconds,
                    "eval_seconds": ev.eval_seconds,
                    "wall_seconds": wall,
                }
            )
            for h in hits:
                if h["epoch"] is None and acc is not None and acc >= h["target"]:
                    h.update(train_seconds=ev.train_seconds, wall_seconds=wall, epoch=ev.epoch)
            _log(
                f"    {config.model} seed {config.seed} epoch {ev.epoch}/{config.epochs}: "
                f"test {acc:.2%}, {ev.train_seconds:.1f} s training, {wall:.1f} s wall"
            )
        elif isinstance(ev, RunEnded):
            ended = ev
    wall_s = time.perf_counter() - t0
    timer.cancel()
    assert started is not None and ended is not None
    # Images trained: whole epochs, plus the full batches of an epoch cut short (a stop is
    # only honoured before a step, so a cut epoch never includes its short last batch).
    partial_steps = ended.step - ended.epochs_done * started.steps_per_epoch
    images = ended.epochs_done * started.n_train + partial_steps * config.batch_size
    image = (raw.test_images[0].float() / 255.0).numpy()  # (28,28) float32, a real "7"
    result = {
        "status": {"finished": "finished", "stopped": "cut", "diverged": "diverged"}[ended.status],
        "config": config.to_dict(),
        "device": started.device,
        "device_name": started.device_name,
        "n_params": started.n_params,
        "n_train": started.n_train,
        "epochs_done": ended.epochs_done,
        "steps": ended.step,
        "final_test_accuracy": ended.test_accuracy,
        "train_seconds": ended.train_seconds,
        "eval_seconds": ended.eval_seconds,
        "wall_seconds": wall_s,
        "images_trained": images,
        "train_images_per_s": images / ended.train_seconds if ended.train_seconds > 0 else None,
        "targets": hits,
        "epochs": epochs,
        "latency_ms": _latency_ms(model, image, spec["latency_samples"]),
    }
    if ended.status == "diverged":
        result["error"] = ended.message
    return result


def _peer_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Time a peer's training steps for spec['seconds'] after PEER_WARMUP_STEPS."""
    import torch

    from mnist_core.data import load_mnist, make_splits
    from mnist_core.device import device_name, pick_device
    from mnist_core.models import count_parameters
    from mnist_core.peers import PEERS, create_peer

    peer = PEERS[spec["name"]]
    device = pick_device(spec["device"])
    raw = load_mnist(spec["data_dir"])
    splits = make_splits(raw, val_size=spec["val_size"], train_subset=spec["train_subset"])
    splits = splits.to(device)
    model = create_peer(peer.name).to(device).train()
    opt = peer.optimizer(model)
    n = splits.n_train
    bs = min(spec["batch_size"], n)
    gen = torch.Generator(device=device).manual_seed(0)
    torch.manual_seed(0)  # dropout
    cuda = device.type == "cuda"
    order = torch.randperm(n, generator=gen, device=device)
    pos = 0
    last_loss = torch.zeros((), device=device)

    def step() -> None:
        nonlocal order, pos, last_loss
        if pos + bs > n:  # a new epoch: reshuffle (full batches only, like a steady state)
            order, pos = torch.randperm(n, generator=gen, device=device), 0
        idx = order[pos : pos + bs]
        pos += bs
        x = splits.train_x[idx].unsqueeze(1).float().div_(255)  # (B,1,28,28) in [0,1]
        y = splits.train_y[idx]  # (B,)
        loss = peer.loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        last_loss = loss.detach()

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    for _ in range(PEER_WARMUP_STEPS):
        step()
    sync()
    budget = min(float(spec["seconds"]), spec["deadline"] - time.time())
    steps, t0 = 0, time.perf_counter()
    while True:
        step()
        steps += 1
        if cuda and steps % 20:  # on a GPU check the clock (a sync) every 20 steps only
            continue
        sync()
        elapsed = time.perf_counter() - t0
        if elapsed >= budget:
            break
    cut = budget < float(spec["seconds"])
    return {
        "status": "cut" if cut else "finished",
        "title": peer.title,
        "description": peer.description,
        "device": str(device),
        "device_name": device_name(device),
        "params": count_parameters(model),
        "expected_params": peer.expected_params,
        "batch_size": bs,
        "optimizer": type(opt).__name__,
        "warmup_steps": PEER_WARMUP_STEPS,
        "steps": steps,
        "seconds": elapsed,
        "images_per_s": steps * bs / elapsed,
        "last_loss": float(last_loss),
    }


def worker_main(argv: Sequence[str]) -> int:
    """`python -m mnist_core.bench --worker SPEC`: run one measurement, print its result line."""
    if len(argv) != 2 or argv[0] != "--worker":
        print("usage: python -m mnist_core.bench --worker SPEC_JSON", file=sys.stderr)
        return 2
    import torch

    spec = json.loads(argv[1])
    result = _train_worker(spec) if spec["kind"] == "train" else _peer_worker(spec)
    result["num_threads"] = torch.get_num_threads()
    result["peak_rss_mib"] = _peak_rss_mib()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        result["cuda_peak_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
