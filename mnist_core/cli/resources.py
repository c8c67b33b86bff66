"""`python -m mnist_core export | download | models`: a checkpoint out to ONNX, MNIST in, the
architectures listed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mnist_core.cli.train import download_bar
from mnist_core.errors import MnistError

__all__ = ["add_parsers", "download", "export", "models"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
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


def export(args: argparse.Namespace) -> int:
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


def download(args: argparse.Namespace) -> int:
    from mnist_core.data.mnist import download_mnist

    dest = download_mnist(args.data_dir, progress=download_bar)
    print(f"\nMNIST is in {dest}", file=sys.stderr)
    return 0


def models(args: argparse.Namespace) -> int:
    from mnist_core.models import count_parameters, create_model, get_spec, list_models

    for name in list_models():
        spec = get_spec(name)
        print(f"{name:8s} {count_parameters(create_model(name)):>9,} params  {spec.description}")
    return 0
