"""What the Train and Mistakes pages show when MNIST is not there: how to get it, and a
download with a progress bar.

The download runs synchronously in the script run (not in a thread), so the progress
callback may update `st.progress` directly.
"""

from __future__ import annotations

import streamlit as st

from mnist_core.data.mnist import DATA_DIR_ENV, MnistRaw, default_dest, download_mnist
from mnist_core.errors import DownloadError
from ui.errors import friendly_errors
from ui.resources import get_data_source

DOWNLOAD_MB = 11


def _download() -> bool:
    """Download MNIST, showing progress. True when it worked."""
    dest = default_dest()
    bar = st.progress(0.0, text=f"Downloading MNIST into {dest} …")

    def progress(p: object) -> None:
        fraction = float(getattr(p, "fraction", 0.0))
        index = int(getattr(p, "file_index", 0)) + 1
        count = int(getattr(p, "file_count", 4))
        name = getattr(p, "file", "")
        done = getattr(p, "done_bytes", 0) / 1e6
        total = getattr(p, "total_bytes", None)
        size = f"{done:.1f} of {total / 1e6:.1f} MB" if total else f"{done:.1f} MB"
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"File {index} of {count}: {name} ({size})")

    try:
        download_mnist(progress=progress)
    except DownloadError as e:  # offline, mirror down...: the message says what to do
        bar.empty()
        st.error(str(e), icon=":material/cloud_off:")
        return False
    bar.progress(1.0, text="Download complete.")
    return True


def explain_missing_data(page: str, purpose: str) -> None:
    """How to get MNIST, with a download button (shows progress, reruns when done)."""
    with st.container(border=True):
        st.markdown(f"#### :material/dataset: MNIST is needed to {purpose}")
        st.markdown(
            f"""
The MNIST handwritten digits (four files, {DOWNLOAD_MB} MB) were not found on this server.
Either:

* **download them now** with the button below (into `{default_dest()}`), or
* put the four files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
  `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, plain or `.gz`) in a folder and set
  the environment variable **`{DATA_DIR_ENV}`** to it before starting the app, or
* from a terminal, run `python -m mnist_core download`.

The **Draw** and **Models** pages work without the data, from the pretrained models.
"""
        )
        if st.button(
            f"Download MNIST ({DOWNLOAD_MB} MB)",
            key=f"{page}_download",
            type="primary",
            icon=":material/download:",
        ):
            ok = False
            with friendly_errors("downloading MNIST"):
                ok = _download()
            if ok:
                st.rerun()


def data_available(page: str, purpose: str) -> bool:
    """True when the MNIST files are there; else explains how to get them and returns False.

    Only checks that the files exist (cheap): training jobs load them in their own thread.
    """
    if get_data_source().available():
        return True
    explain_missing_data(page, purpose)
    return False


def require_data(page: str, purpose: str) -> MnistRaw | None:
    """The loaded MNIST data, or None after explaining on the page how to get it (or why the
    files present cannot be read)."""
    if not data_available(page, purpose):
        return None
    with friendly_errors("loading MNIST"), st.spinner("Loading MNIST …"):
        return get_data_source()()
    return None
