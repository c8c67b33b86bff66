"""`python -m mnist_core finetune`: fine-tune a checkpoint on a folder or zip of one's own digits.

    python -m mnist_core finetune --checkpoint checkpoints/lenet5.pt \\
        --images my_digits.zip --out runs/cli/lenet5-mine.pt --steps 200 --json

The folder or zip holds PNGs and a labels.csv (columns file,label), as the Draw page's "My
handwriting" downloads it. A quarter of each digit's examples are held back to measure the
result; the rest are mixed with MNIST (see mnist_core/train/finetune.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from mnist_core.words import count_of


def add_parser(sub: argparse._SubParsersAction) -> None:
    from mnist_core.train.finetune import DEFAULT_STEPS, MAX_STEPS

    f = sub.add_parser(
        "finetune",
        help="fine-tune a checkpoint on your own labelled digits (a folder or zip)",
        description="Fine-tune on PNGs plus labels.csv (file,label), mixed with MNIST; a "
        "quarter of each digit is held back to measure accuracy before and after.",
    )
    f.add_argument("--checkpoint", required=True, help="the checkpoint to start from")
    f.add_argument("--images", required=True, metavar="FOLDER_OR_ZIP")
    f.add_argument("--out", required=True, help="the fine-tuned checkpoint to write")
    f.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        help=f"training steps, 1 to {MAX_STEPS} (default {DEFAULT_STEPS})",
    )
    f.add_argument("--seed", type=int, default=0, help="the held-back split and shuffling")
    f.add_argument("--name", default="", help="display name (default: '<base> (my handwriting)')")
    f.add_argument("--data-dir", help="folder with the MNIST IDX files")
    f.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    from mnist_core.data.mnist import load_mnist
    from mnist_core.digits.handwriting import read_folder
    from mnist_core.storage.checkpoints import load_checkpoint, make_checkpoint, save_checkpoint
    from mnist_core.train import finetune
    from mnist_core.train.record import RunRecord

    finetune.check_steps(args.steps)  # before minutes of loading
    ckpt = load_checkpoint(args.checkpoint)
    personal = read_folder(args.images)
    raw = load_mnist(args.data_dir)
    out_stream = sys.stderr if args.json else sys.stdout
    print(
        f"fine-tuning {ckpt.name or ckpt.model} on {count_of(len(personal), 'digit')} for "
        f"{count_of(args.steps, 'step')}",
        file=out_stream,
    )
    model, config, report, events = finetune.run(
        ckpt, personal, raw, steps=args.steps, seed=args.seed
    )
    record = RunRecord.of(events)  # the report's steps and seconds are the RunEnded's
    name = args.name or f"{ckpt.name or ckpt.model} (my handwriting)"
    metrics = record.metrics(config, name=name, test_accuracy=report.test_accuracy) | {
        "finetune_of": ckpt.name or ckpt.model,
        "personal_accuracy_before": report.personal_accuracy_before,
        "personal_accuracy_after": report.personal_accuracy_after,
        "personal_held_out": report.n_held_out,
    }
    out = Path(args.out)
    checkpoint = make_checkpoint(model, config, metrics, name=name, history=record.history())
    save_checkpoint(checkpoint, out)
    print(
        f"held-back digits ({report.n_held_out}): {report.personal_accuracy_before:.1%} -> "
        f"{report.personal_accuracy_after:.1%}; MNIST test {report.test_accuracy_before:.2%} "
        f"-> {report.test_accuracy:.2%}; {report.train_seconds:.1f} s of training -> {out}",
        file=out_stream,
    )
    if args.json:
        print(json.dumps(asdict(report) | {"out": str(out), "name": name}))
    return 0 if report.status == "finished" else 1
