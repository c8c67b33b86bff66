"""A person's own labelled digits ("My handwriting"): the set, its zip format and its checks.

A digit is kept as the 28x28 MNIST-style image the models saw (uint8, ink bright on black), so
the set measures and fine-tunes exactly what was predicted. The zip format, written by
`to_zip` and read by `read_zip` / `read_folder`:

    digit_0001.png, digit_0002.png, ...   8-bit grayscale PNGs
    labels.csv                            header `file,label`, one row per PNG, label 0-9

PNGs of other sizes or polarities (scans, photos, drawings of one's own) are read through the
Draw page's `preprocess`, so any folder of digit images with a `labels.csv` works.
"""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from mnist_core.digits.preprocess import preprocess
from mnist_core.errors import MnistError
from mnist_core.models.common import IMAGE_SIZE

MAX_DIGITS = 2000  # per set: a few hours of drawing; bounds memory and a zip's size
MIN_PER_CLASS = 3  # for fine-tuning: one held back to measure, two or more to learn from
MIN_TOTAL = 30
MAX_ZIP_BYTES = 50 * 1024 * 1024
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # one PNG inside a zip, uncompressed
LABELS_FILE = "labels.csv"
HELD_OUT_NOTE = (
    "A quarter of each digit you labelled is held back from training: accuracy on those "
    "measures how well it reads your handwriting, not how well it remembers it."
)


class HandwritingError(MnistError):
    """A personal set that cannot be read or used; the message says what to do."""


@dataclass(frozen=True)
class LabelledDigit:
    """One digit: `image` (28, 28) uint8 MNIST-style, `label` 0-9, `id` unique in its set."""

    id: str
    image: np.ndarray
    label: int


@dataclass(frozen=True)
class HandwritingSet:
    """An immutable labelled set; `add` and `remove` return new sets."""

    digits: tuple[LabelledDigit, ...] = ()

    def __len__(self) -> int:
        return len(self.digits)

    @property
    def images(self) -> np.ndarray:
        """(N, 28, 28) uint8."""
        if not self.digits:
            return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
        return np.stack([d.image for d in self.digits])

    @property
    def labels(self) -> np.ndarray:
        """(N,) int64."""
        return np.array([d.label for d in self.digits], dtype=np.int64)

    def counts(self) -> np.ndarray:
        """(10,) int64: digits per class."""
        return np.bincount(self.labels, minlength=10).astype(np.int64)

    def add(self, image: np.ndarray, label: int) -> HandwritingSet:
        """A new set with `image` ((28, 28) float in [0, 1] or uint8) labelled `label`."""
        if len(self.digits) >= MAX_DIGITS:
            raise HandwritingError(
                f"Your set already holds {MAX_DIGITS:,} digits, the most it can: delete some "
                "or download it and start a new one."
            )
        digit = LabelledDigit(uuid.uuid4().hex[:10], as_uint8(image), check_label(label))
        return HandwritingSet((*self.digits, digit))

    def remove(self, digit_id: str) -> HandwritingSet:
        """A new set without the digit `digit_id` (unchanged when it is not there)."""
        return HandwritingSet(tuple(d for d in self.digits if d.id != digit_id))

    def extend(self, other: HandwritingSet) -> HandwritingSet:
        """This set followed by `other`'s digits; refused beyond MAX_DIGITS."""
        if len(self) + len(other) > MAX_DIGITS:
            raise HandwritingError(
                f"Together that is {len(self) + len(other):,} digits; a set holds at most "
                f"{MAX_DIGITS:,}. Delete some first, or upload it instead of adding it."
            )
        return HandwritingSet((*self.digits, *other.digits))

    @classmethod
    def from_arrays(cls, images: Iterable[np.ndarray], labels: Iterable[int]) -> HandwritingSet:
        digits = tuple(
            LabelledDigit(uuid.uuid4().hex[:10], as_uint8(im), check_label(lb))
            for im, lb in zip(images, labels, strict=True)
        )
        if len(digits) > MAX_DIGITS:
            raise HandwritingError(_too_many(len(digits)))
        return cls(digits)


def check_label(label: object) -> int:
    """`label` as an int 0-9; HandwritingError otherwise."""
    if isinstance(label, bool) or not isinstance(label, int | np.integer) or not 0 <= label <= 9:
        raise HandwritingError(f"A label must be a whole number from 0 to 9, not {label!r}.")
    return int(label)


def as_uint8(image: np.ndarray) -> np.ndarray:
    """A (28, 28) MNIST-style image as uint8: floats are taken as [0, 1]."""
    arr = np.asarray(image)
    if arr.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise HandwritingError(f"A digit must be a 28x28 image, not {arr.shape}.")
    if arr.dtype == np.uint8:
        return arr.copy()
    return (np.clip(arr.astype(np.float32), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def trainable_problem(s: HandwritingSet) -> str | None:
    """Why `s` cannot be fine-tuned on (a sentence), or None when it can: at least MIN_TOTAL
    digits, and at least MIN_PER_CLASS of every digit it holds (one is held back to measure)."""
    counts = s.counts()
    few = [str(d) for d in range(10) if 0 < counts[d] < MIN_PER_CLASS]
    if len(s) < MIN_TOTAL:
        return (
            f"Fine-tuning needs at least {MIN_TOTAL} labelled digits; your set has {len(s)}. "
            "Draw and label some more."
        )
    if few:
        return (
            f"Fine-tuning needs at least {MIN_PER_CLASS} of each digit you label (one is held "
            f"back to measure the result); you have fewer of: {', '.join(few)}."
        )
    return None


def split_held_out(
    s: HandwritingSet, fraction: float = 0.25, seed: int = 0
) -> tuple[HandwritingSet, HandwritingSet]:
    """(train, held_out): per digit, `fraction` of its examples (at least one) held back, chosen
    with `seed`. Every digit present is in both parts when it has 2 or more examples."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    labels = s.labels
    held: set[int] = set()
    for d in range(10):
        idx = np.flatnonzero(labels == d)
        if len(idx) == 0:
            continue
        k = min(len(idx) - 1, max(1, round(fraction * len(idx)))) if len(idx) > 1 else 0
        held.update(int(i) for i in rng.choice(idx, size=k, replace=False))
    train = tuple(dg for i, dg in enumerate(s.digits) if i not in held)
    test = tuple(dg for i, dg in enumerate(s.digits) if i in held)
    return HandwritingSet(train), HandwritingSet(test)


# --------------------------------------------------------------------------------------------
# The zip format
# --------------------------------------------------------------------------------------------


def png_bytes(image: np.ndarray) -> bytes:
    """(28, 28) uint8 as an 8-bit grayscale PNG."""
    buf = io.BytesIO()
    Image.fromarray(as_uint8(image), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def to_zip(s: HandwritingSet) -> bytes:
    """The set as a zip of PNGs plus labels.csv (`file,label`)."""
    buf = io.BytesIO()
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(["file", "label"])
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i, d in enumerate(s.digits, start=1):
            name = f"digit_{i:04d}.png"
            zf.writestr(name, png_bytes(d.image))
            writer.writerow([name, d.label])
        zf.writestr(LABELS_FILE, rows.getvalue())
    return buf.getvalue()


def read_zip(data: bytes, name: str = "the zip") -> HandwritingSet:
    """Read a set written by `to_zip` (or any zip of digit images with a labels.csv).

    Raises HandwritingError naming the problem (not a zip, no labels.csv, a missing or
    unreadable image, a bad label, more than MAX_DIGITS digits); nothing is half-read."""
    if len(data) > MAX_ZIP_BYTES:
        raise HandwritingError(f"{name} is over {MAX_ZIP_BYTES // 2**20} MB: it is not a set.")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = {
            info.filename: info
            for info in zf.infolist()
            if not info.is_dir()
            and not Path(info.filename).name.startswith(".")
            and not info.filename.startswith("__MACOSX/")
        }
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise HandwritingError(f"{name} is not a readable zip file ({e}).") from None
    # labels.csv at the top or in one folder (a zipped folder); file names are relative to it.
    csvs = sorted((m for m in members if Path(m).name == LABELS_FILE), key=len)
    if not csvs:
        raise HandwritingError(
            f"{name} has no {LABELS_FILE}: it needs one with the columns file,label "
            "(download your set once to see the format)."
        )
    prefix = csvs[0][: -len(LABELS_FILE)]

    def read(file: str) -> bytes:
        info = members.get(prefix + file)
        if info is None:
            raise HandwritingError(f"{LABELS_FILE} in {name} lists {file!r}, which is not in it.")
        if info.file_size > MAX_IMAGE_BYTES:
            raise HandwritingError(f"{file!r} in {name} is too large for a digit image.")
        try:
            return zf.read(info)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise HandwritingError(f"{file!r} in {name} cannot be read ({e}).") from None

    if members[csvs[0]].file_size > MAX_IMAGE_BYTES:
        raise HandwritingError(f"{LABELS_FILE} in {name} is too large.")
    try:
        table = zf.read(members[csvs[0]]).decode("utf-8-sig")
    except (UnicodeDecodeError, zipfile.BadZipFile, OSError, EOFError) as e:
        raise HandwritingError(f"{LABELS_FILE} in {name} cannot be read ({e}).") from None
    return _read_table(table, read, name)


def read_folder(folder: str | Path) -> HandwritingSet:
    """Read a folder holding digit PNGs and a labels.csv, or a zip file of one."""
    path = Path(folder)
    if path.is_file():
        return read_zip(path.read_bytes(), name=str(path))
    if not path.exists():
        raise HandwritingError(f"{path} does not exist: give a folder or a zip of digits.")
    if not path.is_dir():
        raise HandwritingError(f"{path} is neither a folder nor a zip file.")
    table_path = path / LABELS_FILE
    if not table_path.is_file():
        raise HandwritingError(f"{path} has no {LABELS_FILE} (columns file,label).")

    def read(file: str) -> bytes:
        p = (path / file).resolve()
        if path.resolve() not in p.parents or not p.is_file():
            raise HandwritingError(f"{LABELS_FILE} in {path} lists {file!r}, which is not there.")
        return p.read_bytes()

    try:
        table = table_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise HandwritingError(f"{table_path} cannot be read ({e}).") from None
    return _read_table(table, read, str(path))


def _read_table(table: str, read: Callable[[str], bytes], name: str) -> HandwritingSet:
    """The digits `table` (labels.csv's text) lists, each file's bytes from `read`."""
    rows = [r for r in csv.reader(io.StringIO(table)) if any(c.strip() for c in r)]
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if "file" not in header or "label" not in header:
        raise HandwritingError(f"{LABELS_FILE} in {name} must start with the header file,label.")
    fi, li = header.index("file"), header.index("label")
    body = rows[1:]
    if not body:
        raise HandwritingError(f"{LABELS_FILE} in {name} lists no digits.")
    if len(body) > MAX_DIGITS:
        raise HandwritingError(_too_many(len(body)))
    images, labels = [], []
    for n, row in enumerate(body, start=2):
        file = row[fi].strip() if fi < len(row) else ""
        text = row[li].strip() if li < len(row) else ""
        if not file:
            raise HandwritingError(f"Line {n} of {LABELS_FILE} in {name} names no file.")
        if len(text) != 1 or text not in "0123456789":
            raise HandwritingError(
                f"Line {n} of {LABELS_FILE} in {name}: the label of {file!r} must be a digit "
                f"0-9, not {text!r}."
            )
        images.append(_digit_image(read(file), file, name))
        labels.append(int(text))
    return HandwritingSet.from_arrays(images, labels)


def _digit_image(data: bytes, file: str, name: str) -> np.ndarray:
    """A file's bytes as a (28, 28) uint8 MNIST-style digit."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise HandwritingError(f"{file!r} in {name} is not a readable image ({e}).") from None
    gray = img.convert("L") if img.size == (IMAGE_SIZE, IMAGE_SIZE) else None
    if gray is not None:
        arr = np.asarray(gray)
        border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
        if float(np.median(border)) < 64:  # already MNIST-style: keep it exactly
            return arr.copy()
    result = preprocess(img)
    if result.empty or result.image is None:
        raise HandwritingError(f"{file!r} in {name} holds no digit ({result.message})")
    return as_uint8(result.image)


def _too_many(n: int) -> str:
    return f"That set has {n:,} digits; a set holds at most {MAX_DIGITS:,}. Split it first."


def per_digit_accuracy(labels: np.ndarray, predicted: np.ndarray) -> Mapping[int, float]:
    """{digit: accuracy} for the digits present in `labels`."""
    out: dict[int, float] = {}
    for d in range(10):
        mask = labels == d
        if mask.any():
            out[d] = float((predicted[mask] == d).mean())
    return out
