"""Scenario 6: Models: the download is a checkpoint the engine loads; a bad upload is refused
with a message and the app stays usable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from playwright.sync_api import expect

from mnist_core.models import list_models
from mnist_core.storage.checkpoints import load_checkpoint
from mnist_core.storage.export import check_onnx
from mnist_core.storage.owners import owner_key, owner_of
from ui.visitor import VISITOR_COOKIE, is_visitor_id

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

    # The same model as ONNX (made when the button is clicked) runs in onnxruntime and gives
    # torch's probabilities.
    onnx_button = st.main.get_by_test_id("stDownloadButton").filter(has_text="Download ONNX")
    with st.page.expect_download() as info:
        onnx_button.click()
    onnx_file = tmp_path / info.value.suggested_filename
    assert onnx_file.suffix == ".onnx", onnx_file
    info.value.save_as(onnx_file)
    images = torch.rand(5, 1, 28, 28)
    check = check_onnx(onnx_file.read_bytes(), ckpt, images)
    assert check.ok, check

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
    "truncated.pt": (REPO / "checkpoints" / "lenet5.pt").read_bytes()[:1024],
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
    expect(st.main.get_by_test_id("stDownloadButton")).to_have_count(2)  # .pt and ONNX
    st.assert_no_errors()


def _my_model_options(st) -> list[str]:
    return [o for o in st.options_of("Choose a model to download or delete") if "yours" in o]


def test_your_models_survive_a_reload_and_a_second_tab_but_not_another_browser(
    new_st, streamlit_server
) -> None:
    """Issue 11 item 1: a reload or a new tab lost every run. The visitor id is a cookie the
    server sets on the first page load; the Streamlit session that page opens already uses it."""
    st = new_st("first")
    st.open("models")
    [cookie] = [c for c in st.page.context.cookies() if c["name"] == VISITOR_COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax", cookie
    assert is_visitor_id(cookie["value"])
    assert cookie["value"] not in st.page.url
    expect(st.main).to_contain_text("kept on the server until you delete them")

    st.enter(st.main.get_by_label("Name (optional)"), "survivor")
    st.upload(_uploader(st), str(REPO / "checkpoints" / "mlp.pt"))
    expect(st.main.get_by_test_id("stAlertContentSuccess")).to_contain_text("Added survivor")
    # Stored under the keyed hash of the cookie (never the cookie itself): the session of the
    # very first page load used the cookie.
    runs = streamlit_server.runs_dir
    owner = owner_of(cookie["value"], owner_key(runs))
    assert (runs / owner / "survivor.pt").is_file()
    assert not (runs / cookie["value"]).exists()
    assert any(o.startswith("survivor ·") for o in _my_model_options(st))

    st.page.reload()  # F5: a new Streamlit session
    st.page.get_by_test_id("stApp").wait_for()
    st.wait_idle(timeout=60_000)
    expect(st.main.get_by_test_id("stDataFrame")).to_be_visible()
    assert any(o.startswith("survivor ·") for o in _my_model_options(st)), "lost on reload"
    st.shot("after-reload")

    tab = st.new_tab("second-tab")
    tab.open("models")
    assert any(o.startswith("survivor ·") for o in _my_model_options(tab)), "not in a new tab"
    tab.assert_no_errors()

    other = new_st("other-browser")
    other.open("models")
    [theirs] = [c for c in other.page.context.cookies() if c["name"] == VISITOR_COOKIE]
    assert theirs["value"] != cookie["value"]
    assert not _my_model_options(other), "another browser sees this visitor's models"
    other.assert_no_errors()
    st.assert_no_errors()
