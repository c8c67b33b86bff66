"""The Models and Mistakes pages as a new user met them (issue 11, items 5, 6, 10, 13, 21), in
AppTest with the real engine: real checkpoints, a real training job, real MNIST."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mnist_core.train.config import TrainConfig
from tests.test_app import (  # the app's fixtures and helpers
    app_env,  # noqa: F401
    assert_clean,
    click_cell,
    new_app,
    plotly_array,
    pretrained_dir,  # noqa: F401
    stop_jobs,  # noqa: F401
    texts,
)


def _upload(at, name: str, data: bytes) -> None:
    """Give the Models page's checkpoint uploader a file (its key changes after an import)."""
    [box] = [u for u in at.get("file_uploader") if u.key.startswith("models_upload")]
    box.set_value((name, data, "application/octet-stream"))
    at.run()


def _table(at):
    [frame] = at.dataframe
    return frame


def test_identical_uploads_are_told_apart_and_the_table_is_newest_first(
    app_env: Path,  # noqa: F811
    pretrained_dir: Path,  # noqa: F811
) -> None:
    """Items 5 and 13: unique names, times to the second, sorted by Created, honest bars."""
    at = new_app().run()
    at.switch_page("pages/models.py").run()
    data = (pretrained_dir / "lenet5.pt").read_bytes()
    _upload(at, "lenet5.pt", data)
    assert_clean(at)
    _upload(at, "lenet5.pt", data)
    assert_clean(at)
    frame = _table(at)
    rows = frame.value
    names = list(rows["Name"])
    assert len(names) == len(set(names)), names
    pretrained_name = next(n for n, k in zip(names, rows["Kind"], strict=True) if k == "Pretrained"
                           and "LeNet" in n)  # fmt: skip
    mine = [n for n, k in zip(names, rows["Kind"], strict=True) if k == "Yours"]
    # The same file twice: the later upload first (same Created time, added later).
    assert mine == [f"{pretrained_name} (3)", f"{pretrained_name} (2)"]
    created = list(rows["Created"])
    assert all(len(c) == len("2026-11-23 10:31:07 UTC") for c in created), created
    assert created == sorted(created, reverse=True)  # newest first (ISO order is time order)
    assert "newest first" in texts(at.caption)


def test_accuracy_bars_run_from_0_to_100_percent(app_env: Path) -> None:  # noqa: F811
    """Item 13: the bars started at 90 %, so an 84 % model showed an empty bar."""
    at = new_app().run()
    at.switch_page("pages/models.py").run()
    accuracy = json.loads(_table(at).proto.columns)["Test accuracy"]
    assert accuracy["type_config"]["min_value"] == 0 and accuracy["type_config"]["max_value"] == 100


def test_a_message_lasts_only_as_long_as_the_action_that_made_it(
    app_env: Path,  # noqa: F811
    pretrained_dir: Path,  # noqa: F811
) -> None:
    """Item 6: after "Deleted X." the upload box no longer says "Added X ..."."""
    at = new_app().run()
    at.switch_page("pages/models.py").run()
    at.text_input(key="models_upload_name").set_value("keeper").run()
    _upload(at, "mlp.pt", (pretrained_dir / "mlp.pt").read_bytes())
    assert "Added **keeper**" in texts(at.success)
    keeper_id = _model_id(at, "keeper")
    at.selectbox(key="models_choice").set_value(keeper_id).run()
    at.button(key="models_delete").click().run()
    assert_clean(at)
    shown = texts(at.success)
    assert "Deleted **keeper**" in shown and "Added" not in shown
    at.run()  # any later run: the message has had its turn
    assert "Deleted" not in texts(at.success)
    # The import emptied the box and the name, ready for the next file.
    assert at.file_uploader(key="models_upload_1").value is None
    assert at.text_input(key="models_upload_name").value == ""
    # A refusal stays beside the file it is about, until that file goes.
    _upload(at, "junk.pt", b"not a checkpoint")
    assert "Upload refused" in texts(at.error)
    at.run()
    assert "Upload refused" in texts(at.error)


def _model_id(at, name: str) -> str:
    """The checkpoint id of the visitor's model called `name`."""
    from ui.resources import get_store

    return next(m.id for m in get_store().list(at.session_state["owner"]) if m.name == name)


def _click_cell(at, true: int, pred: int) -> None:
    """Send a click on a confusion cell, as the browser does."""
    chart = next(c for c in at.get("plotly_chart") if "mistakes_confusion_" in c.proto.id)
    click_cell(at, chart, true, pred)


def test_the_mistakes_note_goes_with_the_next_action(app_env: Path) -> None:  # noqa: F811
    """Item 6: "The model never predicted 5 for a 0." stayed after a filter and a page change."""
    at = new_app().run()
    at.switch_page("pages/mistakes.py").run()
    chart = next(c for c in at.get("plotly_chart") if "mistakes_confusion_" in c.proto.id)
    cells = plotly_array(json.loads(chart.proto.spec)["data"][0]["customdata"]).tolist()
    true, pred, _ = next(c for c in cells if c[0] != c[1] and c[2] == 0)
    _click_cell(at, true, pred)
    assert_clean(at)
    assert f"The model never predicted {pred} for a {true}." in texts(at.info)
    at.selectbox(key="mistakes_pair").select_index(1).run()  # choose a filter
    assert_clean(at)
    assert "never predicted" not in texts(at.info)


def test_a_stopped_run_says_so_on_models_with_its_settings_in_words(
    app_env: Path,  # noqa: F811
    stop_jobs: None,  # noqa: F811
) -> None:
    """Items 10 and 21: a run stopped after a learning-rate change is saved with its outcome
    and the change, its settings are a table in words, and no message shows a server path."""
    from ui.resources import get_manager

    at = new_app().run()
    owner = at.session_state["owner"]
    manager = get_manager()
    config = TrainConfig.for_model(
        "mlp", train_subset=20_000, val_size=100, epochs=3, batch_size=64, log_every=1
    )
    job = manager.submit(config, owner, name="interrupted")
    deadline = time.monotonic() + 120
    while manager.snapshot(job).step < 3:
        assert time.monotonic() < deadline, manager.snapshot(job).message
        time.sleep(0.05)
    manager.set_lr(job, config.lr / 10)
    manager.stop(job)
    assert manager.wait(job, timeout=120)
    stopped = manager.snapshot(job)
    assert stopped.status == "stopped"

    at.switch_page("pages/models.py").run()
    assert_clean(at)
    assert "is not saved" in texts(at.markdown)
    at.button(key=f"models_save_job_{job}").click().run()
    assert_clean(at)
    assert "Saved **interrupted**." in texts(at.success)
    page = "\n".join(texts(getattr(at, kind)) for kind in ("markdown", "success", "caption"))
    assert "runs/" not in page and owner not in page

    saved = manager.snapshot(job).checkpoint_id
    at.selectbox(key="models_choice").set_value(saved).run()
    assert_clean(at)
    details = texts(at.markdown)
    trained = stopped.step / config.steps_per_epoch
    assert f"Stopped at epoch {trained:.2f}".rstrip("0").rstrip(".") in details
    assert f"of 3 (step {stopped.step:,} of {stopped.total_steps:,})." in details
    assert f"Learning rate changed from {config.lr:g} to {config.lr / 10:g} after step" in details
    assert not at.json  # no raw JSON any more
    [table] = at.table
    settings = dict(zip(table.value["Setting"], table.value["Value"], strict=True))
    assert settings["Architecture"] == "MLP" or "MLP" in settings["Architecture"]
    assert settings["Learning rate (peak)"].endswith(f"{config.lr / 10:g} at the end")
    assert settings["Epochs"].startswith("3 planned; stopped at")
    assert settings["Optimizer"] == "AdamW" and settings["Training images"] == "20,000"
    assert not any(v in ("None", "null", "NULL") for v in settings.values()), settings
    assert "Measure test accuracy every epoch" in settings


def test_models_says_how_long_runs_are_kept(app_env: Path) -> None:  # noqa: F811
    """Item 1: the page states the retention, from the job manager's own figures."""
    from ui.resources import get_manager

    at = new_app().run()
    at.switch_page("pages/models.py").run()
    note = texts(at.caption)
    manager = get_manager()
    assert "reload" in note and "another browser" in note
    assert "kept on the server until you delete them" in note
    minutes = manager.done_ttl_s / 60
    assert f"your last {manager.keep_finished}, for {minutes:g} minutes after" in note


def test_models_offers_onnx_beside_the_checkpoint_or_says_what_to_install(
    app_env: Path,  # noqa: F811
    monkeypatch,
) -> None:
    """Issue 14: a Download ONNX button beside Download .pt, a caption with the input format;
    without onnx/onnxruntime, their install line in its place (no button that would fail)."""
    import mnist_core.storage.export
    from mnist_core.errors import MnistError

    at = new_app().run()
    at.switch_page("pages/models.py").run()
    assert_clean(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download .pt", "Download ONNX"]
    assert "float32 [N, 1, 28, 28] in [0, 1]" in texts(at.caption)

    def missing() -> None:
        raise MnistError("ONNX export needs the onnx and onnxruntime packages: pip install x")

    monkeypatch.setattr(mnist_core.storage.export, "require_onnx", missing)
    at.run()
    assert [b.proto.label for b in at.get("download_button")] == ["Download .pt"]
    assert "pip install" in texts(at.error)
