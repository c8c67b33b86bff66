"""The four MNIST files: their names, their checksums, and reading the IDX format.

IDX is the tiny format MNIST ships in: a 4-byte magic number (two zero bytes, a type code, the
number of dimensions), one big-endian uint32 per dimension, then the raw values. MNIST uses
only unsigned bytes (type code 0x08): images are ``0x00000803`` (count, rows, cols) and labels
``0x00000801`` (count). Files may be gzip-compressed, as they are distributed.

Everything that goes wrong here raises `DataError` naming the file, never a bare numpy, gzip or
zlib traceback: a truncated download is the commonest way a user meets this code.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from mnist_core.errors import DataError, DataMissingError

# Split key -> base file name (without ".gz"); the names every MNIST tool expects.
MNIST_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# Base file name -> sha256 of the *uncompressed* bytes. The gzip bytes differ between mirrors
# (re-compression changes them), the content does not, so this is what identifies real MNIST.
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

MAGIC_IMAGES = 0x00000803  # unsigned byte, 3 dims: (count, rows, cols)
MAGIC_LABELS = 0x00000801  # unsigned byte, 1 dim: (count,)
_NDIM_FOR_MAGIC = {MAGIC_IMAGES: 3, MAGIC_LABELS: 1}

_GZIP_MAGIC = b"\x1f\x8b"
_FIX = "Delete it and download MNIST again (python -m mnist_core download)."


def read_idx_bytes(path: Path) -> bytes:
    """Return the uncompressed content of an IDX file, gunzipping it if it is gzip data.

    Compression is detected from the content (gzip magic bytes), so a decompressed file that
    kept its ``.gz`` name still fails clearly, and a compressed one without the suffix works.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(2)
            f.seek(0)
            if not head:
                raise DataError(f"{path} is empty (0 bytes), not an MNIST IDX file. {_FIX}")
            if head == _GZIP_MAGIC:
                # EOFError: gzip stream cut short; zlib.error / BadGzipFile: damaged data or CRC.
                return gzip.GzipFile(fileobj=f, mode="rb").read()
            if path.suffix == ".gz":
                raise DataError(
                    f"{path} is named .gz but is not gzip-compressed data (it is probably an "
                    f"error page or a damaged download). {_FIX}"
                )
            return f.read()
    except FileNotFoundError:
        raise DataMissingError(
            f"MNIST file {path} does not exist. Download MNIST (python -m mnist_core download) "
            "or set MNIST_DATA_DIR to a folder holding the four files."
        ) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(
            f"{path} is a truncated or corrupt gzip file ({str(e) or type(e).__name__}); the "
            f"download was probably interrupted. {_FIX}"
        ) from e
    except OSError as e:
        raise DataError(f"Cannot read {path}: {e.strerror or e}.") from e


def parse_idx(data: bytes, path: Path) -> np.ndarray:
    """Parse uncompressed MNIST IDX bytes into a uint8 array; `path` is only named in errors.

    Returns shape (count, rows, cols) for images or (count,) for labels.
    """
    if len(data) < 4:
        what = "empty" if not data else f"only {len(data)} bytes long"
        raise DataError(f"{path} is {what}, not an MNIST IDX file. {_FIX}")
    (magic,) = struct.unpack(">I", data[:4])
    ndim = _NDIM_FOR_MAGIC.get(magic)
    if ndim is None:
        raise DataError(
            f"{path} is not an MNIST IDX file: its magic number is 0x{magic:08x}, expected "
            f"0x{MAGIC_IMAGES:08x} (images) or 0x{MAGIC_LABELS:08x} (labels). It may be a "
            f"different file under this name, or damaged. {_FIX}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated inside its header ({len(data)} bytes). {_FIX}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = math.prod(dims)  # Python ints: a garbage header cannot overflow or allocate.
    payload = len(data) - header
    if payload != expected:
        shape = " x ".join(str(d) for d in dims)
        problem = "truncated" if payload < expected else "longer than its header says"
        raise DataError(
            f"{path} is {problem}: the header announces {shape} = {expected:,} values but the "
            f"file holds {payload:,}. It is corrupt or partial. {_FIX}"
        )
    # frombuffer over `bytes` is read-only; copy so torch.from_numpy gets a writable array.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_idx(path: Path) -> np.ndarray:
    """Read an MNIST IDX file (raw or ``.gz``) into a uint8 numpy array.

    Images come back as (count, rows, cols), labels as (count,). Validates the magic number,
    the dimensions and that the payload has exactly the announced number of bytes.

    Raises:
        DataMissingError: the file does not exist.
        DataError: it is unreadable, not gzip although named ``.gz``, a broken gzip stream,
            has a wrong magic number, or is shorter/longer than its header says.
    """
    path = Path(path)
    return parse_idx(read_idx_bytes(path), path)


def check_sha256(data: bytes, path: Path, name: str) -> None:
    """Raise `DataError` unless `data` (uncompressed content of `path`) is the real `name`."""
    if name not in SHA256:
        raise ValueError(f"Unknown MNIST file name {name!r}; expected one of {sorted(SHA256)}.")
    got = hashlib.sha256(data).hexdigest()
    if got != SHA256[name]:
        raise DataError(
            f"{path} is corrupt or partial: its content does not match the published MNIST "
            f"{name} (sha256 {got[:12]}…, expected {SHA256[name][:12]}…). Delete it and "
            f"download again (python -m mnist_core download), or replace it with a good copy."
        )


def verify_file(path: Path, name: str) -> None:
    """Check that `path` (raw or ``.gz``) holds exactly the MNIST file `name`.

    `name` is a base file name such as ``"train-images-idx3-ubyte"``; the sha256 of the
    uncompressed content is compared with `SHA256[name]`.

    Raises:
        DataError: the content differs (corrupt or partial file), or it cannot be read.
        ValueError: `name` is not one of the four MNIST file names.
    """
    path = Path(path)
    check_sha256(read_idx_bytes(path), path, name)


def locate_file(folder: Path, name: str) -> Path | None:
    """Return ``folder/name`` or else ``folder/name.gz`` if it is a file, otherwise None.

    The uncompressed copy wins because torchvision-style folders hold both and reading it
    skips decompression.
    """
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None
