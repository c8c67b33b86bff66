"""Issue 16 in the running app (AppTest): the Race to 99% preset trains the SpeedNet, the
accuracy chart marks the first test accuracy at 99% with its seconds, and the visitor's best
time stays beside the device name for the session. A real run on all 60,000 images (about
10 s of training and 10 s of test checks on 2 cores)."""

from __future__ import annotations

import pytest

from mnist_core.train.race import first_reach
from tests.test_app import (  # noqa: F401  (fixtures)
    app_env,
    assert_clean,
    manager_snapshot,
    new_app,
    plotly_spec,
    pretrained_dir,
    stop_jobs,
    texts,
    wait_done,
)


@pytest.mark.usefixtures("app_env", "stop_jobs")
@pytest.mark.slow
def test_race_to_99_preset_marks_the_moment_and_keeps_the_best_time() -> None:
    at = new_app().run()
    assert at.selectbox(key="train_model").value == "lenet5"  # the default
    at.button(key="train_preset_speedrun").click().run()
    assert_clean(at)
    # The preset chooses its own architecture and recipe, whatever was chosen before.
    assert at.selectbox(key="train_model").value == "speednet"
    assert at.number_input(key="train_cfg_epochs").value == 1
    assert at.number_input(key="train_cfg_eval_every").value == 24
    assert "Current settings: **Race to 99%**" in texts(at.sidebar.caption)
    assert "best to" not in texts(at.sidebar.markdown)  # no time before a run reached 99%

    at.button(key="train_start").click().run()
    wait_done(at, 300, "the race to end")
    snap = manager_snapshot(at)
    assert snap.status == "finished", snap.message
    assert snap.config.model == "speednet" and len(snap.checks) >= 15
    hit = first_reach(snap.epochs, snap.checks, 0.99)
    assert hit is not None, [c.test_accuracy for c in snap.checks]  # 99.1-99.3% at the end
    at.run()
    assert_clean(at)

    # The chart: the test line through every check, and a star at the first >= 99% with its
    # training seconds.
    spec = plotly_spec(at, "train_accuracy_chart")
    stars = [t for t in spec["data"] if t.get("marker", {}).get("symbol") == "star"]
    assert len(stars) == 1
    assert stars[0]["x"] == [pytest.approx(hit.epoch)]
    assert stars[0]["text"] == [f"99.0% after {hit.train_seconds:.1f} s of training"]
    test_line = [t for t in spec["data"] if t.get("name") == "test"]
    assert len(test_line[0]["x"]) == len(snap.checks) + 1  # the checks and the epoch's end

    # The best time, beside the device name, on every page for the rest of the session.
    best = f"your best to 99.0%: **{hit.train_seconds:.1f} s** of training"
    assert best in texts(at.sidebar.markdown)
    at.switch_page("pages/models.py").run()
    assert_clean(at)
    assert best in texts(at.sidebar.markdown)

    # Issue 27, item 3: a reload (a new session of the same visitor) keeps it.
    again = new_app()
    again.session_state["owner"] = at.session_state["owner"]  # what the cookie gives
    again.run()
    assert_clean(again)
    assert best in texts(again.sidebar.markdown)
