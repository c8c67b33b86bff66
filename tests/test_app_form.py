"""Issue 11 in the running app (AppTest): the Train sidebar's help, hidden settings, errors,
devices and model description; the Draw page's input toggle."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.test_app import (  # noqa: F401  (fixtures)
    app_env,
    assert_clean,
    canvas,
    manager_snapshot,
    new_app,
    pretrained_dir,
    stop_jobs,
    texts,
    wait_for,
)


def _help_of(at: Any, key: str) -> str:
    for kind in ("number_input", "selectbox", "toggle", "text_input", "slider"):
        for widget in at.get(kind):
            if getattr(widget, "key", None) == key:
                return str(widget.help or "")
    raise AssertionError(f"no widget {key!r}")


@pytest.mark.usefixtures("app_env")
def test_momentum_shows_under_sgd_only() -> None:
    at = new_app().run()
    assert at.session_state["train_cfg_optimizer"] == "adamw"
    widget_keys = {w.key for w in at.number_input}
    assert "train_cfg_momentum" not in widget_keys  # AdamW has no momentum setting
    assert "train_cfg_lr" in widget_keys
    at.selectbox(key="train_cfg_optimizer").set_value("adam").run()
    assert "train_cfg_momentum" not in {w.key for w in at.number_input}
    at.selectbox(key="train_cfg_optimizer").set_value("sgd").run()
    assert_clean(at)
    assert "train_cfg_momentum" in {w.key for w in at.number_input}
    assert "SGD only" in _help_of(at, "train_cfg_momentum")
    at.selectbox(key="train_cfg_loss").set_value("mse").run()
    assert "train_cfg_label_smoothing" not in {w.key for w in at.number_input}
    assert not at.button(key="train_start").disabled


@pytest.mark.usefixtures("app_env")
def test_help_in_the_sidebar_teaches() -> None:
    at = new_app().run()
    schedule = _help_of(at, "train_cfg_schedule")
    assert schedule != "Learning-rate schedule." and "Typical" in schedule
    smoothing = _help_of(at, "train_cfg_label_smoothing")
    assert smoothing != "Cross-entropy label smoothing." and "Too high" in smoothing


@pytest.mark.usefixtures("app_env")
def test_an_impossible_setup_is_explained_in_the_sidebars_words() -> None:
    at = new_app().run()
    at.number_input(key="train_cfg_train_subset").set_value(100).run()
    at.number_input(key="train_cfg_batch_size").set_value(256).run()
    assert_clean(at)
    error = texts(at.error)
    assert "Batch size 256 is larger than the training set (100 images)" in error, error
    assert "raise Training images" in error
    assert "batch_size" not in error and "train_subset" not in error
    assert at.button(key="train_start").disabled


@pytest.mark.usefixtures("app_env")
def test_a_cpu_only_server_offers_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    at = new_app()
    at.query_params = {"device": "cuda"}
    at.run()
    assert_clean(at)
    assert at.selectbox(key="train_cfg_device").options == [
        "Automatic (best available)",
        "CPU",
    ]
    assert at.session_state["train_cfg_device"] == "auto"
    assert "Device: 'cuda' in the link is not available on this server" in texts(at.warning)


@pytest.mark.usefixtures("app_env")
def test_the_model_description_follows_its_options() -> None:
    at = new_app().run()
    at.selectbox(key="train_model").select("mlp").run()
    assert "784-256-64-10 fully connected" in texts(at.sidebar.caption)
    at.text_input(key="train_opt_mlp_hidden").set_value("1024, 1024, 512").run()
    assert_clean(at)
    captions = texts(at.sidebar.caption)
    assert "784-1024-1024-512-10 fully connected" in captions, captions
    assert "784-256-64-10" not in captions


@pytest.mark.usefixtures("app_env", "canvas")
def _photo_uploaders(at) -> list:
    """The Draw input's photo uploader (My handwriting's zip uploader is always there)."""
    return [u for u in at.file_uploader if u.key == "draw_upload"]


def test_the_draw_upload_toggle_cannot_be_deselected() -> None:
    at = new_app().run()
    at.switch_page("pages/draw.py").run()
    assert not _photo_uploaders(at)
    toggle = at.segmented_control(key="draw_source")
    assert toggle.proto.required  # the browser ignores a click on the active segment
    toggle.set_value("Upload").run()
    assert len(_photo_uploaders(at)) == 1
    at.segmented_control(key="draw_source").set_value(None).run()  # a click on "Upload" again
    assert_clean(at)
    assert at.segmented_control(key="draw_source").value == "Upload"
    assert len(_photo_uploaders(at)) == 1  # still Upload, not silently the canvas
    at.segmented_control(key="draw_source").set_value("Draw").run()
    assert not _photo_uploaders(at)


@pytest.mark.usefixtures("app_env", "stop_jobs")
def test_a_time_estimate_before_start_and_in_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNIST_MAX_JOBS", "1")  # one slot: a second job queues
    first = new_app().run()
    # Before Start: how long the run will take, from the speed measured on this machine (in
    # the background: the page says so meanwhile, and shows the estimate when it is there).
    wait_for(
        lambda: "measured for LeNet-5" in texts(first.caption),
        first,
        120,
        "the estimate",
        rerun=True,
    )
    summary = texts(first.caption)
    assert "Estimated time: **about " in summary, summary
    assert "training images/s measured for LeNet-5" in summary
    first.button(key="train_start").click().run()  # LeNet-5's full recipe: minutes
    assert_clean(first)

    second = new_app().run()  # another visitor
    second.button(key="train_preset_quick_look").click().run()
    second.button(key="train_start").click().run()
    wait_for(lambda: manager_snapshot(second).status == "queued", second, 60, "a queued job")
    assert_clean(second)
    info = texts(second.info)
    assert "Waiting in the queue (position 1, about " in info, info
