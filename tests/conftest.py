"""Shared pytest fixtures.

Data fixtures:
    mnist_dir       folder with the real MNIST files, found as the engine finds them, else
                    downloaded once into ./data/MNIST/raw (fails, never skips, when offline)
    mnist_raw       the real MNIST loaded from mnist_dir (checksums verified) once per session;
                    `raw` is the same object. Shared: no test may change its tensors in place
    tiny_mnist_dir  small synthetic MNIST in tmp_path (checksums differ: load with verify=False)
    serve_folder    factory: serve_folder(root) -> base URL of a local HTTP server for root
                    (127.0.0.1 only, proxies off; the download tests never reach the internet)
"""

from __future__ import annotations

import functools
import gzip
import http.server
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from mnist_core.data.mnist import (
    DEFAULT_DIR,
    MnistRaw,
    download_mnist,
    find_data_dir,
    load_mnist,
    search_dirs,
)
from mnist_core.errors import DownloadError
from mnist_core.settings import settings

# --- data ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST folder, found as the engine finds it (`mnist_core.data.mnist.find_data_dir`:
    $MNIST_DATA_DIR, then ./data/MNIST/raw). When neither holds the four files they are
    downloaded once, with the engine's downloader, into ./data/MNIST/raw, where later runs
    find them. Offline, that fails the tests that need real data (never a skip)."""
    folder = find_data_dir()
    if folder is not None:
        return folder.resolve()
    try:
        return download_mnist(DEFAULT_DIR).resolve()
    except DownloadError as e:
        failure = str(e)  # it says what failed and how to get the files by hand
    # A skip would be counted as a pass; tests that need real data must not pass without it.
    searched = ", ".join(str(path.resolve()) for path in search_dirs())
    env = settings().data_dir
    env_state = f"{str(env)!r}, which does not hold them" if env else "not set"
    pytest.fail(
        f"Real MNIST data not found: none of {searched} holds the four MNIST files "
        f"(MNIST_DATA_DIR is {env_state}), and downloading them into {DEFAULT_DIR.resolve()} "
        f"failed. {failure}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def mnist_raw(mnist_dir: Path) -> MnistRaw:
    """The real MNIST, loaded once for the whole run (verify=True: all four checksums are
    checked). Every test on real data shares it: read it, never change it in place."""
    return load_mnist(mnist_dir)


@pytest.fixture(scope="session")
def raw(mnist_raw: MnistRaw) -> MnistRaw:
    """`mnist_raw` under the short name most engine tests use."""
    return mnist_raw


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


# --- a local HTTP server for the download tests -----------------------------------------------


class _FolderHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder. Any path under /short/ announces more bytes than it sends, then hangs
    up (a connection that drops mid-file)."""

    def do_GET(self) -> None:
        if self.path.startswith("/short/"):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b" + bytes(100))
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def serve_folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], str]]:
    """Factory: serve_folder(root) starts an HTTP server for `root` on 127.0.0.1 and returns
    its base URL (no trailing slash); every server is stopped at the end of the test."""
    for var in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    monkeypatch.setenv("no_proxy", "*")  # loopback only, never through a proxy
    servers: list[tuple[http.server.ThreadingHTTPServer, threading.Thread]] = []

    def serve(root: Path) -> str:
        handler = functools.partial(_FolderHandler, directory=str(root))
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        servers.append((httpd, thread))
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield serve
    for httpd, thread in servers:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def server_folders(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mnist_dir: Path
) -> Callable[[str], None]:
    """Point the app at folders of its own, as a server's environment does: runs and pretrained
    models under `tmp_path`, the real MNIST. Call it with the executor its jobs train in."""

    def use(executor: str) -> None:
        monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
        monkeypatch.setenv("MNIST_CHECKPOINTS_DIR", str(tmp_path / "pretrained"))
        monkeypatch.setenv("MNIST_DATA_DIR", str(mnist_dir))
        monkeypatch.setenv("MNIST_EXECUTOR", executor)

    return use
