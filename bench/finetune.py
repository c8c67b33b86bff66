"""Fine-tuning on one style family of drawn digits: does a model learn a person's style?

    python -m bench finetune [--checkpoint P] [--families F ...] [--n 400] [--steps 200]
                             [--json PATH]

For each family of the drawn-digit benchmark (bench/drawn.py): `--n` digits of that family
drawn with a training seed (`--seed`, never the benchmark's 20000-20999) are the "personal set"
given to `mnist_core.train.finetune.run`, exactly what `python -m mnist_core finetune` and the Draw
page's "Fine-tune on my handwriting" do (a quarter held back, the rest mixed with MNIST). The
model is measured before and after on 1,000 *other* digits of the same family (the benchmark's
seed 20001, family only), and on the MNIST test set. Times are the whole fine-tune (training,
evaluation) on this machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from bench import drawn
from mnist_core.data.mnist import load_mnist
from mnist_core.digits.handwriting import HandwritingSet
from mnist_core.errors import ConfigError
from mnist_core.settings import PACKAGED_PRETRAINED_DIR
from mnist_core.storage.checkpoints import load_checkpoint
from mnist_core.train.evaluation import evaluate
from mnist_core.train.finetune import DEFAULT_STEPS
from mnist_core.train.finetune import run as finetune_run

DESCRIPTION = "Fine-tune on 400 drawn digits of one style family; accuracy on others of it."
OTHER_SEED = drawn.BENCH_SEED + 1
OTHER_N = 1000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default=str(Path(PACKAGED_PRETRAINED_DIR) / "lenet5.pt"))
    p.add_argument("--families", nargs="+", default=list(drawn.FAMILIES), metavar="F")
    p.add_argument("--n", type=int, default=400, help="drawn digits to fine-tune on")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    p.add_argument("--seed", type=int, default=1, help="the personal set's seed (not 20000+)")
    p.add_argument("--json", help="also write the results as JSON")


def _tensors(ds: drawn.DrawnSet) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(drawn.preprocessed(ds)).mul(255).round().to(torch.uint8)
    return x, torch.from_numpy(ds.labels)


def run(args: argparse.Namespace) -> int:
    if args.seed in drawn.BENCH_SEEDS:
        raise ConfigError(f"Seed {args.seed} is reserved for the benchmark: use another.")
    ckpt = load_checkpoint(args.checkpoint)
    raw = load_mnist()
    base = ckpt.build_model()
    results = []
    print(
        f"{ckpt.name}: fine-tuned on {args.n} drawn digits of a family ({args.steps} steps); "
        f"accuracy on {OTHER_N} other digits of it and on the MNIST test set"
    )
    head = ("others before", "after", "MNIST after", "seconds")
    print(f"{'family':18s} {head[0]:>13s} {head[1]:>7s} {head[2]:>11s} {head[3]:>8s}")
    for fam in args.families:
        personal = drawn.render(args.n, seed=args.seed, families=[fam])
        px, py = _tensors(personal)
        other = _tensors(drawn.render(OTHER_N, seed=OTHER_SEED, families=[fam]))
        before = evaluate(base, *other).accuracy
        t0 = time.perf_counter()
        model, _, report, _ = finetune_run(
            ckpt, HandwritingSet.from_arrays(px.numpy(), py.tolist()), raw, steps=args.steps
        )
        seconds = time.perf_counter() - t0
        after = evaluate(model, *other).accuracy
        results.append(
            {
                "family": fam,
                "others_before": before,
                "others_after": after,
                "held_out_before": report.personal_accuracy_before,
                "held_out_after": report.personal_accuracy_after,
                "test_accuracy_before": report.test_accuracy_before,
                "test_accuracy": report.test_accuracy,
                "seconds": seconds,
            }
        )
        print(
            f"{fam:18s} {before:13.1%} {after:7.1%} {report.test_accuracy:11.2%} {seconds:8.1f}",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"checkpoint": args.checkpoint, "runs": results}))
    return 0
