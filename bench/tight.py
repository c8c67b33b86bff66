"""Tight-crop benchmark: digits cropped to their box, so that strokes touch the image's edges.

    python -m bench tight [--checkpoints P1 P2 ...] [--n 1000] [--size 16] [--photos 280]
                          [--seed S]

A zip-code scan (16x16, the digit stretched to fill it) or a photo cropped tightly with the crop
tool has no paper around the digit. Two sets, scored through the Draw page's `preprocess` with
each paper level (`background=` "border", "auto" and "local") for every checkpoint:

    scans   `--n` MNIST test digits (a random sample; `--seed`) cropped to the box of their ink
            (pixels above 0) and resized to `--size` x `--size` (bilinear, aspect not kept),
            every other one dark on light (inverted)
    crops   `--photos` photos of `bench.photos` (the kinds that do not turn the page: clean,
            gradient, shadow, hard-shadow, vignette, noise, jpeg; `--seed` as there) cropped
            with `preprocess`'s crop to the box of the digit's ink

It also prints, per set and for `--photos` photos of `python -m bench photos` (all its kinds,
uncropped), how far the ink found by the local paper estimate spreads
(`mnist_core.digits.photo.ink_span`): above FILL_FRACTION, "auto" takes the image for a digit
that fills the frame and uses the border.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.photos import BENCH_SEED, make_photo_with_box, make_photos
from mnist_core.data.mnist import load_mnist
from mnist_core.digits.grayscale import to_grayscale
from mnist_core.digits.photo import (
    FILL_FRACTION,
    apply_crop,
    decide_polarity,
    ink_span,
    remove_background,
)
from mnist_core.digits.preprocess import BACKGROUNDS, border_pixels, preprocess
from mnist_core.errors import ConfigError
from mnist_core.models.common import IMAGE_SIZE
from mnist_core.models.inference import predict
from mnist_core.settings import PACKAGED_PRETRAINED_DIR
from mnist_core.storage.checkpoints import load_checkpoint

__all__ = [
    "CROP_KINDS",
    "DESCRIPTION",
    "TightSet",
    "add_arguments",
    "inputs",
    "photo_crops",
    "run",
    "scans",
    "tight_scan",
]

DESCRIPTION = "Accuracy of checkpoints on digits cropped to their box (16x16 scans, tight crops)."

CROP_KINDS = ("clean", "gradient", "shadow", "hard-shadow", "vignette", "noise", "jpeg")
_DEFAULT_CHECKPOINTS = ("mlp", "lenet5", "resnet")
_THRESHOLD = 0.1  # preprocess's default


@dataclass(frozen=True)
class TightSet:
    """Images for `preprocess`: `images` (uint8 (H, W) arrays or PIL), `crops` (a `preprocess`
    crop or None, one per image) and `labels` (N,) int64."""

    images: tuple[np.ndarray | Image.Image, ...]
    crops: tuple[tuple[float, float, float, float] | None, ...]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def tight_scan(digit: np.ndarray, size: int, dark_on_light: bool) -> np.ndarray:
    """MNIST `digit` ((28, 28) uint8, ink bright) cropped to its ink and resized to (size, size)
    uint8, bilinear, aspect not kept (as zip-code scans); inverted when `dark_on_light`."""
    rows, cols = np.flatnonzero(digit.max(axis=1)), np.flatnonzero(digit.max(axis=0))
    box = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] if rows.size else digit
    out = np.asarray(Image.fromarray(box).resize((size, size), Image.Resampling.BILINEAR))
    return 255 - out if dark_on_light else out


def scans(
    n: int, size: int, *, seed: int = BENCH_SEED, images: np.ndarray, labels: np.ndarray
) -> TightSet:
    """`n` MNIST digits from `images` (M, 28, 28) uint8 / `labels` (M,), a random sample without
    repeats (min(n, M)), as `tight_scan`s; even-numbered ones dark on light."""
    picks = np.random.default_rng(seed).permutation(len(labels))[:n]
    out = tuple(tight_scan(images[j], size, i % 2 == 0) for i, j in enumerate(picks))
    return TightSet(out, (None,) * len(out), np.asarray(labels[picks], np.int64))


def photo_crops(
    n: int, *, seed: int = BENCH_SEED, images: np.ndarray, labels: np.ndarray
) -> TightSet:
    """`n` photos of `bench.photos` (kinds cycling through CROP_KINDS; photo i of seed s uses
    `numpy.random.default_rng([s, i])` as there), each with the crop of its digit's box."""
    photos, crops, ys = [], [], []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        j = int(rng.integers(len(labels)))
        photo, box = make_photo_with_box(images[j], CROP_KINDS[i % len(CROP_KINDS)], rng)
        photos.append(photo)
        crops.append(box)
        ys.append(int(labels[j]))
    return TightSet(tuple(photos), tuple(crops), np.asarray(ys, np.int64))


def _span(image: np.ndarray | Image.Image, crop: tuple[float, float, float, float] | None) -> float:
    """`ink_span` of the ink that `preprocess`'s local paper estimate finds in `image`."""
    gray = to_grayscale(image)
    if crop is not None:
        gray = apply_crop(gray, crop)
    polarity = decide_polarity(gray)
    if polarity is None:  # as preprocess: the border decides
        polarity = float(np.median(border_pixels(gray))) > 0.5
    return ink_span(remove_background(gray, polarity).ink, _THRESHOLD)


def inputs(tight: TightSet, background: str) -> np.ndarray:
    """(N, 28, 28) float32 model inputs via `preprocess` (zeros where it found nothing)."""
    out = np.zeros((len(tight), IMAGE_SIZE, IMAGE_SIZE), np.float32)
    for i, (image, crop) in enumerate(zip(tight.images, tight.crops, strict=True)):
        result = preprocess(image, crop=crop, background=background)
        if result.image is not None:
            out[i] = result.image
    return out


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench tight`."""
    p.add_argument(
        "--checkpoints",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="checkpoint files (default: the shipped mlp, lenet5 and resnet)",
    )
    p.add_argument("--n", type=int, default=1000, help="scans (default 1000)")
    p.add_argument("--size", type=int, default=16, help="side of the scans in px (default 16)")
    p.add_argument("--photos", type=int, default=280, help="cropped photos (default 280; 0: none)")
    p.add_argument("--seed", type=int, default=BENCH_SEED, help=f"seed (default {BENCH_SEED})")


def run(args: argparse.Namespace) -> int:
    """Make both sets, preprocess them with each paper level, print accuracy and ink spans."""
    if args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}.")
    if args.size < 4:
        raise ConfigError(f"--size must be at least 4 px, got {args.size}.")
    if args.photos < 0:
        raise ConfigError(f"--photos must be 0 or more, got {args.photos}.")
    paths = args.checkpoints or [PACKAGED_PRETRAINED_DIR / f"{m}.pt" for m in _DEFAULT_CHECKPOINTS]
    models = {}
    for path in paths:
        models[path.stem if path.stem not in models else str(path)] = load_checkpoint(
            path
        ).build_model()
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    raw = load_mnist()
    images, labels = raw.test_images.numpy(), raw.test_labels.numpy()
    t0 = time.perf_counter()
    sets = {
        f"scans {args.size}x{args.size}": scans(
            args.n, args.size, seed=args.seed, images=images, labels=labels
        )
    }
    if args.photos:
        sets["photo crops"] = photo_crops(args.photos, seed=args.seed, images=images, labels=labels)
    print(f"made in {time.perf_counter() - t0:.1f} s (seed {args.seed})")

    header = f"{'set':<14} {'n':>5}" + "".join(
        f" {f'{name} {bg}':>13}" for name in models for bg in BACKGROUNDS
    )
    print(header)
    for set_name, tset in sets.items():
        right: dict[tuple[str, str], float] = {}
        for bg in BACKGROUNDS:
            x = inputs(tset, bg)
            for name, model in models.items():
                right[name, bg] = float((predict(model, x).argmax(axis=1) == tset.labels).mean())
        cells = "".join(f" {right[name, bg]:>13.1%}" for name in models for bg in BACKGROUNDS)
        print(f"{set_name:<14} {len(tset):>5}{cells}")

    print(f"\nink span (auto uses the border above {FILL_FRACTION}): min, 1%, 5%, 50%, max")
    spans = {
        name: [_span(im, c) for im, c in zip(t.images, t.crops, strict=True)]
        for name, t in sets.items()
    }
    if args.photos:
        page = make_photos(args.photos, seed=args.seed, images=images, labels=labels)
        spans["photos uncropped"] = [_span(im, None) for im in page.images]
    for name, values in spans.items():
        q = np.percentile(values, [0, 1, 5, 50, 100])
        print(f"{name:<17} " + " ".join(f"{v:.2f}" for v in q))
    return 0
