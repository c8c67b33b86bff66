"""The Train page's Sweep mode in the running app (AppTest, the real engine and MNIST): a
4-run sweep of the Quick look preset (1,000 images, 3 epochs each) is set up, refused while a
value is bad, started, followed to its end, and its runs are saved as models of a sweep."""

from __future__ import annotations

import pytest

from tests.test_app import (  # noqa: F401  (fixtures)
    app_env,
    assert_clean,
    metric_value,
    new_app,
    pretrained_dir,
    stop_jobs,
    texts,
    wait_for,
)


def _sweep(at):
    from ui.resources import get_manager

    return get_manager().sweep(at.session_state["train_sweep_id"])


@pytest.mark.usefixtures("app_env", "stop_jobs")
def test_a_sweep_runs_to_its_end_with_progress_and_a_best_run() -> None:
    at = new_app().run()
    at.selectbox(key="train_model").set_value("mlp").run()
    at.button(key="train_preset_quick_look").click().run()
    at.segmented_control(key="train_mode").set_value("Sweep").run()
    assert_clean(at)
    # A new visitor's rows: learning rate x batch size, 3 x 2 runs.
    assert at.button(key="train_sweep_start").label == "Start sweep (6 runs)"
    assert "Estimated time:" in texts(at.caption)  # measuring, or the runs' total

    # A bad value is refused, naming it, and Start is disabled.
    at.text_input(key="train_sweep_values_0").set_value("1e-3, 50").run()
    assert "Learning rate (peak) 50 is refused: it must be between" in texts(at.error)
    assert at.button(key="train_sweep_start").disabled
    # More than 64 runs is refused too.
    at.text_input(key="train_sweep_values_0").set_value(
        ", ".join(f"{i}e-4" for i in range(1, 34))
    ).run()
    assert "at most 64 are allowed" in texts(at.error)

    at.text_input(key="train_sweep_values_0").set_value("1e-3, 3e-3").run()
    at.text_input(key="train_sweep_values_1").set_value("32, 64").run()
    assert at.button(key="train_sweep_start").label == "Start sweep (4 runs)"
    at.text_input(key="train_sweep_name").set_value("lr vs batch").run()
    at.button(key="train_sweep_start").click().run()
    assert_clean(at)
    assert at.button(key="train_sweep_start").disabled  # one sweep at a time

    wait_for(lambda: _sweep(at).finished, at, timeout=240, what="the sweep to finish")
    at.run()
    assert_clean(at)
    snap = _sweep(at)
    assert snap.name == "lr vs batch" and len(snap.runs) == 4
    assert [r.status for r in snap.runs] == ["finished"] * 4, [r.message for r in snap.runs]
    assert metric_value(at, "Finished") == "4" and metric_value(at, "Stopped") == "0"
    best = max(snap.runs, key=lambda r: r.test_accuracy)
    assert f"Best: **{best.label}**" in texts(at.caption)
    assert snap.status == "finished"
    [frame] = [d.value for d in at.dataframe if "Run" in d.value.columns]
    assert list(frame["Run"]) == [r.label for r in snap.runs]
    assert list(frame["Best"]).count("★") == 1
    assert not at.button(key="train_sweep_start").disabled  # another sweep may start now

    # Every run was saved as a model of this sweep, with its curves.
    from ui.resources import get_store

    store = get_store()
    for r in snap.runs:
        ckpt = store.load(r.checkpoint_id)
        assert ckpt.metrics["sweep"] == "lr vs batch"
        assert ckpt.metrics["sweep_params"] == ["lr", "batch_size"]
        assert ckpt.run_history is not None and ckpt.run_history.epochs["epoch"] == [1, 2, 3]


@pytest.mark.usefixtures("app_env", "stop_jobs")
def test_stop_sweep_stops_every_run_left() -> None:
    at = new_app().run()
    at.selectbox(key="train_model").set_value("mlp").run()
    at.button(key="train_preset_quick_look").click().run()
    at.number_input(key="train_cfg_epochs").set_value(50).run()  # lasts past the click
    at.segmented_control(key="train_mode").set_value("Sweep").run()
    at.button(key="train_sweep_start").click().run()
    wait_for(lambda: _sweep(at).running == 1, at, timeout=120, what="the first run to start")
    at.button(key="train_sweep_stop").click().run()
    wait_for(lambda: _sweep(at).finished, at, timeout=120, what="the sweep to stop")
    at.run()
    assert_clean(at)
    runs = _sweep(at).runs
    assert [r.status for r in runs] == ["stopped"] * 6, [r.status for r in runs]
    assert {r.message for r in runs} == {"Stopped with its sweep."}
    [frame] = [d.value for d in at.dataframe if "Run" in d.value.columns]
    assert list(frame["Status"]) == ["Stopped"] * 6
    # Issue 27, item 4: it said "Finished", "6 of 6 runs done", "Done 6", and None for runs
    # that never trained.
    assert _sweep(at).status == "stopped"
    assert any("Stopped" in h.value and "Finished" not in h.value for h in at.subheader)
    bar = [p.proto.text for p in at.get("progress")]
    assert bar == ["0 of 6 runs finished, 6 stopped"], bar
    assert metric_value(at, "Finished") == "0" and metric_value(at, "Stopped") == "6"
    assert "Done" not in [m.label for m in at.metric]
    assert "None" not in [str(v) for v in frame["Test accuracy"]]
    assert "Best so far" not in texts(at.caption)
