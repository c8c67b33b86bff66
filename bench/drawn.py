"""Drawn-digit benchmark: digits drawn from strokes as a person draws them on the Draw page.

    python -m bench drawn [--checkpoints P1 P2 ...] [--n 2000] [--seed S] [--json PATH]
                          [--save-png DIR]

The shipped models read clean drawings well but fail on styles MNIST rarely holds (a 1 with a
flag and a foot, a European 7 with a crossbar, a 4 with an open top, a 9 with a straight stem,
a 2 with a loop, ...). This module draws such digits from strokes with the canvas's pen model
and runs exactly the Draw page's preprocessing on them, so the scores say how the models read
drawings, not MNIST.

Stroke sources, one *family* per source (`FAMILIES`; each family has every digit 0-9):

    hershey-futural   Hershey "futural" (single-line sans; identical digits in rowmans,
                      cursive, greek, greeks, mathlow, which are therefore not listed)
    hershey-futuram   Hershey "futuram" (double-line sans; = rowmand)
    hershey-timesr    Hershey "timesr" (triple-line serif: 1 with flag and foot, curled 2/3/5)
    hershey-timesi    Hershey "timesi" (italic serif, flagged 1; = scripts, scriptc)
    hand-american     templates: oval 0, bar 1, closed 4, plain 7, 9 with a straight stem, ...
    hand-european     templates: flagged 1 with and without foot, 2 with a loop, flat-top 3,
                      open 4, crossed 7, hooked 9, ...
    hand-onestroke    templates: every digit in one pen-down (zig-zag 7, one-stroke open 4,
                      one-stroke 5, 8 and 9, ...)

The Hershey fonts come from the PyPI package Hershey-Fonts (requirements-dev.txt); the gothic,
symbol and other fonts were left out because nobody draws digits like them. The multi-line
fonts (futuram, timesr, timesi) draw thick parts as parallel lines one font unit apart; for
them the digit is kept small enough that the pen covers that gap (at least one font unit per
pen width), so the lines merge into one stroke as a thick pen would draw it.

Rendering (`render`): per sample a random affine (height 40-90% of the canvas, aspect
0.7-1.2, shear -0.3..0.3, rotation +-10 degrees, random placement keeping the ink inside), a
smooth random warp of the glyph (with the middle moved up or down and the top wider or
narrower), pen-lift effects (separate pen-downs land a little off, strokes end a little early
or late), smooth per-point jitter of a few px, a pen width drawn uniformly from `widths`
(inclusive), and round caps and joins (PIL line segments plus a disk of the pen's diameter at
every point), white on opaque black: (280, 280, 4) uint8 RGBA with alpha 255 as the canvas
returns it (without the browser's anti-aliasing, which the 10x downscaling makes irrelevant).
`preprocessed` then runs `mnist_core.digits.preprocess.preprocess`, the Draw page's preprocessing.

Seeds: the benchmark is `render(BENCH_SIZE, seed=BENCH_SEED)`. Seeds BENCH_SEED ..
BENCH_SEED + 999 are reserved for benchmarks; anything used for training or fine-tuning must
use other seeds (e.g. 0..19_999), so that no benchmark digit is ever trained on.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from mnist_core.digits.preprocess import preprocess
from mnist_core.digits.stroke_templates import HAND_STYLES, Pts
from mnist_core.digits.strokes import (
    BENCH_SEEDS,
    CANVAS_PX,
    HAND_FAMILIES,
    draw,
    normalise,
)
from mnist_core.errors import ConfigError
from mnist_core.models.inference import predict
from mnist_core.settings import PACKAGED_PRETRAINED_DIR
from mnist_core.storage.checkpoints import load_checkpoint

__all__ = [
    "BENCH_SEED",
    "BENCH_SIZE",
    "CANVAS_PX",
    "DESCRIPTION",
    "FAMILIES",
    "STYLES",
    "DrawnSet",
    "preprocessed",
    "render",
    "score",
]

DESCRIPTION = "Accuracy of checkpoints on digits drawn from strokes in many styles."

BENCH_SEED = BENCH_SEEDS.start  # seeds 20_000 .. 20_999 are reserved (mnist_core.digits.strokes)
BENCH_SIZE = 2000

HERSHEY_FONTS = ("futural", "futuram", "timesr", "timesi")
_MULTILINE_FONTS = ("futuram", "timesr", "timesi")  # parallel lines one font unit apart
FAMILIES: tuple[str, ...] = (*(f"hershey-{f}" for f in HERSHEY_FONTS), *HAND_FAMILIES)

_DEFAULT_CHECKPOINTS = ("mlp", "lenet5", "resnet")


@dataclass(frozen=True)
class DrawnSet:
    """Drawn digits: `rgba` (N, 280, 280, 4) uint8 as the canvas returns them, `labels` (N,)
    int64, and per sample its family (one of FAMILIES) and style (e.g. "7-crossbar")."""

    rgba: np.ndarray
    labels: np.ndarray
    families: tuple[str, ...]
    styles: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


# --------------------------------------------------------------------------------------------
# Hershey fonts
# --------------------------------------------------------------------------------------------


@functools.cache
def _hershey(font: str) -> dict[int, list[Pts]]:
    """The digits of a Hershey font: digit -> strokes in font units (x right, y down)."""
    try:
        from HersheyFonts import HersheyFonts
    except ImportError as exc:  # a dev dependency, see requirements-dev.txt
        raise ConfigError(
            "The drawn-digit benchmark needs Hershey-Fonts (pip install -r requirements-dev.txt)."
        ) from exc
    f = HersheyFonts()
    f.load_default_font(font)
    out = {}
    for d in range(10):
        strokes = [[(float(x), float(y)) for x, y in s] for s in f.strokes_for_text(str(d))]
        out[d] = [s for s in strokes if len(s) >= 2]
    return out


@functools.cache
def styles_of(family: str, digit: int) -> dict[str, tuple[np.ndarray, ...]]:
    """Style name -> strokes ((K, 2) float arrays, y down, height normalised to 1) for one
    family and digit."""
    if family in HAND_STYLES:
        raw = HAND_STYLES[family][digit]
    elif family.startswith("hershey-") and family[8:] in HERSHEY_FONTS:
        raw = {f"{digit}-{family[8:]}": _hershey(family[8:])[digit]}
    else:
        raise ConfigError(f"Unknown drawn-digit family {family!r}; known: {', '.join(FAMILIES)}.")
    return normalise(raw)


# "family/style" of every hand-made style (each Hershey family has one style per digit)
STYLES: tuple[str, ...] = tuple(
    f"{fam}/{s}" for fam in HAND_FAMILIES for d in range(10) for s in HAND_STYLES[fam][d]
)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _draw_one(
    rng: np.random.Generator, family: str, digit: int, width_range: tuple[int, int]
) -> tuple[np.ndarray, str]:
    font = family[8:] if family.startswith("hershey-") else ""
    units = _hershey_height(font, digit) if font in _MULTILINE_FONTS else None
    return draw(rng, styles_of(family, digit), width_range, units)


@functools.cache
def _hershey_height(font: str, digit: int) -> float:
    allp = np.vstack([np.asarray(s) for s in _hershey(font)[digit]])
    return float(allp[:, 1].max() - allp[:, 1].min())


def render(
    n: int,
    *,
    seed: int,
    families: Sequence[str] | None = None,
    widths: tuple[int, int] = (6, 40),
) -> DrawnSet:
    """Draw `n` digits, balanced over 0-9 (n // 10 each, the first n % 10 digits one more), in
    shuffled order. Each sample's family is drawn uniformly from `families` (default: all of
    FAMILIES) and its style uniformly among that family's styles of the digit; the pen width
    uniformly from `widths` = (lowest, highest) px, inclusive (the canvas allows 6..40).
    Deterministic for a seed. See the module docstring for the seeds reserved for benchmarks.
    """
    fams = tuple(FAMILIES if families is None else families)
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}.")
    if not fams:
        raise ConfigError("families must not be empty.")
    for fam in fams:
        if fam not in FAMILIES:
            raise ConfigError(f"Unknown drawn-digit family {fam!r}; known: {', '.join(FAMILIES)}.")
    lo, hi = int(widths[0]), int(widths[1])
    if not 1 <= lo <= hi <= CANVAS_PX // 4:
        raise ConfigError(f"widths must be (lo, hi) with 1 <= lo <= hi <= 70, got {widths}.")
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10, dtype=np.int64), n // 10)
    labels = np.concatenate([labels, np.arange(n % 10, dtype=np.int64)])
    labels = labels[rng.permutation(n)]
    rgba = np.empty((n, CANVAS_PX, CANVAS_PX, 4), dtype=np.uint8)
    fam_of, style_of = [], []
    for i, d in enumerate(labels.tolist()):
        fam = fams[int(rng.integers(len(fams)))]
        rgba[i], style = _draw_one(rng, fam, d, (lo, hi))
        fam_of.append(fam)
        style_of.append(style)
    return DrawnSet(rgba=rgba, labels=labels, families=tuple(fam_of), styles=tuple(style_of))


def preprocessed(ds: DrawnSet) -> np.ndarray:
    """(N, 28, 28) float32 in [0, 1]: every drawing through the Draw page's `preprocess`. A
    drawing that came out empty (never expected) is left all zeros, with a warning."""
    out = np.zeros((len(ds), 28, 28), dtype=np.float32)
    empty = 0
    for i in range(len(ds)):
        r = preprocess(ds.rgba[i])
        if r.empty or r.image is None:
            empty += 1
        else:
            out[i] = r.image
    if empty:
        warnings.warn(f"{empty} drawn digits came out empty after preprocessing", stacklevel=2)
    return out


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


def _accuracy_by(keys: Sequence[str] | np.ndarray, correct: np.ndarray) -> dict:
    arr = np.asarray(keys)
    return {
        (k.item() if isinstance(k, np.generic) else k): float(correct[arr == k].mean())
        for k in sorted(set(arr.tolist()))
    }


def score(
    models: Mapping[str, torch.nn.Module],
    images: np.ndarray,
    labels: np.ndarray,
    *,
    families: Sequence[str] | None = None,
    styles: Sequence[str] | None = None,
    batch_size: int = 500,
) -> dict:
    """Accuracy of each model on (N, 28, 28) float images in [0, 1] (as from `preprocessed`)
    with (N,) labels.

    Returns {model name: {"n", "accuracy", "per_digit": {digit: acc}, and when given,
    "per_family": {family: acc}, "per_style": {"family/style" or style: acc}}}. Digits,
    families or styles absent from the set are absent from the dicts.
    """
    x = np.asarray(images, dtype=np.float32)
    y = np.asarray(labels, dtype=np.int64)
    if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y):
        raise ValueError(f"images must be (N, 28, 28) with N = len(labels); got {x.shape}")
    result = {}
    for name, model in models.items():
        preds = [
            predict(model, x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)
        ]
        pred = np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
        correct = pred == y
        row: dict = {
            "n": len(y),
            "accuracy": float(correct.mean()) if len(y) else float("nan"),
            "per_digit": _accuracy_by(y, correct),
        }
        if families is not None:
            row["per_family"] = _accuracy_by(list(families), correct)
            if styles is not None:
                keys = [f"{f}/{s}" for f, s in zip(families, styles, strict=True)]
                row["per_style"] = _accuracy_by(keys, correct)
        elif styles is not None:
            row["per_style"] = _accuracy_by(list(styles), correct)
        result[name] = row
    return result


def save_grid(
    ds: DrawnSet,
    path: str | Path,
    images: np.ndarray | None = None,
    cols: int = 10,
    count: int = 100,
) -> Path:
    """Write a PNG grid of the first `count` drawings (shrunk to 112 px), each with its
    preprocessed 28x28 (enlarged x2) below when `images` is given, and label/style text."""
    from PIL import ImageFont

    k = min(count, len(ds))
    tile, small = 112, 56
    th = tile + (small if images is not None else 0) + 12
    rows = max(1, math.ceil(k / cols))
    sheet = Image.new("L", (cols * tile, rows * th), 40)
    pen = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i in range(k):
        x0, y0 = (i % cols) * tile, (i // cols) * th
        sheet.paste(Image.fromarray(ds.rgba[i][..., 0]).resize((tile - 2, tile - 2)), (x0, y0))
        if images is not None:
            im = Image.fromarray((images[i] * 255).astype(np.uint8)).resize((small, small))
            sheet.paste(im, (x0, y0 + tile))
        fam = ds.families[i].replace("hershey-", "h-").replace("hand-", "")
        pen.text((x0 + 1, y0 + th - 12), f"{ds.styles[i]} {fam}"[:20], fill=255, font=font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


# --------------------------------------------------------------------------------------------
# Command line: python -m bench drawn
# --------------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `python -m bench drawn`."""
    p.add_argument(
        "--checkpoints",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="checkpoint files (default: the shipped mlp, lenet5 and resnet)",
    )
    p.add_argument("--n", type=int, default=BENCH_SIZE, help=f"digits (default {BENCH_SIZE})")
    p.add_argument("--seed", type=int, default=BENCH_SEED, help=f"seed (default {BENCH_SEED})")
    p.add_argument("--families", nargs="+", metavar="F", help="families (default: all)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the scores as JSON")
    p.add_argument("--save-png", type=Path, metavar="DIR", help="write a grid of 100 samples")


def _table(title: str, keys: Sequence, scores: dict, field: str) -> list[str]:
    names = list(scores)
    lines = [f"{title:<34}" + "".join(f"{n[-12:]:>13}" for n in names)]
    for key in keys:
        cells = []
        for n in names:
            v = scores[n].get(field, {}).get(key) if field else scores[n]["accuracy"]
            cells.append(f"{100 * v:12.1f}%" if v is not None else f"{'-':>13}")
        lines.append(f"{key!s:<34}" + "".join(cells))
    return lines


def run(args: argparse.Namespace) -> int:
    """Render, preprocess, score every checkpoint; print tables (and write JSON / PNG)."""
    if args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}.")
    paths = args.checkpoints or [PACKAGED_PRETRAINED_DIR / f"{m}.pt" for m in _DEFAULT_CHECKPOINTS]
    models = {}
    for path in paths:
        label = path.stem if path.stem not in models else str(path)
        models[label] = load_checkpoint(path).build_model()
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    t0 = time.perf_counter()
    ds = render(args.n, seed=args.seed, families=args.families)
    t1 = time.perf_counter()
    x = preprocessed(ds)
    t2 = time.perf_counter()
    scores = score(models, x, ds.labels, families=ds.families, styles=ds.styles)
    t3 = time.perf_counter()
    print(
        f"{len(ds)} drawn digits, seed {args.seed}: render {t1 - t0:.1f} s "
        f"({1e3 * (t1 - t0) / len(ds):.1f} ms each), preprocess {t2 - t1:.1f} s "
        f"({1e3 * (t2 - t1) / len(ds):.1f} ms each), score {t3 - t2:.1f} s"
    )
    fams = [f for f in FAMILIES if f in set(ds.families)]
    lines = _table("overall", ["all"], scores, "")
    lines += ["", *_table("digit", list(range(10)), scores, "per_digit")]
    lines += ["", *_table("family", fams, scores, "per_family")]
    first = next(iter(scores))
    worst = sorted(scores[first]["per_style"].items(), key=lambda kv: kv[1])[:15]
    hardest = _table(f"15 hardest styles (for {first})", [k for k, _ in worst], scores, "per_style")
    lines += ["", *hardest]
    print("\n".join(lines))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "n": len(ds),
            "seed": args.seed,
            "render_s": round(t1 - t0, 2),
            "preprocess_s": round(t2 - t1, 2),
            "scores": scores,
        }
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
    if args.save_png:
        out = save_grid(ds, args.save_png / "drawn_samples.png", x)
        print(f"wrote {out}")
    return 0
