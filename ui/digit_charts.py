"""Plotly figures of how models read digits: the confusion matrix, accuracy per digit, a digit's
ten probabilities (the Mistakes, Draw and Inside pages). Pure functions from numbers to figures
(no Streamlit), in the style of `ui.charts`.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ui.charts import ACCENT, FONT, WRONG_COLOR, base_layout


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
    base_layout(fig, height=300, hovermode="closest", margin=dict(l=10, r=10, t=20, b=10))
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
    base_layout(
        fig, height=height, title=title, hovermode="closest", margin=dict(l=10, r=10, t=top, b=10)
    )
    fig.update_xaxes(type="category", title_text="digit")
    fig.update_yaxes(range=[0, 112], ticksuffix="%", showticklabels=False, showgrid=False)
    return fig
