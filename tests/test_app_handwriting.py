"""My handwriting on the Draw page (AppTest, the real engine and MNIST; only the canvas is
replaced at its edge): label drawings in one click, see the set and every model's accuracy on
it, move it as a zip (a bad zip changes nothing), fine-tune a model on it in the background
and see the new model, saved, on the page."""

# ruff: noqa: F811  (pytest fixtures imported from tests.test_app)

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mnist_core.data.mnist import MnistRaw
from mnist_core.digits.handwriting import HandwritingSet, read_zip, to_zip
from tests.test_app import (  # noqa: F401  (fixtures)
    app_env,
    assert_clean,
    canvas,
    canvas_image,
    metric_value,
    new_app,
    pretrained_dir,
    stop_jobs,
    texts,
    wait_done,
)


def _set(at) -> HandwritingSet:
    return at.session_state["hw_set"]


@pytest.mark.usefixtures("app_env")
def test_label_five_drawings_and_see_the_set_and_every_models_accuracy(
    canvas: dict[str, Any], mnist_raw: MnistRaw
) -> None:
    at = new_app().run()
    at.switch_page("pages/draw.py").run()
    assert_clean(at)
    assert "Your set is empty" in texts(at.caption)
    labels = []
    for index in range(5):  # test digits 7, 2, 1, 0, 4
        label = int(mnist_raw.test_labels[index])
        canvas["image"] = canvas_image(mnist_raw.test_images[index].numpy())
        at.run()
        assert_clean(at)
        key_before = canvas["calls"][-1]["key"]
        if index % 2 == 0:  # "the prediction is right" is one click...
            assert at.button(key="hw_right").label == f"Yes, a {label}"
            at.button(key="hw_right").click().run()
        else:  # ...and so is "no, it is ..."
            picker = next(p for p in at.pills if p.key and p.key.startswith("hw_pick_"))
            picker.set_value(str(label)).run()
        labels.append(label)
        assert_clean(at)
        assert f"Your set has {index + 1} of the 30 it takes" in texts(at.success)
        canvas["image"] = None  # the canvas is cleared for the next digit
        at.run()
        assert canvas["calls"][-1]["key"] != key_before

    s = _set(at)
    assert s.labels.tolist() == labels
    assert s.images.shape == (5, 28, 28) and s.images.dtype == np.uint8
    md = texts(at.markdown)
    assert "5 digits:" in md and "**7**: 1" in md and "**3**: 0" in md
    # Every model scored on the set, per digit; the shipped models read these test digits.
    table = at.dataframe[0].value
    assert len(table) == 3 and set(table.columns) >= {"Model", "All", "0", "9"}
    assert (table["All"] == "100.0%").all(), table
    assert (table["3"] == "–").all()  # no 3 labelled
    assert "reads all 5 of your digits right" in texts(at.success)
    # Fine-tuning is refused with the reason: too few digits.
    assert at.button(key="hw_finetune").disabled
    assert "at least 30 labelled digits; your set has 5" in texts(at.caption)

    # Delete one.
    first = s.digits[-1]  # the newest is shown first
    at.button(key=f"hw_del_{first.id}").click().run()
    assert len(_set(at)) == 4 and first.id not in {d.id for d in _set(at).digits}

    # The set as a zip, and back.
    data = to_zip(_set(at))
    back = read_zip(data)
    assert back.labels.tolist() == _set(at).labels.tolist()
    assert (back.images == _set(at).images).all()


@pytest.mark.usefixtures("app_env")
def test_a_bad_zip_gets_a_message_and_changes_nothing(
    canvas: dict[str, Any], mnist_raw: MnistRaw
) -> None:
    at = new_app().run()
    at.switch_page("pages/draw.py").run()
    s = HandwritingSet.from_arrays(mnist_raw.test_images[:3].numpy(), [7, 2, 1])
    at.session_state["hw_set"] = s
    at.run()
    uploader = at.file_uploader(key="hw_upload_0")
    uploader.upload("mine.zip", b"PK\x03\x04 not really a zip", "application/zip").run()
    assert_clean(at)
    assert "is not a readable zip file" in texts(at.error)
    assert "Your set is unchanged" in texts(at.error)
    assert _set(at) is s


@pytest.mark.usefixtures("app_env", "stop_jobs")
def test_upload_a_set_fine_tune_and_see_the_new_model(
    canvas: dict[str, Any], mnist_raw: MnistRaw
) -> None:
    # 40 digits of "a style": MNIST test digits turned upside down, 4 of each class.
    labels = mnist_raw.test_labels.numpy()
    idx = np.concatenate([np.flatnonzero(labels == d)[:4] for d in range(10)])
    flipped = mnist_raw.test_images[idx].numpy()[:, ::-1, ::-1].copy()
    data = to_zip(HandwritingSet.from_arrays(flipped, labels[idx].tolist()))

    at = new_app().run()
    at.switch_page("pages/draw.py").run()
    at.file_uploader(key="hw_upload_0").upload("mine.zip", data, "application/zip").run()
    assert_clean(at)
    assert "mine.zip: 40 digits." in texts(at.info)
    at.button(key="hw_upload_replace").click().run()
    assert len(_set(at)) == 40
    assert "Replaced your set with 40 digits" in texts(at.success)

    at.select_slider(key="hw_steps").set_value(100).run()
    at.button(key="hw_finetune").click().run()
    assert_clean(at)
    job_id = at.session_state["hw_job"]
    assert job_id is not None

    from ui.resources import get_manager

    manager = get_manager()
    wait_done(at, 240, "the fine-tune to end", job_id)
    at.run()
    assert_clean(at)
    snap = manager.snapshot(job_id)
    assert snap.status == "finished", snap.message
    assert snap.name.endswith("(my handwriting)")
    before = snap.tags["personal_accuracy_before"]
    after = snap.tags["personal_accuracy_after"]
    assert snap.tags["personal_held_out"] == 10  # one of each digit held back
    assert after > before, (before, after)
    held = [m for m in at.metric if m.label.startswith("Held-back digits of yours")]
    assert held and held[0].value == f"{100 * after:.1f}%"
    assert metric_value(at, "MNIST test set (10,000)").endswith("%")
    assert f"Saved as **{snap.name}**" in texts(at.success)
    # The new model is on every page: here it is a choice of the Draw page's model box.
    options = at.selectbox(key="draw_model").options
    assert any(snap.name in o for o in options), options
