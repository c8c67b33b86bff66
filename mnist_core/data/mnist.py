"""MNIST for the engine: find the files, load them as tensors (once per process), split them.

The public API of the data layer lives here; IDX parsing is in `mnist_core.data.idx` and downloading
in `mnist_core.data.download`, both re-exported. Nothing is cached at module level: a `MnistSource`
keeps the loaded tensors for whoever holds it (the job manager, the app), and the tests want
fresh loads.

Tensors stay whole: images are uint8 (N, 28, 28), labels int64 (N,). Training moves a split to
the device once (`MnistSplits.to`) and slices it with index tensors; there is no
Dataset/DataLoader or PIL round trip, which on MNIST costs more than the model.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from mnist_core.data.download import (
    DATA_DIR_ENV,
    DEFAULT_DIR,
    MIRRORS,
    DownloadProgress,
    default_dest,
    download_mnist,
)
from mnist_core.data.idx import (
    MNIST_FILES,
    SHA256,
    check_sha256,
    locate_file,
    parse_idx,
    read_idx,
    read_idx_bytes,
    verify_file,
)
from mnist_core.errors import ConfigError, DataError, DataMissingError
from mnist_core.models.common import IMAGE_SIZE, NUM_CLASSES
from mnist_core.settings import settings

__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_DIR",
    "MIRRORS",
    "MNIST_FILES",
    "SHA256",
    "DownloadProgress",
    "MnistRaw",
    "MnistSource",
    "MnistSplits",
    "default_dest",
    "download_mnist",
    "find_data_dir",
    "load_mnist",
    "make_splits",
    "read_idx",
    "search_dirs",
    "verify_file",
]

IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE)


def _labeled_dirs(data_dir: str | Path | None) -> list[tuple[Path, str]]:
    """Search folders in order, each with where it came from (for error messages)."""
    candidates: list[tuple[Path, str]] = []
    if data_dir not in (None, ""):
        candidates.append((Path(data_dir).expanduser(), "the folder asked for"))
    env = settings().data_dir
    if env is not None:
        candidates.append((env, f"from ${DATA_DIR_ENV}"))
    candidates.append((DEFAULT_DIR, "the default, relative to the current folder"))
    seen: set[Path] = set()
    unique = []
    for path, origin in candidates:
        if path.resolve() not in seen:  # the same folder named twice is searched once
            seen.add(path.resolve())
            unique.append((path, origin))
    return unique


def search_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for MNIST, in order: `data_dir`, ``$MNIST_DATA_DIR``, ``./data/MNIST/raw``.

    None or empty values are skipped, duplicates kept once. The paths need not exist.
    """
    return [path for path, _ in _labeled_dirs(data_dir)]


def find_data_dir(data_dir: str | Path | None = None) -> Path | None:
    """The first folder of `search_dirs` holding all four MNIST files (raw or .gz), else None.

    Only presence is checked here; contents are checked when loading.
    """
    for folder in search_dirs(data_dir):
        if all(locate_file(folder, name) for name in MNIST_FILES.values()):
            return folder
    return None


def _folder_status(folder: Path) -> str:
    if not folder.exists():
        return "does not exist"
    if not folder.is_dir():
        return "is not a folder"
    missing = [name for name in MNIST_FILES.values() if locate_file(folder, name) is None]
    if len(missing) == len(MNIST_FILES):
        return "holds none of the files"
    return f"lacks {', '.join(missing)}"


def _missing_message(data_dir: str | Path | None) -> str:
    searched = "\n".join(
        f"  - {path.resolve()} ({origin}): {_folder_status(path)}"
        for path, origin in _labeled_dirs(data_dir)
    )
    env_note = "" if settings().data_dir is not None else f"{DATA_DIR_ENV} is not set.\n"
    return (
        "MNIST data not found. It is four files, each either as is or gzip-compressed (.gz):\n  "
        + ", ".join(MNIST_FILES.values())
        + f"\nFolders searched, in order:\n{searched}\n{env_note}"
        f"To fix: set {DATA_DIR_ENV} to a folder holding the four files "
        f"(e.g. export {DATA_DIR_ENV}=/path/to/mnist), or download them with: "
        "python -m mnist_core download"
    )


@dataclass(frozen=True)
class MnistRaw:
    """The full MNIST train and test sets as CPU tensors, plus the folder they came from."""

    train_images: torch.Tensor  # (60000, 28, 28) uint8, 0 = background
    train_labels: torch.Tensor  # (60000,) int64 in 0..9
    test_images: torch.Tensor  # (10000, 28, 28) uint8
    test_labels: torch.Tensor  # (10000,) int64
    source: Path


def load_mnist(
    data_dir: str | Path | None = None,
    *,
    download: bool = False,
    progress: Callable[[DownloadProgress], None] | None = None,
    verify: bool = True,
) -> MnistRaw:
    """Load MNIST from the first folder of `search_dirs` that holds it.

    Args:
        data_dir: folder to look in first (then ``$MNIST_DATA_DIR``, then ./data/MNIST/raw).
        download: if no folder holds the files, download them: into `data_dir` if given,
            else the default destination (see `download_mnist`).
        progress: passed to `download_mnist`.
        verify: check each file's sha256 against real MNIST. Turn off only for synthetic
            test data; with it on, the files are known to be exactly 60000 + 10000 images.

    Raises:
        DataMissingError: no folder holds the files and `download` is False; the message
            lists every folder searched and how to fix it.
        DataError: a file is corrupt or partial, or images and labels do not match.
        DownloadError: downloading was needed and failed.
    """
    folder = find_data_dir(data_dir)
    if folder is None:
        if not download:
            raise DataMissingError(_missing_message(data_dir))
        folder = download_mnist(data_dir if data_dir not in (None, "") else None, progress=progress)

    arrays: dict[str, np.ndarray] = {}
    paths: dict[str, Path] = {}
    for key, name in MNIST_FILES.items():
        path = locate_file(folder, name)
        if path is None:  # deleted since find_data_dir looked
            raise DataMissingError(_missing_message(data_dir))
        data = read_idx_bytes(path)  # read once, used for both the checksum and parsing
        if verify:
            check_sha256(data, path, name)
        arrays[key], paths[key] = parse_idx(data, path), path

    tensors: dict[str, torch.Tensor] = {}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        ipath, lpath = paths[f"{split}_images"], paths[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
            raise DataError(
                f"{ipath} does not hold 28x28 images (its shape is {images.shape}). Replace it "
                "with the real MNIST file."
            )
        if labels.ndim != 1:
            raise DataError(f"{lpath} does not hold labels (its shape is {labels.shape}).")
        if len(images) != len(labels) or len(images) == 0:
            raise DataError(
                f"{ipath} holds {len(images):,} images but {lpath} holds {len(labels):,} labels; "
                "they must be equal and non-zero. One of them is from another data set or "
                "damaged: replace both with the real MNIST files."
            )
        if int(labels.max()) >= NUM_CLASSES:
            raise DataError(
                f"{lpath} holds label {int(labels.max())}; MNIST labels are 0..9. Replace it "
                "with the real MNIST file."
            )
        tensors[f"{split}_images"] = torch.from_numpy(images)  # (N, 28, 28) uint8
        tensors[f"{split}_labels"] = torch.from_numpy(labels.astype(np.int64))  # (N,) int64
    return MnistRaw(**tensors, source=folder)


class MnistSource:
    """Loads MNIST on first use and keeps it; thread-safe; callable (the job manager's `data`).

    The folder is looked up on every call, so data downloaded while the process runs (or a
    changed $MNIST_DATA_DIR) is picked up; only the most recent folder's arrays are kept in
    memory. A failed load is not remembered, so the next call tries again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folder: Path | None = None
        self._raw: MnistRaw | None = None

    def available(self) -> bool:
        """Whether some searched folder holds the four MNIST files (presence only)."""
        return find_data_dir() is not None

    def preload(self) -> None:
        """Start loading the data in a daemon thread unless it is loaded or loading, so that
        a run started soon finds it in memory. A failure is left for that run to report."""
        if self._raw is not None or self._lock.locked():
            return

        def load() -> None:
            # A failure is not remembered: the job's own call tries again and reports it.
            with contextlib.suppress(Exception):
                self()

        threading.Thread(target=load, name="mnist-preload", daemon=True).start()

    def __call__(self) -> MnistRaw:
        """The loaded data. Raises DataMissingError / DataError with a message for people."""
        folder = find_data_dir()
        if folder is None:
            return load_mnist()  # raises DataMissingError listing the folders searched
        folder = folder.resolve()
        with self._lock:  # concurrent first calls load once; the others wait for it
            if self._raw is None or self._folder != folder:
                self._raw = None  # free the old arrays before loading new ones
                self._raw = load_mnist(folder)
                self._folder = folder
            return self._raw


@dataclass(frozen=True)
class MnistSplits:
    """Train/validation/test tensors ready for training; index them with int64 index tensors."""

    train_x: torch.Tensor  # (n_train, 28, 28) uint8
    train_y: torch.Tensor  # (n_train,) int64
    val_x: torch.Tensor  # (n_val, 28, 28) uint8; n_val may be 0
    val_y: torch.Tensor  # (n_val,) int64
    test_x: torch.Tensor  # (n_test, 28, 28) uint8, the official 10k test set
    test_y: torch.Tensor  # (n_test,) int64

    def to(self, device: torch.device | str) -> MnistSplits:
        """A copy with all six tensors on `device` (uint8 images: ~55 MB for full MNIST)."""
        return MnistSplits(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @property
    def n_train(self) -> int:
        return len(self.train_y)

    @property
    def n_val(self) -> int:
        return len(self.val_y)

    @property
    def n_test(self) -> int:
        return len(self.test_y)


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"{what} must be a whole number, got {value!r}.")
    return int(value)


def make_splits(
    raw: MnistRaw, *, val_size: int = 5000, train_subset: int | None = None, seed: int = 0
) -> MnistSplits:
    """Split the training set into train and validation with a seeded permutation.

    The first `val_size` indices of ``randperm(N)`` (seeded with `seed`) become the validation
    set, the rest the training set; `train_subset` then keeps only the first `train_subset`
    of those. The same seed always gives the same split. The test set is used as it is.

    Raises:
        ConfigError (a ValueError): `val_size` outside [0, N - 1000] (at least 1000 training
            images stay; for fewer than 2000 images, at least half), `train_subset` outside
            [1, remaining], or a seed outside [0, 2**63).
    """
    n = len(raw.train_labels)
    val_size = _as_int(val_size, "val_size")
    seed = _as_int(seed, "seed")
    max_val = n - min(1000, n // 2)
    if not 0 <= val_size <= max_val:
        raise ConfigError(
            f"val_size must be between 0 and {max_val:,} (leaving at least {n - max_val:,} of "
            f"the {n:,} training images for training), got {val_size:,}."
        )
    if not 0 <= seed < 2**63:
        raise ConfigError(f"seed must be between 0 and 2**63 - 1, got {seed}.")
    remaining = n - val_size
    if train_subset is not None:
        train_subset = _as_int(train_subset, "train_subset")
        if not 1 <= train_subset <= remaining:
            raise ConfigError(
                f"train_subset must be between 1 and {remaining:,} (the training images left "
                f"after {val_size:,} for validation), got {train_subset:,}."
            )

    generator = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=generator)  # (n,) int64
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    if train_subset is not None:
        train_idx = train_idx[:train_subset]
    return MnistSplits(
        train_x=raw.train_images[train_idx],
        train_y=raw.train_labels[train_idx],
        val_x=raw.train_images[val_idx],
        val_y=raw.train_labels[val_idx],
        test_x=raw.test_images,
        test_y=raw.test_labels,
    )
