"""Downloading the four MNIST files from public mirrors, safely.

Each file is streamed to a temporary file in the destination folder, its uncompressed sha256
is checked, and only then is it renamed into place with `os.replace` (atomic on one file
system). A dropped connection, a bad mirror or Ctrl-C therefore never leaves a partial file
under the real name for a later run to trip over.
"""

from __future__ import annotations

import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mnist_core import __version__
from mnist_core.data.idx import MNIST_FILES, verify_file
from mnist_core.errors import DataError, DownloadError
from mnist_core.settings import DATA_DIR_ENV, settings
from mnist_core.settings import DEFAULT_DATA_DIR as DEFAULT_DIR

# Tried in order; a file is fetched as <mirror><name>.gz. yann.lecun.com is left out on
# purpose: it has been refusing plain downloads for years.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_CHUNK = 64 * 1024  # bytes per read: ~150 progress calls for the 9.9 MB training images

ProgressCallback = Callable[["DownloadProgress"], None]


@dataclass(frozen=True)
class DownloadProgress:
    """Where a download stands; passed to the `progress` callback after every chunk."""

    file: str  # base name being fetched, e.g. "train-images-idx3-ubyte"
    done_bytes: int  # bytes of this file received so far (compressed, as sent)
    total_bytes: int | None  # this file's size from Content-Length; None if not sent
    file_index: int  # 0-based position of this file among the files
    file_count: int  # number of files in this download (4)

    @property
    def fraction(self) -> float:
        """Overall progress in [0, 1], counting each file as an equal share (approximate)."""
        if self.file_count <= 0:
            return 1.0
        part = min(self.done_bytes / self.total_bytes, 1.0) if self.total_bytes else 0.0
        return min(max((self.file_index + part) / self.file_count, 0.0), 1.0)


def default_dest() -> Path:
    """The folder downloads go to by default: ``$MNIST_DATA_DIR`` if set, else `DEFAULT_DIR`."""
    return settings().data_dir or DEFAULT_DIR


def download_mnist(
    dest: str | Path | None = None,
    *,
    mirrors: Sequence[str] = MIRRORS,
    progress: ProgressCallback | None = None,
    timeout: float = 30.0,
) -> Path:
    """Make sure `dest` holds the four verified MNIST files, downloading what is missing.

    Files already present (raw or ``.gz``) that pass their sha256 check are kept. Each missing
    or invalid one is fetched as ``<mirror><name>.gz``, trying `mirrors` in order, verified, and
    written atomically as ``dest/<name>.gz``; an invalid uncompressed copy is then removed so
    that loaders (which prefer it) see the good file. `timeout` is per network operation.

    Args:
        dest: target folder; default ``$MNIST_DATA_DIR`` if set, else ``./data/MNIST/raw``.
            Created if needed.
        mirrors: base URLs, each ending in ``/`` (added if missing).
        progress: called with a `DownloadProgress` at the start of each file and per chunk.

    Returns:
        The folder holding the four files.

    Raises:
        DownloadError: the folder cannot be written, or every mirror failed for some file
            (unreachable, HTTP error, timeout, truncated, or checksum mismatch). Nothing is left
            under the final name of a file that failed.
    """
    dest = Path(dest).expanduser() if dest not in (None, "") else default_dest()
    mirrors = tuple(mirrors)
    if not mirrors:
        raise ValueError("download_mnist needs at least one mirror URL.")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(
            f"Cannot create the download folder {dest}: {e.strerror or e}. Pass a writable "
            f"folder, or set {DATA_DIR_ENV} to one."
        ) from e

    names = list(MNIST_FILES.values())
    for index, name in enumerate(names):
        raw, gz = dest / name, dest / f"{name}.gz"
        if raw.is_file() and _is_valid(raw, name):
            _report_done(progress, raw, name, index, len(names))
            continue
        if gz.is_file() and _is_valid(gz, name):
            _report_done(progress, gz, name, index, len(names))
        else:
            _download_one(name, dest, mirrors, progress, timeout, index, len(names))
        if raw.is_file():  # present but invalid (checked above): it would shadow the good .gz
            try:
                raw.unlink()
            except OSError as e:
                raise DownloadError(
                    f"{raw} is corrupt and could not be removed ({e.strerror or e}); delete it "
                    f"by hand, the good copy is {gz}."
                ) from e
    return dest


class _MirrorFailed(Exception):
    """One mirror failed for one file; the message says why, for the final report."""


def _is_valid(path: Path, name: str) -> bool:
    try:
        verify_file(path, name)
    except DataError:
        return False
    return True


def _report_done(
    progress: ProgressCallback | None, path: Path, name: str, index: int, count: int
) -> None:
    if progress is not None:
        size = path.stat().st_size
        progress(DownloadProgress(name, size, size, index, count))


def _mirror_url(mirror: str, name: str) -> str:
    return f"{mirror if mirror.endswith('/') else mirror + '/'}{name}.gz"


def _download_one(
    name: str,
    dest: Path,
    mirrors: tuple[str, ...],
    progress: ProgressCallback | None,
    timeout: float,
    index: int,
    count: int,
) -> None:
    failures: list[str] = []
    for mirror in mirrors:
        url = _mirror_url(mirror, name)
        try:
            _fetch_verified(url, name, dest, progress, timeout, index, count)
            return
        except _MirrorFailed as e:
            failures.append(f"  - {url}: {e}")
    files = ", ".join(f"{n}.gz" for n in MNIST_FILES.values())
    raise DownloadError(
        f"Could not download {name}.gz; every mirror failed:\n"
        + "\n".join(failures)
        + f"\nNothing was written to {dest / (name + '.gz')}. Check your internet connection "
        f"and try again, or download the four MNIST files ({files}) by hand into a folder and "
        f"set {DATA_DIR_ENV} to that folder (e.g. export {DATA_DIR_ENV}=/path/to/mnist)."
    )


def _fetch_verified(
    url: str,
    name: str,
    dest: Path,
    progress: ProgressCallback | None,
    timeout: float,
    index: int,
    count: int,
) -> None:
    # Same folder as the target so os.replace is a rename, never a cross-device copy. The
    # dot-prefix and .part suffix keep it from ever being mistaken for an MNIST file.
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.gz.", suffix=".part", dir=dest)
    except OSError as e:
        raise DownloadError(f"Cannot write to {dest}: {e.strerror or e}.") from e
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(url, out, tmp, name, progress, timeout, index, count)
        try:
            verify_file(tmp, name)
        except DataError as e:
            raise _MirrorFailed(
                "the downloaded file is corrupt or not MNIST (sha256 mismatch or bad gzip)"
            ) from e
        tmp.chmod(0o644)  # mkstemp makes it 0600; the data is an ordinary readable file
        os.replace(tmp, dest / f"{name}.gz")
    finally:
        tmp.unlink(missing_ok=True)  # after a successful replace it is already gone


def _stream(
    url: str,
    out: BinaryIO,
    tmp: Path,
    name: str,
    progress: ProgressCallback | None,
    timeout: float,
    index: int,
    count: int,
) -> None:
    # Network errors are caught around urlopen/read only, so an exception raised by the
    # progress callback (e.g. a UI cancel) propagates as itself instead of "mirror failed".
    request = urllib.request.Request(url, headers={"User-Agent": f"mnist-playground/{__version__}"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise _MirrorFailed(_describe(e, timeout)) from e
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        if progress is not None:
            progress(DownloadProgress(name, 0, total, index, count))
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (OSError, http.client.HTTPException, ValueError) as e:
                raise _MirrorFailed(_describe(e, timeout)) from e
            if not chunk:
                break
            try:
                out.write(chunk)
            except OSError as e:  # disk full, quota: no other mirror will fix that
                raise DownloadError(f"Cannot write {tmp}: {e.strerror or e}.") from e
            done += len(chunk)
            if progress is not None:
                progress(DownloadProgress(name, done, total, index, count))
    if total is not None and done != total:
        raise _MirrorFailed(f"connection closed after {done:,} of {total:,} bytes")


def _describe(e: BaseException, timeout: float) -> str:
    """A one-line, human reason for a failed request."""
    if isinstance(e, urllib.error.HTTPError):
        e.close()  # it carries an open response
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        reason = e.reason
        if isinstance(reason, TimeoutError):
            return f"no answer within {timeout:g} s"
        return f"cannot connect ({reason})"
    if isinstance(e, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(e, http.client.IncompleteRead):
        return "connection closed before the file was complete"
    if isinstance(e, ValueError):
        return f"invalid URL ({e})"
    return f"{type(e).__name__}: {e}"
