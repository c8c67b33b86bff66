"""Training dynamics of a run still training: per-layer weight and gradient norms and the
update/weight ratio over the logged steps, and each layer's weight histogram per epoch.

The figures are pure functions of the run's events (`StepMetrics.layers`,
`EpochMetrics.histograms`), recorded by `mnist_core.train.loop.fit`.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import streamlit as st

from mnist_core.jobs import JobSnapshot
from mnist_core.train.events import EpochMetrics, StepMetrics
from ui import keys

SERIES = {
    "weight_norm": ("Weight norm", False),
    "grad_norm": ("Gradient norm", True),
    "update_ratio": ("Update / weight ratio", True),
}


def _layout(fig: go.Figure, title: str, height: int, log_y: bool) -> go.Figure:
    fig.update_layout(
        height=height,
        title=dict(text=title, x=0, xanchor="left", font=dict(size=15)),
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
        hovermode="x unified",
    )
    fig.update_yaxes(type="log" if log_y else "linear")
    return fig


def series_figure(steps: Sequence[StepMetrics], field: str, height: int = 260) -> go.Figure:
    """One line per layer of `field` ("weight_norm", "grad_norm" or "update_ratio") over the
    logged steps (steps logged without dynamics are skipped)."""
    title, log_y = SERIES[field]
    logged = [s for s in steps if s.layers]
    fig = go.Figure()
    names = [d.name for d in logged[-1].layers] if logged else []
    for i, name in enumerate(names):
        fig.add_trace(
            go.Scatter(
                x=[s.step for s in logged],
                y=[float(getattr(s.layers[i], field)) for s in logged],
                mode="lines",
                name=f"layer {name}",
            )
        )
    fig.update_xaxes(title="step")
    return _layout(fig, title, height, log_y)


def histogram_figure(epochs: Sequence[EpochMetrics], layer: str, height: int = 300) -> go.Figure:
    """The weights of `layer` at the end of each epoch: one line per epoch, later ones darker."""
    fig = go.Figure()
    hists = [(e.epoch, h) for e in epochs for h in e.histograms if h.name == layer]
    for k, (epoch, h) in enumerate(hists):
        centres = [(a + b) / 2 for a, b in zip(h.edges, h.edges[1:], strict=False)]
        shade = 0.25 + 0.75 * (k + 1) / len(hists)
        fig.add_trace(
            go.Scatter(
                x=centres,
                y=list(h.counts),
                mode="lines",
                line=dict(shape="hvh", color=f"rgba(108, 92, 231, {shade:.2f})"),
                name=f"epoch {epoch}",
            )
        )
    fig.update_xaxes(title="weight value")
    return _layout(fig, f"Weights of layer {layer} per epoch", height, False)


def render(snap: JobSnapshot) -> None:
    """The three per-layer series, then a layer's weight histograms."""
    steps, epochs = snap.steps, snap.epochs
    if not any(s.layers for s in steps):
        st.caption("The first logged step has not come yet: the curves appear in a moment.")
        return
    st.caption(
        "How each weighted layer changes while it learns, at every logged step: the size of its "
        "weights, of their gradient, and of each update relative to the weights (around "
        "1e-3 is the usual healthy range)."
    )
    cols = st.columns(3)
    for col, field in zip(cols, SERIES, strict=True):
        col.plotly_chart(
            series_figure(steps, field),
            key=f"inside_dynamics_{field}",
            config={"displayModeBar": False},
        )
    names = [h.name for h in epochs[-1].histograms] if epochs else []
    if not names:
        st.caption("Weight histograms appear at the end of the first epoch.")
        return
    ss = st.session_state
    if ss.get(keys.INSIDE_HIST_LAYER) not in names:
        ss[keys.INSIDE_HIST_LAYER] = names[0]
    layer = st.selectbox("Layer", names, key=keys.INSIDE_HIST_LAYER, format_func="layer {}".format)
    st.plotly_chart(
        histogram_figure(epochs, layer),
        key="inside_dynamics_histogram",
        config={"displayModeBar": False},
    )
