"""Tests for mnist_core.data.mnist: real MNIST, malformed files, missing data, downloads, batching.

Downloads only ever talk to an http.server on 127.0.0.1 (the `serve_folder` fixture).
"""

from __future__ import annotations

import gzip
import shutil
import socket
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_core.data import mnist as data
from mnist_core.data.mnist import (
    DATA_DIR_ENV,
    DEFAULT_DIR,
    MIRRORS,
    MNIST_FILES,
    SHA256,
    DownloadProgress,
    MnistRaw,
    MnistSource,
    MnistSplits,
    download_mnist,
    find_data_dir,
    load_mnist,
    make_splits,
    read_idx,
    search_dirs,
    verify_file,
)
from mnist_core.errors import ConfigError, DataError, DataMissingError, DownloadError

NAMES = list(MNIST_FILES.values())


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Uncompressed IDX bytes for a uint8 array; `magic` overrides the computed one."""
    magic = 0x0800 | array.ndim if magic is None else magic
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.fixture(scope="module")
def real_raw(mnist_raw: MnistRaw) -> MnistRaw:
    return mnist_raw  # loaded once per session (conftest), verify=True: all four checksums


# --- real data ----------------------------------------------------------------------------


def test_constants() -> None:
    assert set(MNIST_FILES) == {"train_images", "train_labels", "test_images", "test_labels"}
    assert set(SHA256) == set(NAMES)
    assert all(m.startswith("https://") and m.endswith("/") for m in MIRRORS)
    assert DATA_DIR_ENV == "MNIST_DATA_DIR"
    assert Path("data/MNIST/raw") == DEFAULT_DIR


def test_load_real_mnist(real_raw: MnistRaw, mnist_dir: Path) -> None:
    assert real_raw.train_images.shape == (60000, 28, 28)
    assert real_raw.train_images.dtype == torch.uint8
    assert real_raw.train_labels.shape == (60000,)
    assert real_raw.train_labels.dtype == torch.int64
    assert real_raw.test_images.shape == (10000, 28, 28)
    assert real_raw.test_images.dtype == torch.uint8
    assert real_raw.test_labels.shape == (10000,)
    assert real_raw.test_labels.dtype == torch.int64
    for labels in (real_raw.train_labels, real_raw.test_labels):
        assert labels.min() == 0 and labels.max() == 9
        assert (torch.bincount(labels, minlength=10) > 800).all()  # every digit is there
    assert real_raw.source == mnist_dir
    # Well-known facts about MNIST: the first training label is 5, the first test label 7.
    assert real_raw.train_labels[0] == 5 and real_raw.test_labels[0] == 7


def test_real_files_pass_checksum(mnist_dir: Path) -> None:
    for name in NAMES:
        path = data.locate_file(mnist_dir, name)
        assert path is not None, name
        verify_file(path, name)


def test_make_splits_real(real_raw: MnistRaw) -> None:
    splits = make_splits(real_raw)
    assert (splits.n_train, splits.n_val, splits.n_test) == (55000, 5000, 10000)
    assert splits.train_x.shape == (55000, 28, 28) and splits.train_x.dtype == torch.uint8
    assert splits.val_y.shape == (5000,) and splits.val_y.dtype == torch.int64
    assert splits.test_x is real_raw.test_images

    again = make_splits(real_raw)
    assert torch.equal(again.val_y, splits.val_y) and torch.equal(again.train_x, splits.train_x)
    other = make_splits(real_raw, seed=1)
    assert not torch.equal(other.val_x, splits.val_x)

    sub = make_splits(real_raw, val_size=1000, train_subset=2000, seed=3)
    assert (sub.n_train, sub.n_val, sub.n_test) == (2000, 1000, 10000)
    # The subset is the start of the same seed's full training part.
    full = make_splits(real_raw, val_size=1000, seed=3)
    assert torch.equal(sub.train_x, full.train_x[:2000])

    assert make_splits(real_raw, val_size=0).n_train == 60000
    assert make_splits(real_raw, val_size=59000).n_train == 1000


def _numbered_raw(n: int) -> MnistRaw:
    """Raw data where image i stores i in pixels [0,0] (low byte) and [0,1] (high byte)."""
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    ids = torch.arange(n)
    images[:, 0, 0], images[:, 0, 1] = ids % 256, ids // 256
    return MnistRaw(images, ids % 10, images[:10], ids[:10] % 10, Path("."))


def _ids(x: torch.Tensor) -> list[int]:
    return (x[:, 0, 0].long() + 256 * x[:, 0, 1].long()).tolist()


def test_make_splits_disjoint_and_complete() -> None:
    raw = _numbered_raw(3000)
    splits = make_splits(raw, val_size=700, seed=5)
    train, val = _ids(splits.train_x), _ids(splits.val_x)
    assert len(set(train)) == 2300 and len(set(val)) == 700
    assert not set(train) & set(val)
    assert set(train) | set(val) == set(range(3000))
    assert splits.train_y.tolist() == [i % 10 for i in train]  # labels follow their images
    sub = make_splits(raw, val_size=700, seed=5, train_subset=100)
    assert _ids(sub.train_x) == train[:100] and _ids(sub.val_x) == val


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_size": -1}, "val_size"),
        ({"val_size": 59001}, "val_size must be between 0 and 59,000"),
        ({"val_size": 1.5}, "whole number"),
        ({"train_subset": 0}, "train_subset"),
        ({"val_size": 5000, "train_subset": 55001}, "between 1 and 55,000"),
        ({"seed": -1}, "seed"),
    ],
)
def test_make_splits_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    raw = _numbered_raw(60000)
    with pytest.raises(ConfigError, match=match):
        make_splits(raw, **kwargs)
    assert issubclass(ConfigError, ValueError)


def test_splits_to_moves_all_six_tensors() -> None:
    splits = make_splits(_numbered_raw(2000), val_size=100)
    moved = splits.to("meta")  # the meta device proves each tensor moved, without a GPU
    assert isinstance(moved, MnistSplits)
    for name in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y"):
        assert getattr(moved, name).device.type == "meta", name
        assert getattr(moved, name).shape == getattr(splits, name).shape
    assert (moved.n_train, moved.n_val, moved.n_test) == (1900, 100, 10)


# --- tiny synthetic data ------------------------------------------------------------------


def test_load_tiny(tiny_mnist_dir: Path) -> None:
    raw = load_mnist(tiny_mnist_dir, verify=False)
    assert raw.train_images.shape == (100, 28, 28) and raw.test_labels.shape == (20,)
    assert raw.train_labels.tolist() == [i % 10 for i in range(100)]
    assert raw.source == tiny_mnist_dir
    splits = make_splits(raw, val_size=20, seed=0)
    assert (splits.n_train, splits.n_val, splits.n_test) == (80, 20, 20)


def test_load_tiny_with_verify_reports_corrupt(tiny_mnist_dir: Path) -> None:
    with pytest.raises(DataError, match="corrupt or partial") as err:
        load_mnist(tiny_mnist_dir)
    assert str(tiny_mnist_dir) in str(err.value) and "Delete it" in str(err.value)


def test_uncompressed_files_are_read(tmp_path: Path, tiny_mnist_dir: Path) -> None:
    for name in NAMES:
        (tmp_path / name).write_bytes(gzip.decompress((tiny_mnist_dir / f"{name}.gz").read_bytes()))
    raw = load_mnist(tmp_path, verify=False)
    assert raw.train_images.shape == (100, 28, 28)


def test_load_rejects_mismatched_counts(tiny_mnist_dir: Path) -> None:
    labels = tiny_mnist_dir / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.zeros(99, dtype=np.uint8))))
    with pytest.raises(DataError, match=r"100 images but .* 99 labels"):
        load_mnist(tiny_mnist_dir, verify=False)


def test_load_rejects_labels_out_of_range(tiny_mnist_dir: Path) -> None:
    bad = np.full(20, 3, dtype=np.uint8)
    bad[7] = 10
    (tiny_mnist_dir / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(bad)))
    with pytest.raises(DataError, match=r"label 10; MNIST labels are 0\.\.9"):
        load_mnist(tiny_mnist_dir, verify=False)


def test_load_rejects_labels_in_image_slot(tiny_mnist_dir: Path) -> None:
    shutil.copy(
        tiny_mnist_dir / "t10k-labels-idx1-ubyte.gz", tiny_mnist_dir / "t10k-images-idx3-ubyte.gz"
    )
    with pytest.raises(DataError, match="does not hold 28x28 images"):
        load_mnist(tiny_mnist_dir, verify=False)


# --- malformed IDX files ------------------------------------------------------------------


def _images(n: int = 3) -> np.ndarray:
    return np.arange(n * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(n, 28, 28)


def test_read_idx_roundtrip(tmp_path: Path) -> None:
    images = _images()
    (tmp_path / "a").write_bytes(idx_bytes(images))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(images)))
    for name in ("a", "a.gz"):
        out = read_idx(tmp_path / name)
        assert out.dtype == np.uint8 and out.shape == (3, 28, 28)
        np.testing.assert_array_equal(out, images)
        assert out.flags.writeable  # torch.from_numpy would warn on a read-only array


def _malformed() -> dict[str, tuple[bytes, str]]:
    good = idx_bytes(_images())
    gz = gzip.compress(good)
    return {
        "truncated.gz": (gz[: len(gz) // 2], "truncated or corrupt gzip"),
        "truncated_payload": (good[:-5], "truncated"),
        "count_mismatch.gz": (
            gzip.compress(struct.pack(">IIII", 0x803, 5, 28, 28) + good[16:]),
            "announces 5 x 28 x 28 = 3,920 values but the file holds 2,352",
        ),
        "trailing_bytes": (good + b"\0", "longer than its header says"),
        "wrong_magic.gz": (gzip.compress(idx_bytes(_images(), magic=0x0D03)), "magic number"),
        "not_gzip.gz": (b"<html>404 Not Found</html>", "not gzip-compressed"),
        "empty": (b"", "is empty"),
        "empty.gz": (b"", "is empty"),
        "header_cut": (good[:10], "truncated inside its header"),
        "bad_crc.gz": (gz[:-8] + bytes(8), "truncated or corrupt gzip"),
    }


@pytest.mark.parametrize("name", list(_malformed()))
def test_read_idx_malformed_raises_data_error_naming_file(tmp_path: Path, name: str) -> None:
    content, match = _malformed()[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=match) as err:
        read_idx(path)
    assert type(err.value) is DataError
    assert str(path) in str(err.value)
    assert "download" in str(err.value)  # says what to do


def test_read_idx_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataMissingError, match="does not exist"):
        read_idx(tmp_path / "nope.gz")


def test_verify_file_detects_flipped_byte(tmp_path: Path, mnist_dir: Path) -> None:
    name = "t10k-labels-idx1-ubyte"
    content = gzip.decompress((mnist_dir / f"{name}.gz").read_bytes())
    good = tmp_path / name
    good.write_bytes(content)
    verify_file(good, name)

    flipped = bytearray(content)
    flipped[5000] ^= 0x01  # one label changes; the file still parses
    bad = tmp_path / "copy" / name
    bad.parent.mkdir()
    bad.write_bytes(bytes(flipped))
    assert read_idx(bad).shape == (10000,)
    with pytest.raises(DataError, match="corrupt or partial") as err:
        verify_file(bad, name)
    assert str(bad) in str(err.value) and "download again" in str(err.value)

    # load_mnist reports it too, in a folder that is otherwise fine.
    for other in NAMES:
        if other != name:
            (bad.parent / f"{other}.gz").symlink_to(mnist_dir / f"{other}.gz")
    with pytest.raises(DataError, match="corrupt or partial"):
        load_mnist(bad.parent)


# --- finding the folder -------------------------------------------------------------------


def test_search_dirs_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))
    assert search_dirs(tmp_path / "mine") == [tmp_path / "mine", tmp_path / "env", DEFAULT_DIR]
    assert search_dirs() == [tmp_path / "env", DEFAULT_DIR]
    monkeypatch.setenv(DATA_DIR_ENV, "")
    assert search_dirs("") == [DEFAULT_DIR]
    monkeypatch.delenv(DATA_DIR_ENV)
    assert search_dirs(None) == [DEFAULT_DIR]


def test_find_data_dir(
    tmp_path: Path, tiny_mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    assert find_data_dir() is None
    monkeypatch.setenv(DATA_DIR_ENV, str(tiny_mnist_dir))
    assert find_data_dir() == tiny_mnist_dir
    assert find_data_dir(tmp_path / "elsewhere") == tiny_mnist_dir  # falls through to the env
    (tiny_mnist_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    assert find_data_dir() is None


def test_missing_data_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "train-images-idx3-ubyte.gz").write_bytes(b"")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "from_env"))
    with pytest.raises(DataMissingError) as err:
        load_mnist(mine)
    msg = str(err.value)
    for name in NAMES:
        assert name in msg
    assert str(mine) in msg and str(tmp_path / "from_env") in msg
    assert str(tmp_path / DEFAULT_DIR) in msg
    assert "does not exist" in msg and "lacks train-labels-idx1-ubyte" in msg
    assert DATA_DIR_ENV in msg and "python -m mnist_core download" in msg

    monkeypatch.delenv(DATA_DIR_ENV)
    with pytest.raises(DataMissingError, match=f"{DATA_DIR_ENV} is not set"):
        load_mnist()


# --- downloading from a local server ------------------------------------------------------


@pytest.fixture
def server(
    tmp_path: Path, mnist_dir: Path, tiny_mnist_dir: Path, serve_folder: Callable[[Path], str]
) -> str:
    """Base URL of a local server: /good/ real MNIST, /bad/ wrong content, /short/ a dropped
    connection, others 404."""
    root = tmp_path / "www"
    (root / "good").mkdir(parents=True)
    (root / "bad").mkdir()
    for name in NAMES:
        shutil.copy(mnist_dir / f"{name}.gz", root / "good")
        shutil.copy(tiny_mnist_dir / f"{name}.gz", root / "bad")  # valid gzip, wrong checksum
    return serve_folder(root)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on exit: connecting is refused


def test_download_falls_back_to_working_mirror(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "t10k-labels-idx1-ubyte").write_bytes(b"junk")  # invalid copy: must be replaced
    seen: list[DownloadProgress] = []
    out = download_mnist(
        dest, mirrors=[f"{server}/missing/", f"{server}/good"], progress=seen.append, timeout=10
    )
    assert out == dest
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    for name in NAMES:
        verify_file(dest / f"{name}.gz", name)

    assert [p.file_index for p in seen] == sorted(p.file_index for p in seen)
    assert {p.file for p in seen} == set(NAMES) and {p.file_count for p in seen} == {4}
    for name in NAMES:
        done = [p.done_bytes for p in seen if p.file == name]
        assert done == sorted(done) and done[0] == 0
        last = next(p for p in reversed(seen) if p.file == name)
        assert last.done_bytes == last.total_bytes == (dest / f"{name}.gz").stat().st_size
    train = [p.done_bytes for p in seen if p.file == NAMES[0]]
    assert len(set(train)) > 10  # streamed in chunks, not in one piece
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0

    # Everything is valid now: a second run needs no network at all.
    again: list[DownloadProgress] = []
    dead = f"http://127.0.0.1:{_closed_port()}/"
    assert download_mnist(dest, mirrors=[dead], progress=again.append) == dest
    assert [p.fraction for p in again] == [0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("mirror", ["bad", "short"])
def test_download_bad_content_leaves_nothing(server: str, tmp_path: Path, mirror: str) -> None:
    dest = tmp_path / "dl"
    url = f"{server}/{mirror}/"
    with pytest.raises(DownloadError) as err:
        download_mnist(dest, mirrors=[url], timeout=10)
    msg = str(err.value)
    assert f"{url}train-images-idx3-ubyte.gz" in msg
    assert "corrupt" in msg if mirror == "bad" else "connection closed" in msg
    assert DATA_DIR_ENV in msg and "by hand" in msg
    assert list(dest.iterdir()) == []  # no partial file, no temp file


def test_download_unreachable_mirrors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("no_proxy", "*")
    mirrors = [f"http://127.0.0.1:{_closed_port()}/a/", f"http://127.0.0.1:{_closed_port()}/b/"]
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError) as err:
        download_mnist(dest, mirrors=mirrors, timeout=5)
    msg = str(err.value)
    for m in mirrors:
        assert f"{m}train-images-idx3-ubyte.gz: cannot connect" in msg
    assert DATA_DIR_ENV in msg
    assert list(dest.iterdir()) == []


def test_load_mnist_download_into_requested_folder(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    real = data.download_mnist
    # load_mnist always uses the public mirrors; point it at the local server instead.
    monkeypatch.setattr(
        data,
        "download_mnist",
        lambda dest, progress=None: real(dest, mirrors=[f"{server}/good/"], progress=progress),
    )
    raw = load_mnist(tmp_path / "fresh", download=True)
    assert raw.source == tmp_path / "fresh" and raw.train_images.shape == (60000, 28, 28)


def test_download_progress_fraction() -> None:
    assert DownloadProgress("f", 50, 100, 1, 4).fraction == pytest.approx(0.375)
    assert DownloadProgress("f", 50, None, 2, 4).fraction == 0.5
    assert DownloadProgress("f", 500, 100, 3, 4).fraction == 1.0


# --- MnistSource ----------------------------------------------------------------------------


def test_mnist_source_loads_once_and_retries_after_a_miss(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./data/MNIST/raw here
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "nothing"))
    source = MnistSource()
    assert not source.available()
    with pytest.raises(DataMissingError):
        source()
    monkeypatch.setenv(DATA_DIR_ENV, str(mnist_dir))  # e.g. downloaded meanwhile
    assert source.available()
    first = source()
    assert first.source == mnist_dir.resolve() and len(first.test_labels) == 10_000
    assert source() is first  # the same tensors for every caller


def test_mnist_source_preloads_in_the_background(
    mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11, item 23: the Train page starts loading MNIST before Start is pressed."""
    import threading

    monkeypatch.setenv(DATA_DIR_ENV, str(mnist_dir))
    source = MnistSource()
    source.preload()
    loaders = [t for t in threading.enumerate() if t.name == "mnist-preload"]
    assert loaders, "preload started no thread"
    for t in loaders:
        t.join()
    loaded = source._raw
    assert loaded is not None and len(loaded.train_labels) == 60_000
    assert source() is loaded
    source.preload()  # loaded already: nothing more to do
    assert not [t for t in threading.enumerate() if t.name == "mnist-preload"]
