"""Scenario 6: Models: the download is a checkpoint the engine loads; a bad upload is refused
with a message and the app stays usable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mnist_core.checkpoints import load_checkpoint
from mnist_core.models import list_models

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def _uploader(st):
    return st.main.get_by_test_id("stFileUploader").filter(has_text="Checkpoint file")


def test_download_gives_a_checkpoint_the_engine_loads(st, tmp_path: Path) -> None:
    st.open("models")
    chosen = st.selected("Choose a model to download or delete")
    download_button = st.main.get_by_test_id("stDownloadButton").filter(has_text="Download .pt")
    with st.page.expect_download() as info:
        download_button.click()
    download = info.value
    assert download.suggested_filename.endswith(".pt"), download.suggested_filename
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    ckpt = load_checkpoint(path)
    assert ckpt.model in list_models()
    assert ckpt.name and ckpt.name in chosen, (ckpt.name, chosen)
    model = ckpt.build_model()
    assert sum(p.numel() for p in model.parameters()) == ckpt.n_params
    st.shot("downloaded")

    # The same file uploaded back becomes the visitor's own model.
    st.upload(_uploader(st), str(path))
    expect(st.main.get_by_test_id("stAlertContentSuccess")).to_contain_text("Added")
    st.wait_idle()
    options = st.options_of("Choose a model to download or delete")
    assert any("yours" in o for o in options), options
    st.assert_no_errors()


JUNK_FILES = {
    # a text file named .pt (the weights-only unpickler chokes on it)
    "notes.pt": b"these bytes are not a torch checkpoint\n" * 10,
    # a damaged download: the first kilobyte of a real checkpoint
    "truncated.pt": (REPO / "mnist_core" / "pretrained" / "lenet5.pt").read_bytes()[:1024],
}


def test_uploading_a_file_that_is_not_a_checkpoint_shows_an_error(st) -> None:
    st.open("models")
    before = st.options_of("Choose a model to download or delete")
    for name, data in JUNK_FILES.items():
        # Waits for the rerun with this file: the previous file's error must not answer for it.
        st.upload(
            _uploader(st), [{"name": name, "mimeType": "application/octet-stream", "buffer": data}]
        )
        expect(_uploader(st)).to_contain_text(name)
        st.wait_idle(settle_ms=500)
        error = st.main.get_by_test_id("stAlertContentError")
        expect(error).to_contain_text(re.compile("refused|not a readable checkpoint", re.I))
        st.wait_idle()
        st.shot(f"refused-{name}")
        st.assert_no_errors()  # a message about the file, not "something went wrong"
        assert st.options_of("Choose a model to download or delete") == before  # nothing stored

    # Still usable: another page works in the same session, and so does this one.
    st.nav("Draw")
    st.draw_digit("1")
    expect(st.metric("Prediction")).to_have_text("1", timeout=30_000)
    st.assert_no_errors()
    st.nav("Models")
    expect(st.main.get_by_test_id("stDownloadButton")).to_have_count(1)
    st.assert_no_errors()
