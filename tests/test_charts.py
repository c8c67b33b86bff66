"""The training charts of ui/charts.py: pure functions from numbers to plotly figures."""

from __future__ import annotations

import itertools

import pytest

from ui import charts
from ui.charts import Curve, LrMark


def _curve(name: str, epochs: int = 3, *, val: bool = True, test: bool = True, **kw) -> Curve:
    steps = list(range(10, 10 * epochs * 4 + 1, 10))
    return Curve(
        name=name,
        steps=steps,
        losses=[2.3 / (1 + s / 10) for s in steps],
        epochs=list(range(1, epochs + 1)),
        train_acc=[0.80 + 0.01 * e for e in range(epochs)],
        val_acc=[0.85 + 0.01 * e for e in range(epochs)] if val else [None] * epochs,
        test_acc=[0.86 + 0.01 * e for e in range(epochs)] if test else [None] * epochs,
        epoch_steps=[40 * e for e in range(1, epochs + 1)],
        val_loss=[0.5 / e for e in range(1, epochs + 1)] if val else [None] * epochs,
        lrs=[0.01 for _ in steps],
        steps_per_epoch=40,
        **kw,
    )


@pytest.mark.parametrize(
    ("last_epoch", "dtick"), [(3, 1), (10, 1), (11, 2), (20, 2), (40, 5), (200, 20), (0, 1)]
)
def test_epoch_ticks_stay_readable(last_epoch: int, dtick: int) -> None:
    assert charts.epoch_dtick(last_epoch) == dtick


def test_forty_epochs_get_at_most_ten_labelled_ticks_also_when_compared() -> None:
    """Issue 11, item 3: a tick per epoch (dtick=1) merged into an unreadable band."""
    for others in ([], [_curve("earlier", 40)]):
        fig = charts.accuracy_figure(_curve("now", 40 if not others else 5), others)
        axis = fig.layout.xaxis
        assert axis.dtick == 5 and axis.tickangle == 0
        assert 40 / axis.dtick <= charts.MAX_EPOCH_TICKS


def _lines(fig) -> list[tuple[str, str, str, str | None]]:
    """(run, metric, colour, dash) of each line."""
    return [(t.legendgroup, t.name, t.line.color, t.line.dash) for t in fig.data]


def test_compare_overlay_one_colour_per_run_named_in_the_legend() -> None:
    """Issue 11, item 4: the current run's lines carried no run name, and its validation
    orange was another run's test colour."""
    run, a, b = _curve("lenet5 #3"), _curve("mlp #1"), _curve("resnet #2", val=False)
    for fig in (charts.accuracy_figure(run, [a, b]), charts.loss_figure(run, [a, b])):
        lines = _lines(fig)
        colours: dict[str, set[str]] = {}
        for group, _, colour, _ in lines:
            colours.setdefault(group, set()).add(colour)
        assert set(colours) == {"lenet5 #3", "mlp #1", "resnet #2"}
        assert all(len(c) == 1 for c in colours.values()), colours  # one colour per run
        assert len({next(iter(c)) for c in colours.values()}) == 3  # and no two runs share one
        titles = {
            t.legendgroup: t.legendgrouptitle.text for t in fig.data if t.legendgrouptitle.text
        }
        assert titles == {g: g for g in colours}  # each run's name heads its legend entries
        # The hover of every line says whose it is.
        assert all(t.hovertemplate.startswith(f"{t.legendgroup} · ") for t in fig.data)
    # In the accuracy chart the metric is told by the dash.
    acc = _lines(charts.accuracy_figure(run, [a, b]))
    dashes = {metric: dash for group, metric, _, dash in acc if group == "lenet5 #3"}
    assert len(set(dashes.values())) == 3, dashes
    assert ("mlp #1", "test", charts.COMPARE_COLORS[0], dashes["test"]) in acc


def test_loss_chart_shows_validation_loss_at_epoch_ends() -> None:
    run = _curve("lenet5 #1")
    fig = charts.loss_figure(run)
    val = [t for t in fig.data if t.name == "validation"]
    assert len(val) == 1
    assert list(val[0].x) == run.epoch_steps and list(val[0].y) == run.val_loss


def test_log_scale_when_the_loss_spans_more_than_two_decades() -> None:
    assert not charts.wants_log_scale([2.3, 1.0, 0.05])
    assert charts.wants_log_scale([2.3, 0.5, 0.01])
    assert not charts.wants_log_scale([])
    assert not charts.wants_log_scale([0.0, float("nan")])
    assert charts.loss_figure(_curve("r"), log_y=True).layout.yaxis.type == "log"
    assert charts.loss_figure(_curve("r")).layout.yaxis.type in (None, "linear", "-")


def test_a_learning_rate_change_is_marked_on_every_chart() -> None:
    run = _curve("lenet5 #1", lr_marks=[LrMark(step=60, old=0.05, new=0.005)])
    loss, acc, lr = (
        charts.loss_figure(run),
        charts.accuracy_figure(run),
        charts.lr_figure(run),
    )
    for fig, x in ((loss, 60), (acc, 1.5), (lr, 60)):
        lines = [s for s in fig.layout.shapes if s.type == "line"]
        assert [s.x0 for s in lines] == [x]
        assert any("0.05 → 0.005" in a.text for a in fig.layout.annotations)


def test_learning_rate_chart_plots_the_schedule() -> None:
    run = _curve("r")
    fig = charts.lr_figure(run)
    assert list(fig.data[0].x) == run.steps and list(fig.data[0].y) == run.lrs


def test_curve_from_a_snapshot_carries_validation_loss_rates_and_lr_changes() -> None:
    from mnist_core.jobs.snapshot import JobState
    from mnist_core.train.config import TrainConfig
    from mnist_core.train.events import EpochMetrics, RunStarted, StepMetrics

    config = TrainConfig.for_model("mlp", train_subset=1000, batch_size=100, epochs=2)
    state = JobState(config, job_id="j", owner="ann", name="mlp #1", created=0.0)
    state.start(0.0)
    state.apply(RunStarted("cpu", "CPU", 10, 1000, 500, 10_000, 10, 20), 0.0)
    state.apply(StepMetrics(10, 1.0, 0.9, 0.01, 1000.0, 1.0), 1.0)
    state.apply(EpochMetrics(1, 10, 0.9, 0.8, 0.45, 0.85, 0.86, 1.0, 0.5), 1.5)
    state.set_lr(0.001)
    curve = charts.curve_from_snapshot(state.snapshot(2.0))
    assert curve.val_loss == [0.45] and curve.epoch_steps == [10] and curve.lrs == [0.01]
    assert curve.lr_marks == [LrMark(10, config.lr, 0.001)] and curve.steps_per_epoch == 10


def test_long_runs_are_drawn_with_at_most_max_chart_points() -> None:
    xs = list(range(1, 13_001))
    x, y = charts.thin(xs, [v * 2 for v in xs])
    assert len(x) <= charts.MAX_CHART_POINTS and x[0] == 1 and x[-1] == 13_000
    assert y == [v * 2 for v in x]  # the pairs stay together
    gaps = {b - a for a, b in itertools.pairwise(x)}
    assert max(gaps) - min(gaps) <= 14  # evenly spaced (the last step kept)
    assert charts.thin(xs[:500], xs[:500]) == (xs[:500], xs[:500])  # short: every point
    curve = charts.Curve(
        name="long", steps=xs, losses=[1.0 / v for v in xs], epochs=[], train_acc=[],
        val_acc=[], test_acc=[], lrs=[1e-3] * len(xs),
    )  # fmt: skip
    for figure in (charts.loss_figure(curve), charts.lr_figure(curve)):
        assert all(len(t.x) <= charts.MAX_CHART_POINTS for t in figure.data)
        assert all(t.x[-1] == 13_000 for t in figure.data)


def test_auto_scale_looks_at_the_validation_loss_too() -> None:
    """Issue 27, item 7: ResNet at learning rate 10, training loss near 2.3 throughout and a
    validation loss of 60M; the chart stayed linear and the training curve lay flat on 0."""
    steps = list(range(10, 130, 10))
    blew_up = Curve(
        name="lr 10",
        steps=steps,
        losses=[2.3 + 0.01 * (i % 3) for i in range(len(steps))],
        epochs=[1, 2, 3],
        train_acc=[0.1, 0.1, 0.1],
        val_acc=[0.1, 0.1, 0.1],
        test_acc=[0.13, 0.12, 0.13],
        epoch_steps=[40, 80, 120],
        val_loss=[4.1e3, 6.0e7, None],
    )
    assert not charts.wants_log_scale(blew_up.losses)
    assert charts.curves_want_log_scale([blew_up])
    assert not charts.curves_want_log_scale([_curve("calm", val=False)])
