"""Plotly figures of the Compare page: runs' curves overlaid against a chosen x axis, and a
sweep's settings against test accuracy on parallel coordinates.

Pure functions from the page's data (`ui.compare.curves`, `ui.compare.sweeps`) to figures (no
Streamlit), as `ui.charts`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from mnist_core.train.sweep import format_value
from ui.charts import ACCENT, COMPARE_COLORS, METRIC_DASH, base_layout, smooth, wants_log_scale
from ui.compare.curves import Series
from ui.compare.runs import param_label
from ui.compare.sweeps import LOG_PARAMS

RUN_COLORS = (ACCENT, *COMPARE_COLORS)
MAX_LOG_TICKS = 6  # distinct values labelled one by one on an axis; more: the decades (log)
# Pale for the worst runs, the app's accent for the best: the best run must stand out on white
# (Viridis ended in pale yellow, which the best run was drawn in: issue 27, item 9).
SWEEP_COLORSCALE = [[0.0, "#d4d6e0"], [0.5, "#8f86e0"], [1.0, ACCENT]]
LEGEND_ROW_PX = 22  # one row of a legend below a chart
LEGEND_PER_ROW = 3  # entries in a row of a chart half the page wide


def _legend_below(fig: go.Figure, height: int) -> None:
    """The legend under the chart, anchored to the figure's bottom edge, and the figure taller
    by the legend's rows: eight entries used to squash the plot and cover the x-axis title."""
    entries = sum(1 for t in fig.data if t.showlegend is not False)
    rows = math.ceil(entries / LEGEND_PER_ROW)
    base_layout(
        fig,
        height=height + LEGEND_ROW_PX * rows,
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0),
        margin=dict(l=10, r=10, t=40, b=10 + LEGEND_ROW_PX * rows),
    )


def run_color(i: int) -> str:
    """The colour of the i-th run (0-based), the same on every chart of the page."""
    return RUN_COLORS[i % len(RUN_COLORS)]


def _x_title(x_axis: str) -> str:
    return {"epoch": "epoch", "training seconds": "training seconds (s)"}.get(x_axis, x_axis)


def compare_loss_figure(
    runs: Sequence[Series], x_axis: str, *, log_y: bool | None = None
) -> go.Figure:
    """Each run's training loss, smoothed as on Train (`ui.charts.smooth`), one colour per run
    and named by it. `log_y` None: log once the losses span two decades."""
    fig = go.Figure()
    for i, run in enumerate(runs):
        if not run.loss:
            continue
        fig.add_scatter(
            x=run.loss_x,
            y=smooth(run.loss),
            mode="lines",
            name=run.name,
            legendgroup=run.name,
            line=dict(color=run_color(i), width=2),
            hovertemplate=f"{run.name} · loss %{{y:.4g}}<extra></extra>",
        )
    if log_y is None:
        log_y = wants_log_scale([v for r in runs for v in r.loss])
    _legend_below(fig, 340)
    fig.update_xaxes(title_text=_x_title(x_axis), rangemode="tozero")
    if log_y:
        fig.update_yaxes(title_text="loss, smoothed (log scale)", type="log")
    else:
        fig.update_yaxes(title_text="loss, smoothed", rangemode="tozero")
    return fig


def compare_accuracy_figure(runs: Sequence[Series], x_axis: str) -> go.Figure:
    """Each run's test accuracy (solid, named by the run) and validation accuracy (dashed), in
    percent, one colour per run."""
    fig = go.Figure()
    for i, run in enumerate(runs):
        lines = (
            ("test", run.name, run.test_x, run.test_acc),
            ("validation", f"{run.name} (validation)", run.val_x, run.val_acc),
        )
        for metric, name, x, values in lines:
            if not values:
                continue
            fig.add_scatter(
                x=x,
                y=[100.0 * v for v in values],
                mode="lines+markers",
                name=name,
                legendgroup=run.name,
                line=dict(color=run_color(i), width=2, dash=METRIC_DASH[metric]),
                marker=dict(size=6),
                hovertemplate=f"{run.name} · {metric} %{{y:.2f}}%<extra></extra>",
            )
    _legend_below(fig, 340)
    fig.update_xaxes(title_text=_x_title(x_axis), rangemode="tozero")
    fig.update_yaxes(title_text="accuracy (%)", ticksuffix="%")
    return fig


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def sweep_dimension(name: str, values: Sequence[Any]) -> dict[str, Any]:
    """One parallel-coordinates axis for the setting `name`: numbers as they are (the learning
    rate as log10, labelled with its values), anything else (optimizer, schedule, true/false,
    "all" images) as integer positions with the values' names as tick text."""
    label = param_label(name)
    if values and all(_is_number(v) for v in values):
        numbers = [float(v) for v in values]
        if name in LOG_PARAMS and all(v > 0 for v in numbers):
            logs = [math.log10(v) for v in numbers]
            distinct = sorted(set(numbers))
            if len(distinct) <= MAX_LOG_TICKS:
                ticks = [(math.log10(v), format_value(v)) for v in distinct]
            else:  # the decades inside the range, else its two ends
                lo, hi = min(logs), max(logs)
                ticks = [(float(d), f"1e{d}") for d in range(math.ceil(lo), math.floor(hi) + 1)]
                if len(ticks) < 2:
                    ticks = [(lo, format_value(min(numbers))), (hi, format_value(max(numbers)))]
            return dict(
                label=f"{label}, log10 scale",
                values=logs,
                tickvals=[t[0] for t in ticks],
                ticktext=[t[1] for t in ticks],
                range=_range(logs),
            )
        distinct = sorted(set(numbers))
        if len(distinct) <= MAX_LOG_TICKS:  # ticks at the values (64, 128), not at 70-120
            return dict(
                label=label,
                values=numbers,
                tickvals=distinct,
                ticktext=[format_value(v) for v in distinct],
                range=_range(numbers),
            )
        return dict(label=label, values=numbers, range=_range(numbers))
    names = [_category(name, v) for v in values]
    categories = sorted(set(names))
    codes = {c: i for i, c in enumerate(categories)}
    return dict(
        label=label,
        values=[codes[n] for n in names],
        tickvals=list(range(len(categories))),
        ticktext=categories,
        range=[-0.5, len(categories) - 0.5],
    )


def _category(name: str, value: Any) -> str:
    if value is None:
        return "all" if name == "train_subset" else "–"
    return format_value(value)


def _range(values: Sequence[float]) -> list[float]:
    """The axis range: the values', widened a little when they are all the same."""
    lo, hi = min(values), max(values)
    if lo == hi:
        pad = abs(lo) * 0.1 or 1.0
        return [lo - pad, hi + pad]
    return [lo, hi]


def sweep_figure(
    params: Sequence[str],
    values: Sequence[Mapping[str, Any]],
    test_accuracy: Sequence[float],
) -> go.Figure:
    """A sweep on parallel coordinates: one axis per swept setting, then test accuracy; one
    line per run (`values[i]`: its settings, `test_accuracy[i]`: a fraction), coloured by its
    test accuracy, so the best runs stand out in the colourscale's bright end."""
    percent = [100.0 * a for a in test_accuracy]
    dimensions = [sweep_dimension(p, [v.get(p) for v in values]) for p in params]
    dimensions.append(dict(label="test accuracy (%)", values=percent, range=_range(percent)))
    fig = go.Figure(
        go.Parcoords(
            line=dict(
                color=percent,
                colorscale=SWEEP_COLORSCALE,
                cmin=min(percent),
                cmax=max(percent),
                showscale=True,
                colorbar=dict(title=dict(text="test %"), ticksuffix="%"),
            ),
            dimensions=dimensions,
            labelangle=0,
        )
    )
    # Room for the first axis's label at the left, the last's and the colour bar at the right.
    base_layout(fig, height=380, margin=dict(l=110, r=110, t=70, b=30), hovermode=False)
    return fig
