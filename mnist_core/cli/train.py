"""`python -m mnist_core train`: train one model in this process, with a progress bar, and
write its checkpoint (`--json`: one object of results on stdout).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from mnist_core.cli.options import CONFIG_FLAGS, flag, target_fraction, train_config
from mnist_core.errors import ConfigError
from mnist_core.models import list_models
from mnist_core.train.config import TrainConfig
from mnist_core.train.recipes import PRESETS
from mnist_core.words import count_of

__all__ = ["Progress", "add_parser", "download_bar", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a model and write a checkpoint")
    t.add_argument("--model", help=f"architecture: {', '.join(list_models())}")
    t.add_argument(
        "--preset",
        help=f"start from a preset: {', '.join(PRESETS)} (the speedruns choose their model "
        "unless --model is given)",
    )
    t.add_argument(
        "--target",
        metavar="ACC",
        help="report the training seconds to the first test accuracy at or above ACC "
        "(e.g. 0.99 or 99)",
    )
    t.add_argument(
        "--stop-at-target",
        action="store_true",
        help="with --target: stop training there (test_accuracy is then the target check's)",
    )
    t.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object of results on stdout (progress goes to stderr)",
    )
    t.add_argument("--data-dir", help="folder with the MNIST IDX files")
    t.add_argument("--out", help="checkpoint path (default: runs/cli/<model>.pt)")
    t.add_argument("--name", default="", help="display name stored in the checkpoint")
    t.add_argument("--download", action="store_true", help="download MNIST if missing")
    t.add_argument(
        "--timeline",
        action="store_true",
        help="also keep the run's training timeline (its weights at about 16 log-spaced "
        "steps, within MNIST_TIMELINE_MAX_MB) beside the checkpoint, as <out>.timeline.pt",
    )
    for f in CONFIG_FLAGS:
        meta = f.metadata
        extra = f" ({', '.join(meta['choices'])})" if meta.get("choices") else ""
        t.add_argument(flag(f.name), dest=f.name, metavar="V", help=meta["help"] + extra)


def run(args: argparse.Namespace) -> int:
    from mnist_core.data.mnist import load_mnist
    from mnist_core.settings import settings
    from mnist_core.storage.checkpoints import (
        make_checkpoint,
        save_checkpoint,
        with_cpu_test_accuracy,
    )
    from mnist_core.storage.timelines import save_timeline, timeline_path
    from mnist_core.train.control import TrainControl
    from mnist_core.train.events import (
        AccuracyCheck,
        EpochMetrics,
        RunEnded,
        RunStarted,
        StepMetrics,
    )
    from mnist_core.train.loop import build_model, fit
    from mnist_core.train.race import first_reach
    from mnist_core.train.record import RunRecord
    from mnist_core.train.timeline import TimelineRecorder

    config = train_config(args)
    target = target_fraction(args.target)
    if args.stop_at_target and target is None:
        raise ConfigError("--stop-at-target needs a --target, e.g. --target 0.99.")
    control = TrainControl()
    out_stream = sys.stderr if args.json else sys.stdout  # --json: stdout holds only the JSON
    raw = load_mnist(args.data_dir, download=args.download, progress=download_bar)
    model = build_model(config)
    bar = Progress(out_stream)
    record = RunRecord()
    recorder = TimelineRecorder(settings().timeline_max_bytes) if args.timeline else None
    for ev in fit(config, raw, model=model, control=control, timeline=recorder):
        record.add(ev)
        if isinstance(ev, AccuracyCheck | EpochMetrics) and args.stop_at_target:
            accuracy = ev.test_accuracy
            if accuracy is not None and target is not None and accuracy >= target:
                control.request_stop()  # honoured before the next step
        started = record.started
        if isinstance(ev, RunStarted):
            bar.line(
                f"{config.model}: {ev.n_params:,} parameters, {ev.n_train:,} training images, "
                f"{count_of(config.epochs, 'epoch')} on {ev.device_name}"
            )
        elif isinstance(ev, StepMetrics):
            assert started is not None
            bar.update(
                ev.step / started.total_steps,
                f"epoch {ev.epoch:5.2f}  loss {ev.loss:.4f}  {ev.images_per_s:,.0f} img/s",
            )
        elif isinstance(ev, AccuracyCheck):
            bar.update(
                ev.step / started.total_steps if started else 0.0,
                f"epoch {ev.epoch:5.2f}  test {ev.test_accuracy:.2%}  {ev.train_seconds:.1f} s",
            )
        elif isinstance(ev, EpochMetrics):
            bar.line(_epoch_line(ev))
    bar.done()
    ended = record.ended
    assert isinstance(ended, RunEnded)  # fit always ends with one
    bar.line(ended.message)
    reached = first_reach(record.epochs, record.checks, target) if target is not None else None
    if target is not None:
        bar.line(
            f"{target:.2%} reached after {reached.train_seconds:.2f} s of training "
            f"(epoch {reached.epoch:.2f})"
            if reached
            else f"{target:.2%} not reached"
        )
    first_step_s = record.first_step_seconds
    if ended.status == "diverged":
        if args.json:
            print(json.dumps(_train_json(config, ended, None, target, reached, first_step_s)))
        return 1
    out = Path(args.out) if args.out else Path("runs") / "cli" / f"{config.model}.pt"
    name = args.name or out.stem
    metrics = record.metrics(config, name=name, test_accuracy=ended.test_accuracy)
    ckpt = make_checkpoint(model, config, metrics, name=name, history=record.history())
    on_cpu = record.started is None or record.started.device == "cpu"
    if not on_cpu and ended.test_accuracy is not None:
        ckpt = with_cpu_test_accuracy(ckpt, raw.test_images, raw.test_labels)
    save_checkpoint(ckpt, out)
    if recorder is not None:
        timeline = recorder.timeline()
        if timeline is None:
            bar.line(recorder.note or "No training timeline was kept.")
        else:
            where = save_timeline(timeline, timeline_path(out))
            bar.line(f"training timeline: {len(timeline.steps)} steps -> {where}")
    acc = ckpt.metrics["test_accuracy"]
    bar.line(
        f"test accuracy {acc:.2%}  training time {ended.train_seconds:.1f} s  -> {out}"
        if acc is not None
        else f"saved {out}"
    )
    if args.json:
        print(json.dumps(_train_json(config, ended, out, target, reached, first_step_s)))
    return 0


def _train_json(
    config: TrainConfig,
    ended: object,
    out: Path | None,
    target: float | None,
    reached: object,
    first_step_s: float | None,
) -> dict[str, object]:
    """`train --json`: the results as one object (seconds are training time, evaluations and
    the first step's warm-up included in train_seconds, reported apart as first_step_seconds)."""
    return {
        "model": config.model,
        "status": ended.status,
        "test_accuracy": ended.test_accuracy,
        "target": target,
        "seconds_to_target": round(reached.train_seconds, 4) if reached else None,
        "epoch_at_target": round(reached.epoch, 4) if reached else None,
        "step_at_target": reached.step if reached else None,
        "train_seconds": round(ended.train_seconds, 4),
        "eval_seconds": round(ended.eval_seconds, 4),
        "first_step_seconds": None if first_step_s is None else round(first_step_s, 4),
        "epochs": ended.epochs_done,
        "steps": ended.step,
        "checkpoint": None if out is None else str(out),
        "config": config.to_dict(),
    }


def _epoch_line(ev: object) -> str:
    def pct(v: float | None) -> str:
        return "   -  " if v is None else f"{v:.2%}"

    return (
        f"epoch {ev.epoch:3d}  train loss {ev.train_loss:.4f}  train {pct(ev.train_accuracy)}  "
        f"val {pct(ev.val_accuracy)}  test {pct(ev.test_accuracy)}  {ev.train_seconds:7.1f} s"
    )


class Progress:
    """A one-line progress bar on a terminal; plain periodic lines otherwise (CI logs)."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last_print = 0.0

    def update(self, frac: float, text: str) -> None:
        if self.tty:
            n = int(30 * frac)
            bar = f"\r[{'#' * n}{'.' * (30 - n)}] {frac:6.1%} {text}"
            print(bar, end="", file=self.stream, flush=True)
        elif time.monotonic() - self.last_print > 10:
            self.last_print = time.monotonic()
            print(f"{frac:6.1%} {text}", file=self.stream, flush=True)

    def line(self, text: str) -> None:
        print(("\r\033[K" if self.tty else "") + text, file=self.stream, flush=True)

    def done(self) -> None:
        if self.tty:
            print("\r\033[K", end="", file=self.stream, flush=True)


def download_bar(p: object) -> None:
    print(f"\rdownloading {p.file} {p.fraction:6.1%}", end="", file=sys.stderr, flush=True)
