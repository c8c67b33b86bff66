"""Plotly figures of the app: training curves (and the style every figure shares; a digit's
readings are in `ui.digit_charts`).

Pure functions from numbers to figures (no Streamlit), so they are cheap to test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import plotly.graph_objects as go

from mnist_core.storage.history import RunHistory
from mnist_core.train.race import RACE_TARGETS, accuracy_points, reaches

ACCENT = "#6C5CE7"  # the theme's primary colour
TRAIN_COLOR = "#8E8AA8"
VAL_COLOR = "#F39C12"
TEST_COLOR = "#00A884"
WRONG_COLOR = "#E74C3C"
# Runs overlaid on the training charts: the current run in ACCENT, earlier ones in these. One
# colour per run; the metric is told by the line's dash (METRIC_DASH), never by its colour.
COMPARE_COLORS = ("#E67E22", "#00A884", "#3498DB", "#C0392B", "#7F8C8D")
METRIC_DASH = {"train": "dot", "validation": "dash", "test": "solid"}
LR_CHANGE_COLOR = "#7F8C8D"
FONT = dict(family="Inter, system-ui, sans-serif", size=13)
# A log scale for the loss by default when its values span more than this ratio (two decades).
LOG_SCALE_SPAN = 100.0
# Per-step curves are drawn with at most this many points: a live chart is rebuilt and sent on
# every refresh: a 13,000-step run with every point cost 0.39 s of the server and 1.0 MB per
# refresh, thinned 0.09 s and 86 KB (`python -m bench panel`). Evenly spaced, the last kept.
MAX_CHART_POINTS = 1000
MAX_EPOCH_TICKS = 10  # at most this many labelled epochs on an epoch axis


def base_layout(
    fig: go.Figure, *, height: int, title: str | None = None, **kwargs: object
) -> go.Figure:
    """The app's common figure layout (height, title, margins, font, legend); `kwargs` win."""
    settings: dict[str, object] = dict(
        height=height,
        title=dict(text=title, x=0, xanchor="left", font=dict(size=15)) if title else None,
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0),
        hovermode="x unified",
    )
    fig.update_layout(**{**settings, **kwargs})
    return fig


def thin(xs: Sequence[Any], ys: Sequence[Any], limit: int | None = None) -> tuple[list, list]:
    """At most `limit` (default MAX_CHART_POINTS) evenly spaced (x, y) points of the series,
    always with the last."""
    limit = MAX_CHART_POINTS if limit is None else limit
    n = len(xs)
    if n <= limit:
        return list(xs), list(ys)
    every = -(-n // limit)  # ceil
    keep = list(range(0, n, every))
    if keep[-1] != n - 1:
        keep[-1] = n - 1
    return [xs[i] for i in keep], [ys[i] for i in keep]


def smooth(values: Sequence[float], weight: float = 0.8) -> list[float]:
    """Exponential moving average with bias correction (as TensorBoard's smoothing slider)."""
    out, acc = [], 0.0
    for i, v in enumerate(values, start=1):
        acc = weight * acc + (1 - weight) * float(v)
        out.append(acc / (1 - weight**i))
    return out


def epoch_dtick(last_epoch: float, max_ticks: int = MAX_EPOCH_TICKS) -> int:
    """The distance between labelled epochs: 1, 2 or 5 times a power of ten, the smallest that
    labels at most `max_ticks` epochs from 0 to `last_epoch` (so 40 epochs read 0, 5, 10...)."""
    span = max(1.0, float(last_epoch))
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if span / (step * magnitude) <= max_ticks:
                return step * magnitude
        magnitude *= 10


def wants_log_scale(values: Sequence[float]) -> bool:
    """Whether a log scale shows `values` (losses) better: their positive values span more than
    LOG_SCALE_SPAN, where a linear scale flattens everything after the first steps."""
    positive = [float(v) for v in values if v is not None and v > 0 and math.isfinite(v)]
    return bool(positive) and max(positive) / min(positive) > LOG_SCALE_SPAN


def curves_want_log_scale(curves: Sequence[Curve]) -> bool:
    """Whether the loss chart of `curves` reads better on a log scale: their training and
    validation losses together (issue 27, item 7: a run whose validation loss blew up to 60M
    while its training loss sat near 2.3 stayed linear, and the training curve lay flat on 0)."""
    return wants_log_scale([v for c in curves for v in (*c.losses, *c.val_loss) if v is not None])


@dataclass(frozen=True)
class LrMark:
    """A change of the peak learning rate during the run, from the next step after `step`."""

    step: int
    old: float
    new: float


@dataclass(frozen=True)
class Curve:
    """One run's history, as plain lists (from a JobSnapshot)."""

    name: str
    steps: list[int]
    losses: list[float]
    epochs: list[int]
    train_acc: list[float | None]
    val_acc: list[float | None]
    test_acc: list[float | None]
    epoch_steps: list[int] = field(default_factory=list)  # the step at each epoch's end
    val_loss: list[float | None] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)  # the scheduled rate at each of `steps`
    lr_marks: list[LrMark] = field(default_factory=list)
    steps_per_epoch: int = 0  # 0: unknown
    # Every test measurement (end of epoch and checks inside epochs): (fractional epoch, acc).
    test_points: list[tuple[float, float]] = field(default_factory=list)
    # target accuracy -> (fractional epoch, accuracy, training seconds) of its first reach
    reached: dict[float, tuple[float, float, float]] = field(default_factory=dict)


def curve_from_snapshot(snap: object) -> Curve:
    steps = getattr(snap, "steps", ()) or ()
    epochs = getattr(snap, "epochs", ()) or ()
    started = getattr(snap, "started", None)
    changes = getattr(snap, "lr_changes", ()) or ()
    checks = getattr(snap, "checks", ()) or ()
    hits = reaches(epochs, checks, RACE_TARGETS)
    return Curve(
        name=str(getattr(snap, "name", "") or "run"),
        steps=[s.step for s in steps],
        losses=[s.loss for s in steps],
        epochs=[e.epoch for e in epochs],
        train_acc=[e.train_accuracy for e in epochs],
        val_acc=[e.val_accuracy for e in epochs],
        test_acc=[e.test_accuracy for e in epochs],
        epoch_steps=[e.step for e in epochs],
        val_loss=[e.val_loss for e in epochs],
        lrs=[s.lr for s in steps],
        lr_marks=[LrMark(c.step, c.old, c.new) for c in changes],
        steps_per_epoch=getattr(started, "steps_per_epoch", 0) if started else 0,
        test_points=[(p.epoch, p.test_accuracy) for p in accuracy_points(epochs, checks)],
        reached={t: (p.epoch, p.test_accuracy, p.train_seconds) for t, p in hits.items()},
    )


def curve_from_history(name: str, history: RunHistory) -> Curve:
    """The Curve of a stored run (a checkpoint's `run_history`), as `curve_from_snapshot`
    would draw it while the run trained."""
    view = SimpleNamespace(
        name=name,
        steps=history.step_events(),
        epochs=history.epoch_events(),
        checks=history.check_events(),
        started=SimpleNamespace(steps_per_epoch=history.steps_per_epoch),
        lr_changes=[LrMark(c["step"], c["from"], c["to"]) for c in history.lr_changes()],
    )
    return curve_from_snapshot(view)


def _pct(values: Sequence[float | None]) -> list[float | None]:
    return [None if v is None else 100.0 * v for v in values]


def _runs(run: Curve, others: Sequence[Curve]) -> list[tuple[Curve, str]]:
    """Each run with its colour: the current one first, in ACCENT."""
    colored = [(run, ACCENT)]
    colored += [(o, COMPARE_COLORS[i % len(COMPARE_COLORS)]) for i, o in enumerate(others)]
    return colored


def _legend_group(curve: Curve, first: bool) -> dict[str, object]:
    """Legend entries grouped under the run's name (given to its first line), so every line
    says whose it is."""
    return dict(legendgroup=curve.name, legendgrouptitle_text=curve.name if first else None)


def _lr_marks(fig: go.Figure, run: Curve, *, per_epoch: bool) -> None:
    """A labelled vertical line where the peak learning rate was changed during the run."""
    for mark in run.lr_marks:
        if per_epoch:
            if not run.steps_per_epoch:
                continue
            x: float = mark.step / run.steps_per_epoch
        else:
            x = mark.step
        fig.add_vline(
            x=x,
            line=dict(color=LR_CHANGE_COLOR, width=1.5, dash="dashdot"),
            annotation=dict(
                text=f"LR {mark.old:g} → {mark.new:g}",
                font=dict(size=11, color=LR_CHANGE_COLOR),
            ),
            annotation_position="top right",
        )


def loss_figure(run: Curve, others: Sequence[Curve] = (), *, log_y: bool = False) -> go.Figure:
    """Training loss per step (the raw points, faint, and the smoothed curve) and validation
    loss at each epoch's end; one colour per run, the validation loss dashed."""
    fig = go.Figure()
    for curve, color in reversed(_runs(run, others)):  # the current run drawn on top
        current = curve is run
        first = True
        if curve.steps and current:
            x, y = thin(curve.steps, curve.losses)
            fig.add_scatter(
                x=x,
                y=y,
                mode="lines",
                name="loss",
                line=dict(color=color, width=1),
                opacity=0.35,
                hovertemplate=f"{curve.name} · loss %{{y:.4g}}<extra></extra>",
                **_legend_group(curve, first),
            )
            first = False
        if curve.steps:
            x, y = thin(curve.steps, smooth(curve.losses))  # smoothed over every step
            fig.add_scatter(
                x=x,
                y=y,
                mode="lines",
                name="smoothed",
                line=dict(color=color, width=2.5 if current else 1.75),
                hovertemplate=f"{curve.name} · smoothed %{{y:.4g}}<extra></extra>",
                **_legend_group(curve, first),
            )
            first = False
        if any(v is not None for v in curve.val_loss):
            fig.add_scatter(
                x=curve.epoch_steps,
                y=curve.val_loss,
                mode="lines+markers",
                name="validation",
                line=dict(color=color, width=2 if current else 1.5, dash="dash"),
                marker=dict(size=7 if current else 5, symbol="diamond"),
                hovertemplate=f"{curve.name} · validation %{{y:.4g}}<extra></extra>",
                **_legend_group(curve, first),
            )
    _lr_marks(fig, run, per_epoch=False)
    base_layout(fig, height=320, legend=dict(orientation="h", yanchor="top", y=-0.3, x=0))
    fig.update_xaxes(title_text="step", rangemode="tozero")
    if log_y:
        fig.update_yaxes(title_text="loss (log scale)", type="log")
    else:
        fig.update_yaxes(title_text="loss", rangemode="tozero")
    return fig


def lr_figure(run: Curve) -> go.Figure:
    """The learning rate each step used (the schedule, and any change made during the run)."""
    x, y = thin(run.steps, run.lrs)
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="lines",
            name="learning rate",
            line=dict(color=ACCENT, width=2, shape="hv"),
            hovertemplate="learning rate %{y:.3g}<extra></extra>",
            showlegend=False,
        )
    )
    _lr_marks(fig, run, per_epoch=False)
    base_layout(fig, height=170, margin=dict(l=10, r=10, t=10, b=10))
    fig.update_xaxes(title_text="step", rangemode="tozero")
    fig.update_yaxes(title_text="learning rate", rangemode="tozero", exponentformat="e")
    return fig


def accuracy_figure(run: Curve, others: Sequence[Curve] = ()) -> go.Figure:
    """Train, validation and test accuracy per epoch, in percent: one colour per run (earlier
    runs show their test accuracy, else their validation accuracy), one dash per metric."""
    fig = go.Figure()
    last_epoch = 0
    for curve, color in reversed(_runs(run, others)):  # the current run drawn on top
        current = curve is run
        if current:
            metrics = [
                ("train", curve.train_acc),
                ("validation", curve.val_acc),
                ("test", curve.test_acc),
            ]
        elif any(v is not None for v in curve.test_acc):
            metrics = [("test", curve.test_acc)]
        else:
            metrics = [("validation", curve.val_acc)]
        first = True
        for label, values in metrics:
            x: list[float] = list(curve.epochs)
            if label == "test" and len(curve.test_points) > len(curve.epochs):
                # Checks inside epochs too (eval_every): the test line at fractional epochs.
                x, values = (
                    [p[0] for p in curve.test_points],
                    [p[1] for p in curve.test_points],
                )
            if not x or not any(v is not None for v in values):
                continue
            fig.add_scatter(
                x=x,
                y=_pct(values),
                mode="lines+markers",
                name=label,
                line=dict(color=color, width=2.5 if current else 1.75, dash=METRIC_DASH[label]),
                marker=dict(size=7 if current else 5),
                hovertemplate=f"{curve.name} · {label} %{{y:.2f}}%<extra></extra>",
                **_legend_group(curve, first),
            )
            first = False
            last_epoch = max(last_epoch, math.ceil(max(x)))
    _lr_marks(fig, run, per_epoch=True)
    _target_marks(fig, run, last_epoch)
    base_layout(fig, height=320, legend=dict(orientation="h", yanchor="top", y=-0.3, x=0))
    fig.update_xaxes(
        title_text="epoch", tick0=0, dtick=epoch_dtick(last_epoch), tickangle=0, rangemode="tozero"
    )
    fig.update_yaxes(title_text="accuracy (%)", ticksuffix="%")
    return fig


def _target_marks(fig: go.Figure, run: Curve, last_epoch: float) -> None:
    """A star where the run's test accuracy first reached each race target, with the training
    seconds it took (the Race to 99%). Its words go to the star's left in the right half of
    the chart and are never clipped at the plot's edge (issue 27, item 10: a race that reached
    99% in its last epoch read "99." at the right edge)."""
    for target, (epoch, accuracy, seconds) in sorted(run.reached.items()):
        side = "left" if epoch > 0.5 * max(last_epoch, 1) else "right"
        fig.add_scatter(
            x=[epoch],
            y=[100.0 * accuracy],
            mode="markers+text",
            marker=dict(
                symbol="star", size=16, color=TEST_COLOR, line=dict(color="white", width=1)
            ),
            text=[f"{target:.1%} after {seconds:.1f} s of training"],
            textposition=f"bottom {side}",
            textfont=dict(size=12, color=TEST_COLOR),
            cliponaxis=False,
            name=f"first ≥ {target:.1%}",
            hovertemplate=(
                f"{run.name} · first test accuracy ≥ {target:.1%}: %{{y:.2f}}% after "
                f"{seconds:.2f} s of training (epoch {epoch:.2f})<extra></extra>"
            ),
            showlegend=False,
        )
