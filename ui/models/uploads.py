"""Importing an uploaded checkpoint on the Models page: the handler (`import_upload`, testable
on its own) and the upload box that calls it."""

from __future__ import annotations

import logging

import streamlit as st

from mnist_core.errors import CheckpointError
from mnist_core.models import get_spec
from mnist_core.storage.store import ModelStore
from ui import fmt, keys, state
from ui.errors import flash, guarded_callback
from ui.resources import get_store

log = logging.getLogger("mnist_playground")

MAX_UPLOAD_MB = 10  # as server.maxUploadSize in .streamlit/config.toml


def import_upload(store: ModelStore, data: bytes, owner: str, name: str) -> tuple[str, str]:
    """Validate and store an uploaded checkpoint. Returns (level, message) for the page:
    ("success", ...) or ("error", ...). A bad file is refused with the engine's reason and
    nothing is stored."""
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
        return "error", (
            f"Upload refused: the file is larger than {MAX_UPLOAD_MB} MB, so it is not an "
            "MNIST Playground checkpoint."
        )
    try:
        stored = store.import_bytes(data, owner, name)
    except CheckpointError as e:
        return "error", f"Upload refused: {e}"
    except Exception:
        # The engine turns the failures it knows into CheckpointError; anything else raised
        # while reading untrusted bytes still means the file is not a usable checkpoint.
        log.warning("Upload could not be read as a checkpoint", exc_info=True)
        return "error", (
            "Upload refused: the file could not be read as an MNIST Playground checkpoint "
            "(it is damaged, truncated or another kind of file)."
        )
    return "success", (
        f"Added **{stored.name}** ({get_spec(stored.model).title}, test accuracy "
        f"{fmt.percent(stored.test_accuracy)}). It is now available on every page."
    )


def _uploader_key() -> str:
    """The uploader's key: a new one after each import, which empties the box, so that the
    file and a message about it do not outlive the import they belong to."""
    n = st.session_state[keys.MODELS_UPLOAD_N]
    return keys.MODELS_UPLOAD if n == 0 else f"{keys.MODELS_UPLOAD}_{n}"


@guarded_callback("importing the checkpoint", keys.MODELS_FLASH)
def on_upload() -> None:
    """The uploader's on_change: import the file once, when it arrives. Success: a message
    for the next run only, and an empty box; a refusal stays beside the file it is about."""
    ss = st.session_state
    upload = ss.get(_uploader_key())
    if upload is None:
        return
    level, message = import_upload(
        get_store(), upload.getvalue(), state.owner(), ss[keys.MODELS_UPLOAD_NAME]
    )
    if level == "success":
        flash(keys.MODELS_FLASH, "success", message)
        ss[keys.MODELS_UPLOAD_N] += 1
        ss[keys.MODELS_UPLOAD_NAME] = ""  # the next upload gets the name in its own file
        ss[keys.MODELS_IMPORTED] = {}
    else:
        ss[keys.MODELS_IMPORTED] = {upload.file_id: message}


def upload_box() -> None:
    ss = st.session_state
    with st.container(border=True):
        st.markdown("**Upload a checkpoint** (`.pt` saved by MNIST Playground)")
        cols = st.columns([2, 1])
        upload = cols[0].file_uploader(
            "Checkpoint file",
            type=["pt", "pth"],
            key=_uploader_key(),
            on_change=on_upload,
            help="Only weights and plain settings are read (weights_only=True): a file that "
            "would run code is refused.",
        )
        cols[1].text_input(
            "Name (optional)",
            key=keys.MODELS_UPLOAD_NAME,
            placeholder="the name stored in the file",
            max_chars=80,
        )
        refused = ss[keys.MODELS_IMPORTED].get(upload.file_id) if upload is not None else None
        if refused:
            st.error(refused)
