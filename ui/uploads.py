"""Importing an uploaded checkpoint: the Models page's upload handler, testable on its own."""

from __future__ import annotations

import logging

from mnist_core.errors import CheckpointError
from mnist_core.models import get_spec
from mnist_core.storage.store import ModelStore
from ui import fmt

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
