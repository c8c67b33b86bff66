"""Issue 28, item 3: the training timeline on Draw. With a model that keeps one, the "Training
step" slider's first step gives every digit 10 +- 5% and its last step exactly the saved
model's probabilities, as the same model shows them without a timeline.

The model: the Slow motion preset's (LeNet-5, plain SGD on batches of 32), trained here for
90 steps on real MNIST (a few seconds), saved twice to a pretrained folder of a server of its
own: once with its timeline, once as a plain copy without one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mnist_core.data.mnist import load_mnist
from mnist_core.storage.checkpoints import make_checkpoint, save_checkpoint
from mnist_core.storage.timelines import save_timeline, timeline_path
from mnist_core.train.config import TrainConfig
from mnist_core.train.loop import build_model, fit
from mnist_core.train.recipes import preset_model, preset_settings
from mnist_core.train.timeline import TimelineRecorder

pytestmark = pytest.mark.e2e

PREDICT_TIMEOUT_MS = 30_000
WITH, WITHOUT = "Slow motion (timeline)", "Slow motion (no timeline)"
PHONE = {"width": 390, "height": 844}

# The ten probabilities the Draw page's bar chart shows, in percent (the figure's own data).
_BARS_JS = """() => {
    const divs = document.querySelectorAll('.st-key-draw_probabilities .js-plotly-plot');
    if (!divs.length) return null;
    const d = divs[divs.length - 1];
    const y = (d._fullData && d._fullData[0] && d._fullData[0].y) || d.data[0].y;
    return Array.from(y);
}"""


@pytest.fixture(scope="module")
def timeline_models(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = {**preset_settings("slow motion"), "train_subset": 2_880, "val_size": 500}
    config = TrainConfig.for_model(preset_model("slow motion", "mlp"), **settings)
    recorder = TimelineRecorder(16_000_000)
    model = build_model(config)
    for _ in fit(config, load_mnist(mnist_dir), model=model, timeline=recorder, dynamics=False):
        pass
    timeline = recorder.timeline()
    assert timeline is not None and timeline.final_step == 90
    folder = tmp_path_factory.mktemp("timeline-models")
    for stem, name in (("slow", WITH), ("plain", WITHOUT)):
        save_checkpoint(make_checkpoint(model, config, name=name), folder / f"{stem}.pt")
    save_timeline(timeline, timeline_path(folder / "slow.pt"))
    return folder


def _bars(st) -> list[float]:
    return st.page.evaluate(_BARS_JS) or []


def _step_slider(st):
    """The timeline's slider (not Fine-tune's "Training steps")."""
    label = st.page.get_by_test_id("stWidgetLabel").filter(has_text=re.compile(r"^Training step$"))
    return st.main.get_by_test_id("stSlider").filter(has=label)


def _shown_step(st) -> int:
    return int(_step_slider(st).get_by_test_id("stSliderThumbValue").inner_text().replace(",", ""))


def test_the_training_step_slider_replays_the_prediction(
    start_server, new_st, timeline_models: Path
) -> None:
    server = start_server("timeline", MNIST_CHECKPOINTS_DIR=str(timeline_models))
    st = new_st("wide", server=server, viewport={"width": 1400, "height": 1000})
    st.open("draw")
    st.select_option("Model", re.compile(re.escape(WITHOUT)))
    expect(_step_slider(st)).to_have_count(0)  # no timeline: the page as it always was
    st.canvas.wait_for()
    st.draw_digit("7")
    expect(st.metric("Prediction")).not_to_have_text("–", timeout=PREDICT_TIMEOUT_MS)
    st.wait_idle()
    plain = _bars(st)
    assert len(plain) == 10 and abs(sum(plain) - 100) < 0.01, plain

    st.select_option("Model", re.compile(re.escape(WITH)))
    expect(_step_slider(st)).to_have_count(1)
    assert _shown_step(st) == 90  # it starts at the end: the saved model
    assert _bars(st) == plain  # exactly: the last snapshot is the saved weights

    thumb = _step_slider(st).get_by_role("slider")
    thumb.focus()
    st.after_rerun(lambda: thumb.press("Home"))
    assert _shown_step(st) == 0
    chance = _bars(st)
    assert len(chance) == 10 and all(5 < p < 15 for p in chance), chance
    expect(st.main).to_contain_text("every digit gets about 10%")
    st.shot("step-0")

    # Play moves the slider on by itself, a step a second; Pause stops it.
    st.after_rerun(st.button("Play", within=st.main).click)
    expect(_step_slider(st).get_by_test_id("stSliderThumbValue")).not_to_have_text(
        "0", timeout=10_000
    )
    st.after_rerun(st.button("Pause", within=st.main).click)
    assert 0 < _shown_step(st) <= 90
    st.shot("played")

    thumb.focus()
    st.after_rerun(lambda: thumb.press("End"))
    assert _shown_step(st) == 90
    assert _bars(st) == plain
    st.shot("last-step")
    st.assert_no_errors()

    phone = new_st("phone", server=server, viewport=PHONE)
    phone.open("draw")
    phone.select_option("Model", re.compile(re.escape(WITH)))
    expect(_step_slider(phone)).to_have_count(1)
    _step_slider(phone).scroll_into_view_if_needed()  # below the pad on a phone
    phone.shot("phone")
    phone.assert_no_errors()
