"""The command line: `python -m mnist_core COMMAND`, COMMAND one of train, sweep (in
sweep.py), finetune (finetune.py), evaluate, predict, explain, export, download, models.

Errors in input (missing file, corrupt checkpoint, bad option) exit with status 2 and one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from mnist_core.cli import finetune as cli_finetune
from mnist_core.cli import sweep as cli_sweep
from mnist_core.cli.options import CONFIG_FLAGS, flag, target_fraction, train_config
from mnist_core.errors import ConfigError, MnistError
from mnist_core.models import list_models
from mnist_core.train.config import TrainConfig
from mnist_core.train.recipes import PRESETS

if TYPE_CHECKING:
    from mnist_core.digits.preprocess import PreprocessResult


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line and exit status 2 (its default status)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m mnist_core", description="MNIST Playground engine.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

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
    for f in CONFIG_FLAGS:
        meta = f.metadata
        extra = f" ({', '.join(meta['choices'])})" if meta.get("choices") else ""
        t.add_argument(flag(f.name), dest=f.name, metavar="V", help=meta["help"] + extra)

    e = sub.add_parser("evaluate", help="test accuracy of a checkpoint")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data-dir")
    e.add_argument("--json", action="store_true", help="print one JSON object")

    pr = sub.add_parser("predict", help="predict the digit in PNG/JPEG images")
    pr.add_argument("--checkpoint", required=True)
    pr.add_argument("images", nargs="+", metavar="IMAGE")
    pr.add_argument("--json", action="store_true", help="print a JSON list")

    _add_explain_parser(sub)
    cli_sweep.add_parser(sub)
    cli_finetune.add_parser(sub)

    x = sub.add_parser(
        "export",
        help="export a checkpoint to ONNX, checked with onnxruntime on 100 test digits",
    )
    x.add_argument("--checkpoint", required=True)
    x.add_argument("--format", choices=["onnx"], default="onnx")
    x.add_argument("--out", required=True, help="the .onnx file to write")
    x.add_argument("--data-dir", help="folder with the MNIST IDX files (for the check)")
    x.add_argument("--json", action="store_true", help="print one JSON object")

    d = sub.add_parser("download", help="download MNIST to --data-dir or $MNIST_DATA_DIR")
    d.add_argument("--data-dir")

    sub.add_parser("models", help="list the architectures")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except MnistError as e:  # one line: multi-line UI messages are joined
        print("error: " + " ".join(ln.strip() for ln in str(e).splitlines()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# ---- train -------------------------------------------------------------------------------


def _train(args: argparse.Namespace) -> int:
    from mnist_core.data.mnist import load_mnist
    from mnist_core.storage.checkpoints import (
        checkpoint_metrics,
        make_checkpoint,
        save_checkpoint,
        with_cpu_test_accuracy,
    )
    from mnist_core.storage.history import RunHistory
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

    config = train_config(args)
    target = target_fraction(args.target)
    if args.stop_at_target and target is None:
        raise ConfigError("--stop-at-target needs a --target, e.g. --target 0.99.")
    control = TrainControl()
    out_stream = sys.stderr if args.json else sys.stdout  # --json: stdout holds only the JSON
    raw = load_mnist(args.data_dir, download=args.download, progress=_download_bar)
    model = build_model(config)
    bar = _Progress(out_stream)
    started: RunStarted | None = None
    epochs: list[EpochMetrics] = []
    checks: list[AccuracyCheck] = []
    steps: list[StepMetrics] = []
    first_step_s: float | None = None
    ended: RunEnded | None = None
    for ev in fit(config, raw, model=model, control=control):
        if isinstance(ev, AccuracyCheck | EpochMetrics) and args.stop_at_target:
            accuracy = ev.test_accuracy
            if accuracy is not None and target is not None and accuracy >= target:
                control.request_stop()  # honoured before the next step
        if isinstance(ev, RunStarted):
            started = ev
            bar.line(
                f"{config.model}: {ev.n_params:,} parameters, {ev.n_train:,} training images, "
                f"{config.epochs} epochs on {ev.device_name}"
            )
        elif isinstance(ev, StepMetrics):
            assert started is not None
            steps.append(ev)
            if ev.step == 1:
                first_step_s = ev.train_seconds
            bar.update(
                ev.step / started.total_steps,
                f"epoch {ev.epoch:5.2f}  loss {ev.loss:.4f}  {ev.images_per_s:,.0f} img/s",
            )
        elif isinstance(ev, AccuracyCheck):
            checks.append(ev)
            bar.update(
                ev.step / started.total_steps if started else 0.0,
                f"epoch {ev.epoch:5.2f}  test {ev.test_accuracy:.2%}  {ev.train_seconds:.1f} s",
            )
        elif isinstance(ev, EpochMetrics):
            epochs.append(ev)
            bar.line(_epoch_line(ev))
        elif isinstance(ev, RunEnded):
            ended = ev
    bar.done()
    assert ended is not None
    bar.line(ended.message)
    reached = first_reach(epochs, checks, target) if target is not None else None
    if target is not None:
        bar.line(
            f"{target:.2%} reached after {reached.train_seconds:.2f} s of training "
            f"(epoch {reached.epoch:.2f})"
            if reached
            else f"{target:.2%} not reached"
        )
    if ended.status == "diverged":
        if args.json:
            print(json.dumps(_train_json(config, ended, None, target, reached, first_step_s)))
        return 1
    out = Path(args.out) if args.out else Path("runs") / "cli" / f"{config.model}.pt"
    name = args.name or out.stem
    metrics = checkpoint_metrics(
        config,
        started=started,
        epochs=epochs,
        ended=ended,
        train_seconds=ended.train_seconds,
        step=ended.step,
        status=ended.status,
        test_accuracy=ended.test_accuracy,
        name=name,
    )
    history = RunHistory.from_events(
        started=started, steps=steps, epochs=epochs, checks=checks, ended=ended
    )
    ckpt = make_checkpoint(model, config, metrics, name=name, history=history)
    on_cpu = started is None or started.device == "cpu"
    if not on_cpu and ended.test_accuracy is not None:
        ckpt = with_cpu_test_accuracy(ckpt, raw.test_images, raw.test_labels)
    save_checkpoint(ckpt, out)
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


class _Progress:
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


def _download_bar(p: object) -> None:
    print(f"\rdownloading {p.file} {p.fraction:6.1%}", end="", file=sys.stderr, flush=True)


# ---- evaluate / predict / download / models ----------------------------------------------


def _evaluate(args: argparse.Namespace) -> int:
    from mnist_core.data.mnist import load_mnist
    from mnist_core.storage.checkpoints import load_checkpoint
    from mnist_core.train.evaluation import evaluate

    ckpt = load_checkpoint(Path(args.checkpoint))
    raw = load_mnist(args.data_dir)
    result = evaluate(ckpt.build_model(), raw.test_images, raw.test_labels)
    if args.json:
        print(
            json.dumps(
                {"checkpoint": str(args.checkpoint), "model": ckpt.model, **result.to_json()}
            )
        )
    else:
        print(f"{ckpt.model}: test accuracy {result.accuracy:.2%} ({result.n:,} images)")
        print(
            "per class: "
            + "  ".join(f"{d}:{a:.1%}" for d, a in enumerate(result.per_class_accuracy))
        )
        print(f"misclassified: {len(result.misclassified)}")
    return 0


def _preprocessed_images(names: Sequence[str]) -> list[tuple[str, PreprocessResult]]:
    """Each named image file decoded and preprocessed as the Draw page does; every file is
    checked before any work, so a missing one is reported alone, as one line."""
    from mnist_core.digits.decode import load_image_bytes
    from mnist_core.digits.preprocess import preprocess
    from mnist_core.errors import ImageError

    paths = [Path(name) for name in names]
    for path in paths:
        if not path.is_file():
            raise ImageError(f"Image {path} does not exist.")
    return [
        (name, preprocess(load_image_bytes(path.read_bytes(), name=path.name)))
        for name, path in zip(names, paths, strict=True)
    ]


def _predict(args: argparse.Namespace) -> int:
    from mnist_core.digits.preprocess import predict
    from mnist_core.storage.checkpoints import load_checkpoint

    model = load_checkpoint(Path(args.checkpoint)).build_model()
    results = []
    for name, pre in _preprocessed_images(args.images):
        if pre.image is None:
            results.append(
                {"file": name, "digit": None, "probabilities": None, "message": pre.message}
            )
            continue
        probs = predict(model, pre.image)
        results.append(
            {"file": name, "digit": int(probs.argmax()), "probabilities": [float(p) for p in probs]}
        )
    if args.json:
        print(json.dumps(results))
    else:
        for r in results:
            if r["digit"] is None:
                print(f"{r['file']}: nothing drawn")
            else:
                print(f"{r['file']}: {r['digit']} ({max(r['probabilities']):.1%})")
    return 0


# ---- explain -----------------------------------------------------------------------------


def _add_explain_parser(sub: argparse._SubParsersAction) -> None:
    from mnist_core.explain.attributions import METHODS

    def digit(text: str) -> int:
        if text.strip().isdigit() and 0 <= int(text) <= 9:
            return int(text)
        raise argparse.ArgumentTypeError(f"must be a digit 0-9, got {text!r}")

    x = sub.add_parser("explain", help="layers, probabilities and an attribution map per image")
    x.add_argument("--checkpoint", required=True)
    x.add_argument("images", nargs="+", metavar="IMAGE")
    x.add_argument("--method", choices=METHODS, default="saliency", help="attribution method")
    x.add_argument("--target", type=digit, help="class to explain (default: the predicted one)")
    x.add_argument("--json", action="store_true", help="print a JSON list")


def _explain(args: argparse.Namespace) -> int:
    from mnist_core.explain.summary import explain_digit
    from mnist_core.storage.checkpoints import load_checkpoint

    model = load_checkpoint(Path(args.checkpoint)).build_model()
    results = []
    for name, pre in _preprocessed_images(args.images):
        result = {"file": name, **explain_digit(model, pre.image, args.method, args.target)}
        if pre.image is None:
            result["message"] = pre.message
        results.append(result)
    if args.json:
        print(json.dumps(results))
    else:
        for r in results:
            if r["digit"] is None:
                print(f"{r['file']}: nothing drawn")
            else:
                a = r["attribution"]
                print(
                    f"{r['file']}: {r['digit']} ({max(r['probabilities']):.1%}); "
                    f"{a['method']} map for class {a['target']}"
                )
    return 0


def _export(args: argparse.Namespace) -> int:
    """Write the ONNX file, then check it against torch on the first 100 test digits: exit 1
    (the file is kept, the message says so) when they differ by more than the tolerance."""
    from mnist_core.data.mnist import load_mnist
    from mnist_core.storage.checkpoints import load_checkpoint
    from mnist_core.storage.export import TOLERANCE, check_onnx, export_onnx

    ckpt = load_checkpoint(args.checkpoint)
    raw = load_mnist(args.data_dir)
    data = export_onnx(ckpt)
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as e:
        raise MnistError(f"Could not write {out}: {e.strerror or e}.") from None
    images = raw.test_images[:100].float().div(255).unsqueeze(1)
    check = check_onnx(data, ckpt, images)
    if args.json:
        print(
            json.dumps(
                {
                    "out": str(out),
                    "bytes": len(data),
                    "format": args.format,
                    "model": ckpt.model,
                    "n_images": check.n_images,
                    "max_abs_diff": check.max_abs_diff,
                    "agree": check.agree,
                    "ok": check.ok,
                }
            )
        )
    verdict = (
        f"onnxruntime matches torch on {check.n_images} test digits (largest probability "
        f"difference {check.max_abs_diff:.1e})"
        if check.ok
        else f"onnxruntime differs from torch on {check.n_images} test digits: largest "
        f"probability difference {check.max_abs_diff:.1e} (tolerance {TOLERANCE:g}), "
        f"{check.n_images - check.agree} different predictions; the file is kept for a look"
    )
    print(
        f"wrote {out} ({len(data) / 1024:,.0f} KB): {verdict}",
        file=sys.stderr if args.json else sys.stdout,
    )
    return 0 if check.ok else 1


def _download(args: argparse.Namespace) -> int:
    from mnist_core.data.mnist import download_mnist

    dest = download_mnist(args.data_dir, progress=_download_bar)
    print(f"\nMNIST is in {dest}", file=sys.stderr)
    return 0


def _models(args: argparse.Namespace) -> int:
    from mnist_core.models import count_parameters, create_model, get_spec, list_models

    for name in list_models():
        spec = get_spec(name)
        print(f"{name:8s} {count_parameters(create_model(name)):>9,} params  {spec.description}")
    return 0


_COMMANDS = {
    "train": _train,
    "evaluate": _evaluate,
    "predict": _predict,
    "explain": _explain,
    "sweep": cli_sweep.run,
    "finetune": cli_finetune.run,
    "export": _export,
    "download": _download,
    "models": _models,
}
