"""The lessons' figures: several runs on one chart, one colour per run (no Streamlit here)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

from ui.charts import (
    ACCENT,
    COMPARE_COLORS,
    METRIC_DASH,
    Curve,
    base_layout,
    epoch_dtick,
    smooth,
    thin,
)


def _colors(curves: Sequence[Curve]) -> list[tuple[Curve, str]]:
    return [
        (c, (ACCENT, *COMPARE_COLORS)[i % (1 + len(COMPARE_COLORS))]) for i, c in enumerate(curves)
    ]


def losses_figure(curves: Sequence[Curve], *, log_y: bool = False) -> go.Figure:
    """Each run's training loss per step, smoothed, one colour per run (a run that diverged
    ends where its loss stopped being a number)."""
    fig = go.Figure()
    for curve, color in _colors(curves):
        points = [
            (s, v) for s, v in zip(curve.steps, curve.losses, strict=True) if math.isfinite(v)
        ]
        if not points:
            continue
        steps, losses = zip(*points, strict=True)
        x, y = thin(list(steps), smooth(list(losses), 0.6))
        fig.add_scatter(
            x=x,
            y=y,
            mode="lines",
            name=curve.name,
            line=dict(color=color, width=2.5),
            hovertemplate=f"{curve.name} · loss %{{y:.4g}}<extra></extra>",
        )
    base_layout(fig, height=320, legend=dict(orientation="h", yanchor="top", y=-0.25, x=0))
    fig.update_xaxes(title_text="step", rangemode="tozero")
    if log_y:
        fig.update_yaxes(title_text="training loss (log scale)", type="log", exponentformat="e")
    else:
        fig.update_yaxes(title_text="training loss", rangemode="tozero")
    return fig


def accuracies_figure(curves: Sequence[Curve], metrics: Sequence[str]) -> go.Figure:
    """`metrics` ("train", "validation", "test") per epoch in percent: one colour per run, one
    dash per metric (dotted train, dashed validation, solid test)."""
    fig = go.Figure()
    last_epoch = 0
    for curve, color in _colors(curves):
        series = {"train": curve.train_acc, "validation": curve.val_acc, "test": curve.test_acc}
        for metric in metrics:
            values = series[metric]
            if not curve.epochs or not any(v is not None for v in values):
                continue
            fig.add_scatter(
                x=list(curve.epochs),
                y=[None if v is None else 100 * v for v in values],
                mode="lines+markers",
                name=f"{curve.name} · {metric}",
                line=dict(color=color, width=2.5, dash=METRIC_DASH[metric]),
                marker=dict(size=6),
                hovertemplate=f"{curve.name} · {metric} %{{y:.1f}}%<extra></extra>",
            )
            last_epoch = max(last_epoch, max(curve.epochs))
    base_layout(fig, height=320, legend=dict(orientation="h", yanchor="top", y=-0.25, x=0))
    fig.update_xaxes(title_text="epoch", tick0=0, dtick=epoch_dtick(last_epoch), rangemode="tozero")
    fig.update_yaxes(title_text="accuracy (%)", ticksuffix="%")
    return fig
