"""Digits drawn from strokes with the Draw page's pen, for training and for the benchmark.

Hand-made stroke templates (`HAND_STYLES`, in stroke_templates.py: three families, every
digit 0-9 in several styles, American and European forms and the shapes MNIST rarely holds: a 1
with a flag and a foot, a crossed 7, an open 4, a 9 with a straight stem, a looped 2, one-stroke
digits) and `draw`, which draws one digit as a person does on the 280x280 canvas: a random
affine, a smooth warp, pen-lift effects, jitter, a round pen 6-40 px wide, white on black RGBA
as the canvas returns it. `synthetic_digits` runs them through the Draw page's `preprocess` for
training (`TrainConfig.synthetic`).

Seeds: the drawn-digit benchmark (bench/drawn.py) uses the integer seeds 20_000 .. 20_999
(`BENCH_SEEDS`); training draws from a separate stream (`synthetic_digits`), so no benchmark
digit is ever trained on. The benchmark also draws four Hershey stroke-font families that
training never sees: their scores measure styles from a source training never had.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.digits.stroke_templates import HAND_STYLES

CANVAS_PX = 280
BENCH_SEEDS = range(20_000, 21_000)  # reserved for the benchmark: never trained on
TRAINING_STREAM = 0x7EA1  # training draws from default_rng([seed, TRAINING_STREAM])
HAND_FAMILIES = ("hand-american", "hand-european", "hand-onestroke")
_STEP = 0.012  # resampling step along strokes, in glyph heights


def _resample(p: np.ndarray, step: float) -> np.ndarray:
    """Points along polyline `p` every `step` (end points kept)."""
    seg = np.hypot(*np.diff(p, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return p[:1].copy()
    t = np.linspace(0, s[-1], max(2, math.ceil(s[-1] / step) + 1))
    return np.column_stack([np.interp(t, s, p[:, 0]), np.interp(t, s, p[:, 1])])


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, amp: float) -> np.ndarray:
    """(len(t), 2) smooth noise along arclength t (px): a few random low-frequency sines."""
    out = np.zeros((len(t), 2))
    for _ in range(3):
        wavelength = rng.uniform(40, 160)
        phase = rng.uniform(0, 2 * np.pi, 2)
        out += np.sin(2 * np.pi * t[:, None] / wavelength + phase) * rng.normal(0, amp, 2)
    return out


def _pen_lifts(rng: np.random.Generator, strokes: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Pen-lift effects (in glyph heights): separate pen-downs land a little off where they
    should (shift N(0, 0.025) per stroke) and every stroke starts and ends a little early or
    late (each end trimmed or extended by up to 0.05), so joins gap or overshoot."""
    out = []
    for s in strokes:
        p = s + (rng.normal(0, 0.025, 2) if len(strokes) > 1 else 0.0)
        for end in (0, 1):
            e = rng.uniform(-0.05, 0.05)
            if len(p) < 4:
                break
            if e < 0:  # trim, keeping at least 3 points
                k = min(int(-e / _STEP), len(p) - 3)
                p = p[k:] if end == 0 else p[: len(p) - k]
            else:  # extend straight on
                a, b = (p[1], p[0]) if end == 0 else (p[-2], p[-1])
                d = b - a
                n = float(np.hypot(*d))
                if n > 0:
                    k = int(e / _STEP)
                    ext = b + np.outer(np.arange(1, k + 1) * _STEP / n, d)
                    p = np.vstack([ext[::-1], p]) if end == 0 else np.vstack([p, ext])
        out.append(p)
    return out


def normalise(raw: dict[str, list]) -> dict[str, tuple[np.ndarray, ...]]:
    """Style name -> strokes ((K, 2) float arrays, y down, centred, height 1, resampled)."""
    out = {}
    for name, strokes in raw.items():
        arrs = [np.asarray(s, dtype=np.float64) for s in strokes]
        allp = np.vstack(arrs)
        lo, hi = allp.min(0), allp.max(0)
        h = max(hi[1] - lo[1], 1e-6)
        centre = (lo + hi) / 2
        out[name] = tuple(_resample((a - centre) / h, _STEP) for a in arrs)
    return out


@functools.cache
def hand_styles(family: str, digit: int) -> dict[str, tuple[np.ndarray, ...]]:
    """The normalised strokes of one hand-made family's styles of `digit`."""
    return normalise(HAND_STYLES[family][digit])


def draw(
    rng: np.random.Generator,
    styles: dict[str, tuple[np.ndarray, ...]],
    width_range: tuple[int, int],
    units_high: float | None = None,
) -> tuple[np.ndarray, str]:
    """One digit in one of `styles` (name -> normalised strokes, see `normalise`), drawn with a
    pen width from `width_range` (inclusive): ((280, 280, 4) uint8 RGBA, the style's name).
    `units_high`: for multi-line fonts, the glyph's height in font units, which caps its size
    so that the pen covers the one-unit gap between its parallel lines."""
    names = sorted(styles)
    name = names[int(rng.integers(len(names)))]
    strokes = styles[name]
    w = int(rng.integers(width_range[0], width_range[1] + 1))

    # Smooth warp of the glyph (in glyph heights): style variation within a template.
    k = rng.normal(0, 1.0, (2, 2, 2))
    ph = rng.uniform(0, 2 * np.pi, (2, 2))
    wamp = rng.uniform(0.0, 0.06)
    # Proportions as people vary them: the middle higher or lower (a 9's loop, an 8's halves,
    # a 4's crossbar) and the top wider or narrower than the bottom.
    mid = rng.uniform(-0.3, 0.3)
    taper = rng.uniform(-0.35, 0.35)

    def warp(p: np.ndarray) -> np.ndarray:
        d = np.zeros_like(p)
        for j in range(2):
            for c in range(2):
                d[:, c] += wamp / 2 * np.sin(p @ k[j, c] * 3 + ph[j, c])
        q = p + d
        x, y = q[:, 0], q[:, 1]  # y in about -0.5..0.5
        return np.column_stack([x * (1 - taper * y), y + mid * (0.25 - np.minimum(y * y, 0.25))])

    pts = [warp(s) for s in _pen_lifts(rng, strokes)]

    # Affine: size (glyph height as fraction of the canvas), aspect, shear, rotation.
    lo_size, hi_size = 0.4, 0.9
    if units_high is not None:  # keep font units <= pen width so the lines merge
        hi_size = min(hi_size, max(lo_size, units_high * w / CANVAS_PX))
    size = rng.uniform(lo_size, hi_size) * CANVAS_PX
    aspect = rng.uniform(0.7, 1.2)
    shear = rng.uniform(-0.3, 0.3)
    rot = math.radians(rng.uniform(-10, 10))
    cr, sr = math.cos(rot), math.sin(rot)
    m = np.array([[cr, -sr], [sr, cr]]) @ np.array([[1.0, -shear], [0.0, 1.0]])
    m = m @ np.diag([aspect * size, size])
    px = [p @ m.T for p in pts]

    # Per-point jitter: smooth along each stroke, a few px.
    jamp = rng.uniform(0.3, 1.5)
    for i, p in enumerate(px):
        t = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
        px[i] = p + _smooth_noise(rng, t, jamp)

    # Placement: the whole ink, pen radius included, inside the canvas (shrink if needed).
    allp = np.vstack(px)
    lo, hi = allp.min(0), allp.max(0)
    room = CANVAS_PX - w - 3
    extent = float((hi - lo).max())
    if extent > room:
        f = room / extent
        px = [p * f for p in px]
        lo, hi = lo * f, hi * f
    low, high = w / 2 + 1 - lo, CANVAS_PX - w / 2 - 1 - hi
    offset = low + rng.uniform(0, 1, 2) * np.maximum(high - low, 0)
    img = Image.new("L", (CANVAS_PX, CANVAS_PX), 0)
    pen = ImageDraw.Draw(img)
    r = w / 2
    for p in px:
        q = p + offset
        flat = [tuple(v) for v in q.tolist()]
        if len(flat) >= 2:
            # Segments of width w plus a disk at every point is a round-capped, round-joined
            # pen exactly (the union of capsules); PIL's joint="curve" would add nothing but
            # time.
            pen.line(flat, fill=255, width=w)
        for x, y in flat:
            pen.ellipse((x - r, y - r, x + r, y + r), fill=255)
    g = np.asarray(img)
    rgba = np.empty((CANVAS_PX, CANVAS_PX, 4), dtype=np.uint8)
    rgba[..., :3] = g[..., None]
    rgba[..., 3] = 255
    return rgba, name


def render_hand(
    n: int, rng: np.random.Generator, widths: tuple[int, int] = (6, 40)
) -> tuple[np.ndarray, np.ndarray]:
    """`n` digits of the hand-made families, balanced over 0-9, shuffled: ((n, 280, 280, 4)
    uint8 RGBA, (n,) int64 labels)."""
    labels = np.resize(np.arange(10, dtype=np.int64), n)[rng.permutation(n)]
    rgba = np.empty((n, CANVAS_PX, CANVAS_PX, 4), dtype=np.uint8)
    for i, d in enumerate(labels.tolist()):
        fam = HAND_FAMILIES[int(rng.integers(len(HAND_FAMILIES)))]
        rgba[i], _ = draw(rng, hand_styles(fam, d), widths)
    return rgba, labels


@functools.lru_cache(maxsize=2)
def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` hand-template digits drawn with the canvas's pen and preprocessed as the Draw page
    does: ((n, 28, 28) uint8 MNIST-style, (n,) int64). About 10 ms each on a CPU core; cached
    for the last two (n, seed).

    The generator is seeded with the sequence (seed, TRAINING_STREAM): a stream of its own,
    which no integer seed (the benchmark's are 20_000 .. 20_999) can reproduce."""
    from mnist_core.digits.preprocess import preprocess

    rng = np.random.default_rng([seed, TRAINING_STREAM])
    rgba, labels = render_hand(n, rng)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for j in range(n):
        r = preprocess(rgba[j])
        if r.image is not None:
            images[j] = np.round(r.image * 255).astype(np.uint8)
    return images, labels
