"""The Compare page's logic (`ui.compare.runs`, `table`, `curves`, `sweeps`) and figures
(`ui.compare.charts`), on hand-made runs: no Streamlit, no training."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest

from mnist_core.storage.history import RunHistory
from mnist_core.train.config import TrainConfig
from ui.compare import charts as compare_charts
from ui.compare import curves as compare_curves
from ui.compare import runs as compare_runs
from ui.compare import sweeps as compare_sweeps
from ui.compare import table as compare_table
from ui.compare.runs import Run
from ui.train_form.query import config_query_params, parse_query_params

N_TRAIN = 1000


def _history(
    val: list[float | None],
    test: list[float | None],
    *,
    seconds_per_epoch: float = 2.0,
    n_train: int = N_TRAIN,
    losses: list[float | None] | None = None,
) -> RunHistory:
    """Epochs 1..n with the given accuracies; four loss points per epoch."""
    n = len(val)
    points = 4 * n
    losses = losses if losses is not None else [2.0 / (1 + i) for i in range(points)]
    return RunHistory(
        steps={
            "step": [i + 1 for i in range(points)],
            "epoch": [(i + 1) / 4 for i in range(points)],
            "loss": losses,
            "lr": [1e-3] * points,
            "images_per_s": [500.0] * points,
            "train_seconds": [(i + 1) * seconds_per_epoch / 4 for i in range(points)],
        },
        epochs={
            "epoch": list(range(1, n + 1)),
            "step": [4 * (e + 1) for e in range(n)],
            "train_loss": [0.5] * n,
            "train_accuracy": [0.9] * n,
            "val_loss": [0.3] * n,
            "val_accuracy": val,
            "test_accuracy": test,
            "train_seconds": [(e + 1) * seconds_per_epoch for e in range(n)],
            "eval_seconds": [0.1] * n,
        },
        checks={"step": [], "epoch": [], "test_accuracy": [], "train_seconds": []},
        steps_per_epoch=4,
        n_train=n_train,
    )


def _run(
    name: str,
    *,
    model: str = "mlp",
    history: RunHistory | None = None,
    metrics: dict[str, Any] | None = None,
    read_only: bool = False,
    config: dict[str, Any] | None = None,
    **settings: Any,
) -> Run:
    if config is None:
        config = TrainConfig.for_model(model, device="cpu", **settings).to_dict()
    return Run(
        id=f"runs/me/{name.replace(' ', '-')}",
        name=name,
        model=model,
        architecture=model.upper(),
        read_only=read_only,
        config=config,
        metrics={"test_accuracy": 0.97, "status": "finished", **(metrics or {})},
        n_params=1234,
        history=history,
    )


# ---- the table -------------------------------------------------------------------------------


def test_only_the_settings_that_differ_get_a_column() -> None:
    runs = [
        _run("a", lr=1e-3, batch_size=64),
        _run("b", lr=3e-3, batch_size=64),
        _run("old upload", config={}),  # no settings: blank, and not compared
    ]
    rows, params = compare_table.table_rows(runs)
    assert params == ["lr"]
    assert [r["lr"] for r in rows] == [1e-3, 3e-3, None]
    shown = compare_table.display_rows(rows, params)
    # Issue 27, item 9: the results first (the test accuracy was behind a horizontal scroll).
    assert list(shown[0])[:6] == [
        "Name",
        "Test accuracy",
        "Best validation",
        "Best test",
        "Architecture",
        "Learning rate (peak)",
    ]
    assert [s["Learning rate (peak)"] for s in shown] == [1e-3, 3e-3, None]  # numbers sort
    assert "Batch size" not in shown[0]


def test_all_the_training_images_is_told_from_no_settings() -> None:
    runs = [_run("all"), _run("some", train_subset=2000), _run("upload", config={})]
    rows, params = compare_table.table_rows(runs)
    assert params == ["train_subset"]
    # None is "all" here: text, so the column is text (blank for the file without settings).
    assert compare_table.numeric_params(rows, params) == []
    shown = [s["Training images"] for s in compare_table.display_rows(rows, params)]
    assert shown == ["all", "2000", ""]


def test_settings_an_older_checkpoint_lacks_count_as_their_default() -> None:
    new = _run("new")
    old_config = {k: v for k, v in new.config.items() if k not in ("eval_every", "channels_last")}
    _, params = compare_table.table_rows([new, _run("old", config=old_config)])
    assert params == []


def test_architecture_options_and_choices_read_as_words() -> None:
    runs = [
        _run("wide", model_kwargs={"hidden": (512, 128)}, optimizer="sgd"),
        _run("narrow", model_kwargs={"hidden": (64,)}, optimizer="adamw"),
    ]
    rows, params = compare_table.table_rows(runs)
    assert params == ["model_kwargs", "optimizer"]
    shown = compare_table.display_rows(rows, params)
    assert shown[0]["Architecture options"].startswith("Hidden layer sizes 512, 128")
    assert [s["Optimizer"] for s in shown] == ["SGD with momentum", "AdamW"]


def test_best_epoch_is_the_best_validation_accuracy_first_reached() -> None:
    best = compare_runs.best_of(_history([0.90, 0.95, 0.95, 0.94], [0.91, 0.93, 0.96, 0.92]))
    assert (best.val_accuracy, best.test_accuracy, best.epoch) == (0.95, 0.96, 2)
    # Without validation images: the best test accuracy's epoch.
    no_val = compare_runs.best_of(_history([None, None, None], [0.91, 0.97, 0.96]))
    assert (no_val.val_accuracy, no_val.test_accuracy, no_val.epoch) == (None, 0.97, 2)
    assert compare_runs.best_of(None) == compare_runs.Best()


def test_status_says_where_a_stopped_run_stopped() -> None:
    assert compare_runs.status_text({"status": "finished"}) == "finished"
    stopped = {"status": "stopped", "epochs_trained": 2.4567, "epochs_planned": 8}
    assert compare_runs.status_text(stopped) == "stopped at epoch 2.46 of 8"
    assert (
        compare_runs.status_text({"status": "stopped", "epochs_trained": 3.0})
        == "stopped at epoch 3"
    )
    assert compare_runs.status_text({"status": "diverged"}) == "diverged"
    assert compare_runs.status_text({}) == ""  # pretrained and older files do not say


def test_the_table_rows_carry_results_and_the_sweep() -> None:
    run = _run(
        "s · lr=0.001",
        history=_history([0.9, 0.95], [0.91, 0.94]),
        metrics={"train_seconds": 12.5, "images_per_s": 4321.7, "sweep": "s", "sweep_id": "x"},
    )
    [row], _ = compare_table.table_rows([run])
    assert row["best_epoch"] == 2 and row["best_val_accuracy"] == 0.95
    assert row["sweep"] == "s" and row["status"] == "finished"
    [shown] = compare_table.display_rows([row], [])
    assert shown["Test accuracy"] == pytest.approx(97.0) and shown["Images / s"] == 4322
    assert shown["Best epoch"] == 2 and shown["Sweep"] == "s"


def test_csv_holds_every_row_in_full_precision() -> None:
    runs = [
        _run("a", lr=0.0012345678, metrics={"test_accuracy": 0.987654321}),
        _run("b, with a comma", lr=3e-3, config=None, model="lenet5"),
        _run("upload", config={}),
    ]
    rows, params = compare_table.table_rows(runs)
    table = list(csv.DictReader(io.StringIO(compare_table.table_csv(rows, params))))
    assert [r["name"] for r in table] == ["a", "b, with a comma", "upload"]
    assert float(table[0]["lr"]) == 0.0012345678
    assert float(table[0]["test_accuracy"]) == 0.987654321
    assert table[2]["lr"] == ""
    assert table[1]["architecture"] == "LENET5"
    # Architecture options differ (MLP against LeNet-5): JSON in one cell.
    assert json.loads(table[0]["model_kwargs"])["hidden"]
    # Issue 26, item 6: the owner folder ("me" here, a keyed hash of the cookie in the app)
    # finds a visitor's models on disk: the CSV never holds it.
    assert [r["id"] for r in table] == ["yours/a", "yours/b,-with-a-comma", "yours/upload"]
    assert "me" not in {part for r in table for part in r["id"].split("/")}


def test_a_selection_follows_its_runs_when_the_list_changes() -> None:
    old = ["pre/a", "runs/x", "runs/y"]
    new = ["pre/a", "runs/new", "runs/x", "runs/y"]  # a new run listed first among the runs
    assert compare_table.remap_rows(old, new, [1, 2]) == [2, 3]
    assert compare_table.remap_rows(old, ["pre/a", "runs/y"], [1, 2]) == [1]  # runs/x was deleted
    assert compare_table.remap_rows(old, new, [7]) == []


# ---- curves ----------------------------------------------------------------------------------


def test_the_x_axis_choice_changes_the_x_values() -> None:
    run = _run("r", history=_history([0.9, 0.95], [0.91, 0.94], seconds_per_epoch=3.0))
    by_epoch = compare_curves.series(run, "epoch")
    by_time = compare_curves.series(run, "training seconds")
    by_images = compare_curves.series(run, "images seen")
    assert by_epoch and by_time and by_images
    assert by_epoch.loss_x[-1] == 2.0 and by_epoch.test_x == [1.0, 2.0]
    assert by_time.loss_x[-1] == 6.0 and by_time.val_x == [3.0, 6.0]
    assert by_images.loss_x[-1] == 2 * N_TRAIN and by_images.test_x == [N_TRAIN, 2 * N_TRAIN]
    assert by_epoch.loss == by_time.loss  # only x changes
    assert compare_curves.series(_run("none"), "epoch") is None


def test_images_seen_falls_back_to_the_settings_and_nan_losses_are_left_out() -> None:
    history = _history([0.9], [0.9], n_train=0, losses=[1.0, None, 0.5, 0.4])
    run = _run("r", history=history, train_subset=2000, val_size=100)
    s = compare_curves.series(run, "images seen")
    assert s is not None and s.loss_x == [500.0, 1500.0, 2000.0] and s.loss == [1.0, 0.5, 0.4]
    assert compare_curves.series(_run("r", history=history, config={}), "images seen") is None


def test_every_selected_run_is_a_named_trace_in_its_own_colour() -> None:
    runs = [
        _run("first", history=_history([0.9, 0.95], [0.91, 0.94])),
        _run("second", history=_history([0.8, 0.85], [0.81, 0.84])),
    ]
    series = [compare_curves.series(r, "epoch") for r in runs]
    loss = compare_charts.compare_loss_figure(series, "epoch")
    assert [t.name for t in loss.data] == ["first", "second"]
    assert loss.data[0].line.color != loss.data[1].line.color
    # Smoothed as on Train.
    assert list(loss.data[0].y) == pytest.approx(compare_charts.smooth(series[0].loss))
    acc = compare_charts.compare_accuracy_figure(series, "epoch")
    assert {t.legendgroup for t in acc.data} == {"first", "second"}
    assert {t.name for t in acc.data} >= {"first", "second", "first (validation)"}
    assert list(acc.data[0].y) == pytest.approx([91.0, 94.0])
    by_time = compare_charts.compare_accuracy_figure(
        [compare_curves.series(r, "training seconds") for r in runs], "training seconds"
    )
    assert list(by_time.data[0].x) == [2.0, 4.0] != list(acc.data[0].x)
    assert by_time.layout.xaxis.title.text.startswith("training seconds")


# ---- sweeps ----------------------------------------------------------------------------------


def _sweep_runs() -> list[Run]:
    tags = {"sweep": "lr x opt", "sweep_id": "abc", "sweep_params": ["lr", "optimizer"]}
    grid = [(1e-3, "adamw", 0.95), (3e-3, "adamw", 0.97), (1e-2, "sgd", 0.96), (1e-3, "sgd", 0.9)]
    return [
        _run(f"lr x opt · {lr:g} {opt}", lr=lr, optimizer=opt, metrics={**tags, "test_accuracy": a})
        for lr, opt, a in grid
    ]


def test_sweeps_are_found_with_their_swept_settings_and_best_run() -> None:
    runs = [_run("solo"), *_sweep_runs()]
    [sweep] = compare_sweeps.find_sweeps(runs)
    assert sweep.key == "abc" and sweep.name == "lr x opt" and sweep.params == ["lr", "optimizer"]
    assert len(sweep.runs) == 4
    assert sweep.best is not None and sweep.best.name == "lr x opt · 0.003 adamw"
    assert compare_sweeps.best_caption(sweep) == (
        "Best: lr x opt · 0.003 adamw, lr=0.003, optimizer=adamw, test 97.00%"
    )


def test_a_sweep_without_its_params_tag_uses_the_settings_that_differ() -> None:
    runs = [
        _run("a", lr=1e-3, metrics={"sweep": "old"}),
        _run("b", lr=1e-2, metrics={"sweep": "old"}),
    ]
    [sweep] = compare_sweeps.find_sweeps(runs)
    assert sweep.key == "old" and sweep.params == ["lr"]


def test_parallel_coordinates_have_one_axis_per_swept_setting_and_test_accuracy() -> None:
    [sweep] = compare_sweeps.find_sweeps(_sweep_runs())
    values = compare_sweeps.sweep_values(sweep)
    figure = compare_charts.sweep_figure(
        sweep.params, values, [r.test_accuracy for r in sweep.scored]
    )
    [trace] = figure.data
    assert trace.type == "parcoords"
    dims = trace.dimensions
    assert len(dims) == len(sweep.params) + 1
    lr, optimizer, accuracy = dims
    assert "log10" in lr.label
    assert list(lr.values) == pytest.approx([math.log10(v) for v in (1e-3, 3e-3, 1e-2, 1e-3)])
    assert list(lr.ticktext) == ["0.001", "0.003", "0.01"]
    assert list(optimizer.ticktext) == ["adamw", "sgd"] and list(optimizer.values) == [0, 0, 1, 1]
    assert list(optimizer.tickvals) == [0, 1]
    assert accuracy.label == "test accuracy (%)"
    assert list(accuracy.values) == pytest.approx([95.0, 97.0, 96.0, 90.0])
    assert list(trace.line.color) == pytest.approx([95.0, 97.0, 96.0, 90.0])


def test_a_log_axis_with_many_values_is_labelled_by_decade() -> None:
    values = [1e-4 * 1.7**i for i in range(10)]
    dim = compare_charts.sweep_dimension("lr", values)
    assert list(dim["ticktext"]) == ["1e-4", "1e-3", "1e-2"]  # inside the values' range
    narrow = compare_charts.sweep_dimension("lr", [2e-3 + 1e-4 * i for i in range(8)])
    assert list(narrow["ticktext"]) == ["0.002", "0.0027"]  # no decade inside: the ends
    flat = compare_charts.sweep_dimension("batch_size", [64, 64])
    assert flat["range"][0] < 64 < flat["range"][1]
    subset = compare_charts.sweep_dimension("train_subset", [None, 1000])
    assert list(subset["ticktext"]) == ["1000", "all"]


# ---- the selected run ------------------------------------------------------------------------


def test_train_again_opens_train_with_the_runs_settings() -> None:
    config = TrainConfig.for_model(
        "mlp", device="cpu", lr=0.0042, epochs=3, optimizer="sgd", model_kwargs={"hidden": (64,)}
    )
    run = _run("r", config=config.to_dict())
    params = compare_runs.train_again_params(run)
    assert params is not None
    assert params["model"] == "mlp" and params["lr"] == "0.0042" and params["optimizer"] == "sgd"
    assert params["hidden"] == "64"
    model, values, options, notes = parse_query_params(params)
    assert notes == [] and model == "mlp"
    assert values["lr"] == 0.0042 and values["epochs"] == 3 and options["hidden"] == (64,)
    assert compare_runs.train_again_params(_run("upload", config={})) is None


def test_config_query_params_of_an_older_config_leaves_the_recipe_out() -> None:
    config = TrainConfig.for_model("lenet5", device="cpu").to_dict()
    del config["eval_every"]
    assert config_query_params(config) == {"model": "lenet5", "device": "cpu"}


def test_history_json_holds_the_run_and_its_curves() -> None:
    history = _history([0.9], [0.91], losses=[1.0, None, 0.5, 0.4])
    run = _run("r", history=history, metrics={"final_train_loss": math.nan})
    data = json.loads(compare_runs.history_json(run))
    assert data["name"] == "r" and data["model"] == "mlp" and data["config"]["lr"]
    assert data["metrics"]["final_train_loss"] is None
    assert RunHistory.from_dict(data["history"]) == history
    with pytest.raises(ValueError):
        compare_runs.history_json(_run("no curves"))


def test_a_numeric_sweep_axis_is_ticked_at_its_values_and_legends_leave_room() -> None:
    """Issue 27, item 9: the batch-size axis was ticked 70-120 for 64 and 128; eight legend
    entries squashed the accuracy overlay and covered the x-axis title."""
    from ui.compare.charts import compare_accuracy_figure, sweep_dimension

    axis = sweep_dimension("batch_size", [64, 128, 64, 128])
    assert axis["tickvals"] == [64.0, 128.0] and axis["ticktext"] == ["64", "128"]
    runs = [
        compare_curves.series(
            _run(f"run {i}", history=_history([0.9, 0.95], [0.91, 0.94])), "epoch"
        )
        for i in range(4)
    ]
    fig = compare_accuracy_figure(runs, "epoch")
    assert sum(1 for t in fig.data if t.showlegend is not False) == 8
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y == 0
    assert fig.layout.height > 340 and fig.layout.margin.b >= 3 * 22
