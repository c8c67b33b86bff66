"""Shared pytest fixtures.

Data fixtures:
    mnist_dir       folder with the real MNIST files (fails, never skips, when there is none)
    tiny_mnist_dir  small synthetic MNIST in tmp_path (checksums differ: load with verify=False)
    serve_folder    factory: serve_folder(root) -> base URL of a local HTTP server for root
                    (127.0.0.1 only, proxies off; the download tests never reach the internet)
"""

from __future__ import annotations

import functools
import gzip
import http.server
import os
import struct
import threading
from collections.abc import Callable, Iterator
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
