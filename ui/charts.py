"""Plotly figures of the app: training curves, confusion matrix, per-class accuracy, probabilities.

Pure functions from numbers to figures (no Streamlit), so they are cheap to test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

ACCENT = "#6C5CE7"  # the theme's primary colour
TRAIN_COLOR = "#8E8AA8"
VAL_COLOR = "#F39C12"
TEST_COLOR = "#00A884"
WRONG_COLOR = "#E74C3C"
COMPARE_COLORS = ("#3498DB", "#E67E22", "#16A085", "#C0392B", "#7F8C8D")
FONT = dict(family="Inter, system-ui, sans-serif", size=13)


def _layout(
    fig: go.Figure, *, height: int, title: str | None = None, **kwargs: object
) -> go.Figure:
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


def smooth(values: Sequence[float], weight: float = 0.8) -> list[float]:
    """Exponential moving average with bias correction (as TensorBoard's smoothing slider)."""
    out, acc = [], 0.0
    for i, v in enumerate(values, start=1):
        acc = weight * acc + (1 - weight) * float(v)
        out.append(acc / (1 - weight**i))
    return out


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


def curve_from_snapshot(snap: object) -> Curve:
    steps = getattr(snap, "steps", ()) or ()
    epochs = getattr(snap, "epochs", ()) or ()
    return Curve(
        name=str(getattr(snap, "name", "") or "run"),
        steps=[s.step for s in steps],
        losses=[s.loss for s in steps],
        epochs=[e.epoch for e in epochs],
        train_acc=[e.train_accuracy for e in epochs],
        val_acc=[e.val_accuracy for e in epochs],
        test_acc=[e.test_accuracy for e in epochs],
    )


def _pct(values: Sequence[float | None]) -> list[float | None]:
    return [None if v is None else 100.0 * v for v in values]


def loss_figure(run: Curve, others: Sequence[Curve] = ()) -> go.Figure:
    """Training loss per step: the raw points, faint, and the smoothed curve."""
    fig = go.Figure()
    for i, other in enumerate(others):
        if other.steps:
            fig.add_scatter(
                x=other.steps,
                y=smooth(other.losses),
                mode="lines",
                name=f"{other.name} (smoothed)",
                line=dict(color=COMPARE_COLORS[i % len(COMPARE_COLORS)], width=1.5, dash="dot"),
            )
    fig.add_scatter(
        x=run.steps,
        y=run.losses,
        mode="lines",
        name="loss",
        line=dict(color=ACCENT, width=1),
        opacity=0.35,
    )
    fig.add_scatter(
        x=run.steps,
        y=smooth(run.losses),
        mode="lines",
        name="smoothed",
        line=dict(color=ACCENT, width=2.5),
    )
    _layout(fig, height=320)
    fig.update_xaxes(title_text="step", rangemode="tozero")
    fig.update_yaxes(title_text="loss", rangemode="tozero")
    return fig


def accuracy_figure(run: Curve, others: Sequence[Curve] = ()) -> go.Figure:
    """Train, validation and test accuracy per epoch, in percent."""
    fig = go.Figure()
    for i, other in enumerate(others):
        y = other.test_acc if any(v is not None for v in other.test_acc) else other.val_acc
        if other.epochs:
            fig.add_scatter(
                x=other.epochs,
                y=_pct(y),
                mode="lines+markers",
                name=f"{other.name} (test)",
                line=dict(color=COMPARE_COLORS[i % len(COMPARE_COLORS)], width=1.5, dash="dot"),
            )
    for label, values, color in (
        ("train", run.train_acc, TRAIN_COLOR),
        ("validation", run.val_acc, VAL_COLOR),
        ("test", run.test_acc, TEST_COLOR),
    ):
        if any(v is not None for v in values):
            fig.add_scatter(
                x=run.epochs,
                y=_pct(values),
                mode="lines+markers",
                name=label,
                line=dict(color=color, width=2.5),
                marker=dict(size=8),
                hovertemplate="%{y:.2f}%",
            )
    _layout(fig, height=320)
    fig.update_xaxes(title_text="epoch", dtick=1, rangemode="tozero")
    fig.update_yaxes(title_text="accuracy (%)", ticksuffix="%")
    return fig


def confusion_figure(confusion: np.ndarray, selected: tuple[int, int] | None = None) -> go.Figure:
    """The 10x10 confusion matrix [true, predicted] as a grid of clickable squares.

    A scatter (not a heatmap) because Streamlit reports point selections only for scatter-like
    traces. Each point carries customdata [true, predicted, count].
    """
    confusion = np.asarray(confusion)
    true, pred = np.meshgrid(np.arange(10), np.arange(10), indexing="ij")
    true, pred = true.ravel(), pred.ravel()
    counts = confusion[true, pred]
    diag = true == pred
    row_totals = np.maximum(confusion.sum(1), 1)
    share = counts / row_totals[true]  # fraction of that true class
    # Off-diagonal: white -> red by share of the row (sqrt so that rare mistakes still show).
    off_level = np.sqrt(np.clip(share / max(float(share[~diag].max(initial=0)), 1e-9), 0, 1))
    colors = []
    for is_diag, lvl, c in zip(diag, off_level, counts, strict=True):
        if is_diag:
            colors.append("rgba(0,168,132,0.30)")
        elif c == 0:
            colors.append("rgba(127,127,127,0.08)")
        else:
            colors.append(f"rgba(231,76,60,{0.15 + 0.85 * lvl:.3f})")
    text = [str(c) if c else "" for c in counts]
    line_colors = [
        "#1E1E2E" if selected is not None and (t, p) == tuple(selected) else "rgba(0,0,0,0)"
        for t, p in zip(true, pred, strict=True)
    ]
    fig = go.Figure(
        go.Scatter(
            x=pred,
            y=true,
            mode="markers+text",
            marker=dict(
                symbol="square", size=40, color=colors, line=dict(width=3, color=line_colors)
            ),
            text=text,
            textfont=dict(size=12, color="#1E1E2E"),
            # Keep every cell as it is when one is selected (plotly fades the others by
            # default); the selected one is outlined instead.
            selected=dict(marker=dict(opacity=1.0), textfont=dict(color="#1E1E2E")),
            unselected=dict(marker=dict(opacity=1.0), textfont=dict(color="#1E1E2E")),
            customdata=np.stack([true, pred, counts], axis=1),
            hovertemplate="true %{customdata[0]}, predicted %{customdata[1]}: "
            "%{customdata[2]} images<extra></extra>",
            showlegend=False,
        )
    )
    axis = dict(
        tickmode="array",
        tickvals=list(range(10)),
        range=[-0.6, 9.6],
        showgrid=False,
        zeroline=False,
        fixedrange=True,
    )
    fig.update_layout(
        width=520,
        height=500,
        margin=dict(l=60, r=10, t=10, b=50),
        font=FONT,
        xaxis=dict(title="predicted", side="bottom", **axis),
        yaxis=dict(title="true", autorange=None, **{**axis, "range": [9.6, -0.6]}),
        dragmode=False,
        clickmode="event+select",
        hovermode="closest",
    )
    return fig


def per_class_figure(per_class: np.ndarray) -> go.Figure:
    values = 100.0 * np.asarray(per_class, dtype=float)
    worst = int(np.argmin(values))
    colors = [WRONG_COLOR if i == worst else ACCENT for i in range(len(values))]
    fig = go.Figure(
        go.Bar(
            x=[str(i) for i in range(len(values))],
            y=values,
            marker_color=colors,
            text=[f"{v:.1f}%" for v in values],
            textposition="outside",
            hovertemplate="digit %{x}: %{y:.2f}%<extra></extra>",
        )
    )
    lo = max(0.0, float(values.min()) - 3.0)
    _layout(fig, height=300, hovermode="closest", margin=dict(l=10, r=10, t=20, b=10))
    fig.update_xaxes(title_text="true digit", type="category")
    fig.update_yaxes(range=[lo, 100.5], ticksuffix="%", title_text=None)
    return fig


def probability_figure(probs: np.ndarray, height: int = 260, title: str | None = None) -> go.Figure:
    """The ten class probabilities as bars, the most likely one highlighted."""
    probs = np.asarray(probs, dtype=float)
    best = int(np.argmax(probs))
    fig = go.Figure(
        go.Bar(
            x=[str(i) for i in range(10)],
            y=100.0 * probs,
            marker_color=[ACCENT if i == best else "#C9C4F2" for i in range(10)],
            text=[f"{100 * p:.0f}%" if p >= 0.005 else "" for p in probs],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y:.2f}%<extra></extra>",
        )
    )
    top = 40 if title else 20
    _layout(
        fig, height=height, title=title, hovermode="closest", margin=dict(l=10, r=10, t=top, b=10)
    )
    fig.update_xaxes(type="category", title_text="digit")
    fig.update_yaxes(range=[0, 112], ticksuffix="%", showticklabels=False, showgrid=False)
    return fig
