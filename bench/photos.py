"""Photo benchmark: MNIST test digits photographed as people photograph them.

    python -m bench photos [--checkpoints P1 P2 ...] [--n 700] [--seed S] [--kinds K ...]

The shipped models read drawings and clean scans, but a phone photo of a digit on paper has
uneven light: a shadow band along one edge, a gradient, vignetting, sensor noise, a slight
rotation, JPEG. `make_photos` synthesises such photos from real MNIST test digits (dark ink on
light paper, 600x800 px, RGB) and `run` scores every checkpoint on them through the Draw page's
`preprocess`, once with the old border-only paper level (`background="border"`) and once with
the default (`"auto"`: local paper estimate for photos, `mnist_core.digits.photo`), per
distortion kind.

How a photo is made (`make_photo`): the 28x28 digit is enlarged (bicubic) so the digit is
25-45% of the photo's height, placed at random and printed as reflectance paper * (1 - darkness
* ink) (paper 0.82-0.95, ink darkness 0.75-0.9). Then by kind (`KINDS`):

    clean     even light, faint noise (sigma 0.01)
    gradient  light falling linearly to 35-55% across the page in a random direction
    shadow    a band of 15-35% of the page along one edge in shadow (light 35-55%), soft edge
    hard-shadow  the same with a sharp edge (under a px)
    vignette  light falling to 40-60% in the corners (quadratic in the radius)
    noise     Gaussian noise of sigma 0.03-0.06
    rotation  the page rotated 5-15 degrees either way (paper fills the corners)
    jpeg      JPEG at quality 25-60
    all       rotation, one of gradient / shadow / vignette, noise 0.03 and JPEG 50

Seeds: photo i of seed s uses `numpy.random.default_rng([s, i])`; kinds cycle through the
requested kinds, so any n gives (nearly) the same count per kind.
"""

from __future__ import annotations

import argparse
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mnist_core.data.mnist import load_mnist
from mnist_core.digits.preprocess import preprocess
from mnist_core.errors import ConfigError
from mnist_core.models.common import IMAGE_SIZE
from mnist_core.models.inference import predict
from mnist_core.settings import PACKAGED_PRETRAINED_DIR
from mnist_core.storage.checkpoints import load_checkpoint

__all__ = [
    "BENCH_SEED",
    "DESCRIPTION",
    "KINDS",
    "PHOTO_SIZE",
    "PhotoSet",
    "make_photo",
    "make_photo_with_box",
    "make_photos",
    "preprocessed",
    "run",
]

DESCRIPTION = "Accuracy of checkpoints on synthetic phone photos (shadows, gradients, JPEG)."

KINDS = (
    "clean",
    "gradient",
    "shadow",
    "hard-shadow",
    "vignette",
    "noise",
    "rotation",
    "jpeg",
    "all",
)
PHOTO_SIZE = (600, 800)  # PIL (width, height): a portrait phone photo
BENCH_SEED = 30_000
_DEFAULT_CHECKPOINTS = ("mlp", "lenet5", "resnet")
_TINT = np.array([1.0, 0.97, 0.92], dtype=np.float32)  # warm paper under indoor light


@dataclass(frozen=True)
class PhotoSet:
    """Synthetic photos: `images` (RGB PIL, 600x800), `labels` (N,) int64, `kinds` per photo."""

    images: tuple[Image.Image, ...]
    labels: np.ndarray
    kinds: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


# --------------------------------------------------------------------------------------------
# Making photos
# --------------------------------------------------------------------------------------------


def _illumination(kind: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Light falling on the page, (h, w) float32 in (0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = np.full((h, w), rng.uniform(0.85, 1.0), np.float32)
    if kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        t = (xx / w - 0.5) * np.cos(angle) + (yy / h - 0.5) * np.sin(angle)  # ~-0.7..0.7
        t = (t - t.min()) / (t.max() - t.min())  # 0..1 across the page
        light *= 1.0 - (1.0 - rng.uniform(0.35, 0.55)) * t
    elif kind in ("shadow", "hard-shadow"):
        edge = int(rng.integers(4))  # 0 top, 1 bottom, 2 left, 3 right
        pos, side = (yy, h) if edge < 2 else (xx, w)
        dist = pos if edge in (0, 2) else side - 1 - pos  # px from that edge
        width = rng.uniform(0.15, 0.35) * side
        soft = rng.uniform(0.01, 0.03) * side if kind == "shadow" else 0.5  # px
        inside = 1.0 / (
            1.0 + np.exp(np.clip((dist - width) / soft, -50, 50))
        )  # 1 in the shadow, 0 outside
        light *= 1.0 - (1.0 - rng.uniform(0.35, 0.55)) * inside
    elif kind == "vignette":
        r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2  # 2 in the corners
        light *= 1.0 - (1.0 - rng.uniform(0.4, 0.6)) * r2 / 2.0
    return light.astype(np.float32)


def make_photo(digit: np.ndarray, kind: str, rng: np.random.Generator) -> Image.Image:
    """A 600x800 RGB photo of MNIST `digit` ((28, 28) uint8, ink bright) with distortion `kind`.

    Raises:
        ConfigError: `kind` is not one of KINDS.
    """
    return make_photo_with_box(digit, kind, rng)[0]


def make_photo_with_box(
    digit: np.ndarray, kind: str, rng: np.random.Generator
) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """`make_photo`'s photo (the same for the same `rng`) and the box of the digit's ink in it,
    as a `preprocess` crop: (left, top, right, bottom) fractions of the photo. The box is the
    one printed on the page; "rotation" and "all" turn the page about its centre after that.

    Raises:
        ConfigError: `kind` is not one of KINDS.
    """
    if kind not in KINDS:
        raise ConfigError(f"Unknown photo kind {kind!r}; choose from {', '.join(KINDS)}.")
    w, h = PHOTO_SIZE
    side = int(h * rng.uniform(0.35, 0.63))  # the 28 px field; the digit is ~70% of it
    big = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    ink = np.clip(np.asarray(big, np.float32) / 255.0, 0.0, 1.0)  # (side, side)
    paper = rng.uniform(0.82, 0.95)
    refl = np.full((h, w), paper, np.float32)
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    refl[top : top + side, left : left + side] *= 1.0 - rng.uniform(0.75, 0.9) * ink
    rows, cols = np.flatnonzero(digit.max(axis=1)), np.flatnonzero(digit.max(axis=0))
    if rows.size == 0:  # a blank digit: its box is the whole field
        rows = cols = np.array([0, IMAGE_SIZE - 1])
    k = side / IMAGE_SIZE  # photo px per digit px
    box = (
        (left + cols[0] * k) / w,
        (top + rows[0] * k) / h,
        (left + (cols[-1] + 1) * k) / w,
        (top + (rows[-1] + 1) * k) / h,
    )
    illum_kind = kind
    if kind in ("rotation", "all"):
        angle = rng.uniform(5, 15) * rng.choice([-1, 1])
        page = Image.fromarray(refl).rotate(
            angle, resample=Image.Resampling.BICUBIC, fillcolor=float(paper)
        )
        refl = np.asarray(page, np.float32)
    if kind == "all":
        illum_kind = str(rng.choice(["gradient", "shadow", "vignette"]))
    value = refl * _illumination(illum_kind, h, w, rng)  # (h, w)
    sigma = {"noise": rng.uniform(0.03, 0.06), "all": 0.03}.get(kind, 0.01)
    rgb = value[:, :, None] * _TINT + rng.normal(0.0, sigma, (h, w, 1)).astype(np.float32)
    photo = Image.fromarray((np.clip(rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8), "RGB")
    if kind in ("jpeg", "all"):
        buf = io.BytesIO()
        photo.save(buf, format="JPEG", quality=int(rng.integers(25, 61)) if kind == "jpeg" else 50)
        photo = Image.open(io.BytesIO(buf.getvalue()))
        photo.load()
    return photo, box


def make_photos(
    n: int,
    *,
    seed: int = BENCH_SEED,
    kinds: tuple[str, ...] = KINDS,
    images: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> PhotoSet:
    """`n` photos of MNIST test digits, kinds cycling through `kinds`.

    Args:
        images, labels: (M, 28, 28) uint8 digits and (M,) labels to draw from; default the
            MNIST test set (`load_mnist()`).
    """
    if images is None or labels is None:
        raw = load_mnist()
        images, labels = raw.test_images.numpy(), raw.test_labels.numpy()
    photos, ys, ks = [], [], []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        j = int(rng.integers(len(labels)))
        kind = kinds[i % len(kinds)]
        photos.append(make_photo(images[j], kind, rng))
        ys.append(int(labels[j]))
        ks.append(kind)
    return PhotoSet(tuple(photos), np.asarray(ys, np.int64), tuple(ks))


def preprocessed(photos: PhotoSet, *, background: str = "auto") -> np.ndarray:
    """(N, 28, 28) float32 model inputs of `photos` via `preprocess` (zeros where empty)."""
    out = np.zeros((len(photos), IMAGE_SIZE, IMAGE_SIZE), np.float32)
    for i, photo in enumerate(photos.images):
        result = preprocess(photo, background=background)
        if result.image is not None:
            out[i] = result.image
    return out


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench photos`."""
    p.add_argument(
        "--checkpoints",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="checkpoint files (default: the shipped mlp, lenet5 and resnet)",
    )
    p.add_argument("--n", type=int, default=700, help="photos (default 700)")
    p.add_argument("--seed", type=int, default=BENCH_SEED, help=f"seed (default {BENCH_SEED})")
    p.add_argument("--kinds", nargs="+", metavar="K", help=f"kinds (default all: {KINDS})")


def run(args: argparse.Namespace) -> int:
    """Make the photos, preprocess them the old and the new way, print accuracy per kind."""
    if args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}.")
    kinds = tuple(args.kinds or KINDS)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ConfigError(f"Unknown kind(s) {', '.join(bad)}; choose from {', '.join(KINDS)}.")
    paths = args.checkpoints or [PACKAGED_PRETRAINED_DIR / f"{m}.pt" for m in _DEFAULT_CHECKPOINTS]
    models = {}
    for path in paths:
        models[path.stem if path.stem not in models else str(path)] = load_checkpoint(
            path
        ).build_model()
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    t0 = time.perf_counter()
    photos = make_photos(args.n, seed=args.seed, kinds=kinds)
    print(f"{len(photos)} photos, seed {args.seed}: made in {time.perf_counter() - t0:.1f} s")
    methods = {"old": "border", "new": "auto"}
    correct: dict[tuple[str, str], np.ndarray] = {}
    for label, background in methods.items():
        t0 = time.perf_counter()
        x = preprocessed(photos, background=background)
        ms = 1e3 * (time.perf_counter() - t0) / len(photos)
        print(f"preprocess {label} (background={background!r}): {ms:.0f} ms per photo")
        for name, model in models.items():
            probs = predict(model, x)
            correct[name, label] = probs.argmax(axis=1) == photos.labels
    kind_arr = np.asarray(photos.kinds)
    header = f"{'kind':<12} {'n':>4}" + "".join(
        f" {f'{name} {label}':>13}" for name in models for label in methods
    )
    print(header)
    for kind in (*kinds, "overall"):
        mask = np.ones(len(photos), bool) if kind == "overall" else kind_arr == kind
        cells = "".join(
            f" {correct[name, label][mask].mean():>13.1%}" for name in models for label in methods
        )
        print(f"{kind:<12} {int(mask.sum()):>4}{cells}")
    return 0
