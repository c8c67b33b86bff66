"""Shared pytest fixtures.

Data fixtures:
    mnist_dir       folder with the real MNIST files (fails, never skips, when there is none)
    tiny_mnist_dir  small synthetic MNIST in tmp_path (checksums differ: load with verify=False)
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

# The offline copy beside the checkout: <repo>/../shared/data/mnist.
SHARED_MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


# --- data ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST folder: $MNIST_DATA_DIR if it exists, else ../shared/data/mnist."""
    env = os.environ.get("MNIST_DATA_DIR", "").strip()
    if env and Path(env).is_dir():
        return Path(env)
    if SHARED_MNIST_DIR.is_dir():
        return SHARED_MNIST_DIR
    # A skip would be counted as a pass; tests that need real data must not pass without it.
    env_state = f"{env!r}, not a folder" if env else "not set"
    pytest.fail(
        f"Real MNIST data not found: MNIST_DATA_DIR is {env_state} and "
        f"{SHARED_MNIST_DIR} does not exist. Set MNIST_DATA_DIR to a folder holding the four "
        "MNIST files (or run: python -m mnist_core download, then point MNIST_DATA_DIR at it)."
    )


def _idx_gz(array: np.ndarray) -> bytes:
    """Gzip-compressed IDX bytes of a uint8 array with 1 (labels) or 3 (images) dims."""
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


@pytest.fixture
def tiny_mnist_dir(tmp_path: Path) -> Path:
    """A folder with the four MNIST file names (.gz): 100 train and 20 test 28x28 images.

    Image i has pixel [0, 0] = i so tests can tell images apart; labels are i % 10.
    """
    folder = tmp_path / "tiny_mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 100), ("t10k", 20)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = np.arange(count)
        labels = (np.arange(count) % 10).astype(np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(_idx_gz(images))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(_idx_gz(labels))
    return folder
