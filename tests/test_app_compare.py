"""The Compare page in the running app (AppTest, the real engine and MNIST): real tiny runs, a
sweep of two learning rates and a run of its own, trained once through the job manager, are
listed with the pretrained models; selecting rows overlays their curves, the sweep gets its
parallel-coordinates chart, and a run's settings open Train again.

Row selection: AppTest has no click for a dataframe, so the tests set the selection through
the table's key in session state, which Streamlit documents for programmatic selections
(`st.session_state[key] = {"selection": {"rows": [...]}}`), then rerun.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.data.mnist import MnistRaw
from mnist_core.jobs import JobManager
from mnist_core.storage.store import ModelStore
from mnist_core.train.config import TrainConfig
from mnist_core.train.sweep import SweepParam, SweepSpec
from tests.older import write_older_checkpoint
from tests.test_app import (  # noqa: F401  (fixtures)
    app_env,
    assert_clean,
    new_app,
    plotly_spec,
    pretrained_dir,
    texts,
)

OWNER = "compare-tester"  # the visitor of every test here (set before the app's first run)
SWEEP = "lr sweep"
SOLO = "solo"
PAGE = "pages/compare.py"


@pytest.fixture(scope="module")
def trained_runs(
    tmp_path_factory: pytest.TempPathFactory,
    mnist_raw: MnistRaw,
    pretrained_dir: Path,  # noqa: F811
) -> Path:
    """The folder of OWNER's checkpoints: a 2-run sweep of the learning rate and one run of
    its own with a larger batch, each 2 epochs of 500 images, saved with their curves."""
    runs = tmp_path_factory.mktemp("compare-runs")
    store = ModelStore(pretrained_dir=pretrained_dir, runs_dir=runs)
    manager = JobManager(max_running=1, data=lambda: mnist_raw, store=store)
    try:
        base = TrainConfig.for_model(
            "mlp", device="cpu", epochs=2, train_subset=500, val_size=100, batch_size=50
        )
        spec = SweepSpec(base=base, params=(SweepParam.grid("lr", "1e-3, 1e-2"),))
        manager.submit_sweep(spec, OWNER, SWEEP)
        manager.submit(base.replace(batch_size=100, log_every=1), OWNER, name=SOLO)
        for job in manager.jobs(OWNER):
            assert manager.wait(job.job_id, timeout=120), job.name
        for job in manager.jobs(OWNER):
            snap = manager.snapshot(job.job_id)
            assert snap.status == "finished" and snap.checkpoint_id, snap.message
    finally:
        manager.shutdown()
    return runs / OWNER


def _app(app_env: Path, runs: Path | None) -> AppTest:  # noqa: F811
    """The app on the Compare page, for OWNER, with `runs` as OWNER's saved models."""
    if runs is not None:
        # copy2 keeps the files' times: the store lists a visitor's runs newest first.
        shutil.copytree(runs, app_env / "runs" / OWNER, copy_function=shutil.copy2)
    at = new_app()
    at.session_state["owner"] = OWNER
    at.run()
    at.switch_page(PAGE).run()
    assert_clean(at)
    return at


def _frame(at):
    [table] = [d for d in at.dataframe if "compare_table" in d.proto.id]
    return table.value


def _select(at, names: list[str]) -> None:
    """Select the table's rows of `names`, as a click on their boxes would."""
    listed = list(_frame(at)["Name"])
    at.session_state["compare_table"] = {"selection": {"rows": [listed.index(n) for n in names]}}
    at.run()
    assert_clean(at)


def _trace_names(at, key: str) -> list[str]:
    return [t.get("name") for t in plotly_spec(at, key)["data"]]


def test_runs_are_compared_by_table_curves_and_sweep(
    app_env: Path,  # noqa: F811
    trained_runs: Path,
) -> None:
    at = _app(app_env, trained_runs)
    frame = _frame(at)
    names = list(frame["Name"])
    sweep_runs = [f"{SWEEP} · lr=0.01", f"{SWEEP} · lr=0.001"]  # newest first
    assert names[3:] == [SOLO, *sweep_runs]
    assert all("(pretrained)" in n for n in names[:3])
    # The settings that differ have columns; those equal everywhere have none.
    assert {"Learning rate (peak)", "Batch size", "Epochs"} <= set(frame.columns)
    assert "Loss function" not in frame.columns
    mine = frame.iloc[3:]
    assert list(mine["Learning rate (peak)"])[1:] == [0.01, 0.001]
    assert list(mine["Batch size"]) == [100, 50, 50]
    assert list(mine["Sweep"]) == ["", SWEEP, SWEEP]
    assert list(mine["Status"]) == ["finished"] * 3
    assert mine["Best epoch"].isin([1, 2]).all() and mine["Best validation"].notna().all()
    assert frame.iloc[:3]["Best epoch"].notna().all()  # the pretrained ones have curves too
    assert "Train two runs" not in texts(at.info)  # there are curves to compare

    # The sweep: a parallel-coordinates chart of the learning rate against test accuracy, drawn
    # only once its tab is open (issue 29: a WebGL chart costs the browser ~1 s).
    assert not [c for c in at.get("plotly_chart") if "compare_sweep_chart" in c.proto.id]
    at.session_state["compare_view"] = "Sweeps"
    at.run()
    assert_clean(at)
    sweep = plotly_spec(at, "compare_sweep_chart")["data"]
    assert [t["type"] for t in sweep] == ["parcoords"]
    labels = [d["label"] for d in sweep[0]["dimensions"]]
    assert labels == ["Learning rate (peak), log10 scale", "test accuracy (%)"]
    best = max(sweep_runs, key=lambda n: float(frame.set_index("Name").loc[n, "Test accuracy"]))
    assert f"Best: {best}, lr=" in texts(at.caption)

    # Two rows selected: both runs on both charts, named.
    at.session_state["compare_view"] = "Curves"
    _select(at, sweep_runs)
    assert _trace_names(at, "compare_loss_chart") == sweep_runs
    accuracy = _trace_names(at, "compare_accuracy_chart")
    assert set(sweep_runs) <= set(accuracy)
    by_epoch = plotly_spec(at, "compare_loss_chart")["data"][0]["x"]
    at.segmented_control(key="compare_x_axis").set_value("training seconds").run()
    assert_clean(at)
    spec = plotly_spec(at, "compare_loss_chart")
    assert spec["layout"]["xaxis"]["title"]["text"].startswith("training seconds")
    assert spec["data"][0]["x"] != by_epoch
    at.segmented_control(key="compare_x_axis").set_value("images seen").run()
    images = plotly_spec(at, "compare_loss_chart")["data"][0]["x"]
    assert max(images) == pytest.approx(2 * 500)  # 2 epochs of 500 images

    # A new run listed first among OWNER's keeps the selection on the same runs.
    newest = app_env / "runs" / OWNER / "zz-newest.pt"
    shutil.copy(trained_runs / f"{SOLO}.pt", newest)
    at.run()
    assert_clean(at)
    assert list(_frame(at)["Name"])[3] == f"{SOLO}"  # the copy keeps its name inside
    assert _trace_names(at, "compare_loss_chart") == sweep_runs
    newest.unlink()
    at.run()


def test_a_model_without_curves_says_so_and_a_run_opens_train_again(
    app_env: Path,  # noqa: F811
    trained_runs: Path,
) -> None:
    at = _app(app_env, trained_runs)
    # A run saved by an older version of the app, before checkpoints held their curves.
    pretrained = "old run"
    write_older_checkpoint(
        trained_runs / f"{SOLO}.pt", app_env / "runs" / OWNER / "old.pt", pretrained
    )
    at.run()
    _select(at, [pretrained, SOLO])
    assert f"No saved curves for **{pretrained}**" in texts(at.caption)
    assert _trace_names(at, "compare_loss_chart") == [SOLO]  # the one with curves
    # The older run: no history to download.
    download = at.get("download_button")
    [history] = [d for d in download if "compare_history_download" in d.proto.id]
    assert history.proto.disabled
    assert f"No curves saved for {pretrained}" in texts(at.caption)

    # The run of its own: its history can be downloaded, and it trains again from Train.
    from ui.resources import get_store

    [solo] = [m for m in get_store().list(OWNER) if m.name == SOLO]
    at.selectbox(key="compare_run").set_value(solo.id).run()
    assert_clean(at)
    [history] = [d for d in at.get("download_button") if "compare_history_download" in d.proto.id]
    assert not history.proto.disabled
    config = get_store().load(solo.id).config
    at.button(key="compare_train_again").click().run()
    assert_clean(at)
    assert [t.value for t in at.title] == ["Train a model"]
    ss = at.session_state
    assert ss["train_model"] == "mlp"
    assert ss["train_cfg_batch_size"] == config["batch_size"] == 100
    assert ss["train_cfg_epochs"] == 2 and ss["train_cfg_train_subset"] == 500
    assert ss["train_cfg_lr"] == pytest.approx(config["lr"])
    assert ss["train_qp_notes"] == []


def test_with_only_the_pretrained_models_it_says_how_to_get_runs(
    app_env: Path,  # noqa: F811
) -> None:
    at = _app(app_env, None)
    assert "Train two runs (or a sweep on Train) and they appear here" in texts(at.info)
    [link] = at.get("page_link")
    assert link.proto.page == "train" and link.proto.label == "Train a model"
    assert len(_frame(at)) == 3  # the pretrained models are still listed
    assert [t.value for t in at.title] == ["Compare"]
    assert "Device:" in texts(at.sidebar.markdown)  # the shared sidebar, as on every page
    assert not [c for c in at.get("plotly_chart") if "compare_" in c.proto.id]
    first = _frame(at)["Name"][0]
    _select(at, [first])
    assert _trace_names(at, "compare_loss_chart") == [first]  # their curves, as shipped
