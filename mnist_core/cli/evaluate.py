"""`python -m mnist_core evaluate | predict | explain`: a checkpoint applied to the MNIST test
set or to image files.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mnist_core.digits.preprocess import PreprocessResult

__all__ = ["add_parsers", "evaluate", "explain", "predict"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("evaluate", help="test accuracy of a checkpoint")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data-dir")
    e.add_argument("--json", action="store_true", help="print one JSON object")

    pr = sub.add_parser("predict", help="predict the digit in PNG/JPEG images")
    pr.add_argument("--checkpoint", required=True)
    pr.add_argument("images", nargs="+", metavar="IMAGE")
    pr.add_argument("--json", action="store_true", help="print a JSON list")

    _add_explain_parser(sub)


def evaluate(args: argparse.Namespace) -> int:
    from mnist_core.data.mnist import load_mnist
    from mnist_core.storage.checkpoints import load_checkpoint
    from mnist_core.train.evaluation import evaluate as evaluate_model

    ckpt = load_checkpoint(Path(args.checkpoint))
    raw = load_mnist(args.data_dir)
    result = evaluate_model(ckpt.build_model(), raw.test_images, raw.test_labels)
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


def predict(args: argparse.Namespace) -> int:
    from mnist_core.models.inference import predict as probabilities
    from mnist_core.storage.checkpoints import load_checkpoint

    model = load_checkpoint(Path(args.checkpoint)).build_model()
    results = []
    for name, pre in _preprocessed_images(args.images):
        if pre.image is None:
            results.append(
                {"file": name, "digit": None, "probabilities": None, "message": pre.message}
            )
            continue
        probs = probabilities(model, pre.image)
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


def explain(args: argparse.Namespace) -> int:
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
