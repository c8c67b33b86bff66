"""The embedding map: test digits placed by what the model's penultimate layer sees.

Clicking a point makes that test image the digit of the page (the chart's selection callback
sets the digit widgets' state before the next run draws them).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from mnist_core.data.mnist import MnistRaw
from mnist_core.explain import EmbeddingMap, TsneTask, place_digit
from ui import keys
from ui.errors import friendly_errors
from ui.inside.common import Digit, Subject, map_of, tsne_task
from ui.live import live_panel, slots
from ui.widgets import one_of

# One colour per true label (Plotly's D3 palette, ten distinct hues).
LABEL_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
PROJECTIONS = {"pca": "PCA (fast)", "tsne": "t-SNE (slower, once per checkpoint)"}
# While a t-SNE map is computed in the background the panel shows the PCA map and looks again
# this often; the t-SNE of 2,000 digits took 5.2 s after the click on a 2-core CPU, drawn in the
# foreground (`python -m bench feel --only inside`, issue 29).
TSNE_POLL_S = 1.0
HOVER = "test image #%{customdata[0]}<br>true %{customdata[1]} · read as %{customdata[2]}"


def map_figure(emap: EmbeddingMap, star: np.ndarray | None, height: int = 560) -> go.Figure:
    """Round markers for digits read right, squares outlined in black for mistakes, coloured
    by true label (legend 0-9); the current digit as a star. customdata = (index, label,
    prediction)."""
    fig = go.Figure()
    for label in range(10):
        for wrong in (False, True):
            sel = (emap.labels == label) & (emap.mistakes == wrong)
            if not sel.any():
                continue
            fig.add_trace(
                go.Scatter(
                    # plain lists: the browser's chart then holds the points as arrays
                    x=emap.points[sel, 0].tolist(),
                    y=emap.points[sel, 1].tolist(),
                    mode="markers",
                    name=f"{label}" + (" (mistakes)" if wrong else ""),
                    legendgroup=str(label),
                    showlegend=not wrong,
                    marker=dict(
                        color=LABEL_COLORS[label],
                        symbol="square" if wrong else "circle",
                        size=9 if wrong else 6,
                        opacity=1.0 if wrong else 0.7,
                        line=dict(color="black", width=1.5) if wrong else dict(width=0),
                    ),
                    customdata=np.stack(
                        [emap.indices[sel], emap.labels[sel], emap.predictions[sel]], axis=1
                    ).tolist(),
                    hovertemplate=HOVER
                    + ("<br><b>mistake</b>" if wrong else "")
                    + "<extra></extra>",
                )
            )
    if star is not None:
        fig.add_trace(
            go.Scatter(
                x=[float(star[0])],
                y=[float(star[1])],
                mode="markers",
                name="this digit",
                marker=dict(
                    symbol="star", size=22, color="gold", line=dict(color="black", width=2)
                ),
                hovertemplate="this digit<extra></extra>",
            )
        )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(title="true digit", itemsizing="constant"),
        xaxis=dict(showticklabels=False, title=None, zeroline=False),
        yaxis=dict(showticklabels=False, title=None, zeroline=False),
    )
    return fig


def picked_index(points: list[dict]) -> int | None:
    """The test index of the first clicked point that is a test digit (not the star)."""
    for p in points:
        data = p.get("customdata")
        if isinstance(data, list | tuple) and data:
            try:
                return int(data[0])
            except (TypeError, ValueError):
                continue
    return None


def _on_select() -> None:
    ss = st.session_state
    event = ss.get(keys.INSIDE_MAP)
    points = list(event.selection.points) if event is not None and event.selection else []
    index = picked_index(points)
    if index is not None:  # runs before the script: the digit widgets take the new values
        ss[keys.INSIDE_SOURCE] = "Test image"
        ss[keys.INSIDE_TEST_INDEX] = index


def _star(subject: Subject, emap: EmbeddingMap, digit: Digit | None) -> np.ndarray | None:
    if digit is None:
        return None
    if emap.pca is not None:
        with subject.lock:
            return place_digit(subject.model, emap, digit.image)
    if digit.test_index is not None:  # t-SNE cannot place new points; a sampled one it has
        hit = np.flatnonzero(emap.indices == digit.test_index)
        if len(hit):
            return emap.points[int(hit[0])]
    return None


def render(subject: Subject, raw: MnistRaw | None, digit: Digit | None) -> None:
    """Projection chooser, the map with the current digit as a star, a line about it."""
    if raw is None:
        st.info("The map places MNIST test digits: get MNIST on the Train page.")
        return
    options = ["pca"] if subject.live else list(PROJECTIONS)
    projection = one_of(
        "Projection",
        options,
        keys.INSIDE_PROJECTION,
        format_func=PROJECTIONS.get,
        help="PCA keeps the two directions of largest spread; t-SNE keeps neighbours together. "
        "A model still training is mapped with PCA, redone as it learns.",
    )
    # The t-SNE map starts in the background as soon as the Map view opens, on PCA too, so that
    # it is often ready when asked for. Not when Inside opens: computed in the server's own
    # process (at a lower priority, but sharing its interpreter) it slowed every page run
    # meanwhile (Attributions 1.05 -> 1.73 s, the next page switch 0.47 -> 0.75 s; `python -m
    # bench feel`, issue 29).
    started = tsne_task(subject, raw)
    task = started if projection == "tsne" else None
    pending = task is not None and not task.future.done()
    live_panel(
        _map_panel,
        subject,
        raw,
        digit,
        task,
        pending,
        every=TSNE_POLL_S if pending else None,
        key="live_inside_map",
    )


def _map_panel(
    subject: Subject, raw: MnistRaw, digit: Digit | None, task: TsneTask | None, pending: bool
) -> None:
    """The map (a live panel while its t-SNE is computed: the PCA map meanwhile, then one full
    run of the page once the t-SNE map exists, which draws it still); the same three parts in
    every run (a note, the chart, its caption)."""
    note, chart, caption = slots(3)
    with note, friendly_errors("mapping the test digits"):
        ss = st.session_state
        shown = digit.test_index if digit is not None else None
        # The test digit a click on the map chose (None while Inside shows a drawing or an upload:
        # then nothing was picked, and the panel must not ask for a run of the page on each tick)
        picked = (
            ss.get(keys.INSIDE_TEST_INDEX)
            if ss.get(keys.INSIDE_SOURCE) == keys.INSIDE_SOURCES[0]
            else None
        )
        if pending and (task.future.done() or (picked is not None and picked != shown)):
            # The t-SNE map is there, or a clicked point picked another digit (which the page
            # around this panel draws): the whole page again, without the timer.
            st.rerun(scope="app")
        if task is not None and task.future.done():
            emap = task.future.result()  # an error in the background is raised here
        else:
            with st.spinner("Mapping the test digits …"):
                emap = map_of(subject, raw, "pca")
        if task is not None and emap.projection != "tsne":
            st.info(
                f"t-SNE of these {len(emap.points):,} test digits is being computed in the "
                f"background: about {max(1, round(task.seconds_left()))} s more. Meanwhile, "
                "their PCA map; the t-SNE map replaces it by itself.",
                icon=":material/hourglass_top:",
            )
        star = _star(subject, emap, digit)
        with chart:
            st.plotly_chart(
                map_figure(emap, star),
                key=keys.INSIDE_MAP,
                on_select=_on_select,
                selection_mode="points",
                config={"displayModeBar": False, "scrollZoom": True},
            )
        wrong = int(emap.mistakes.sum())
        where = "" if star is not None else " This digit is not on this map."
        how = "t-SNE" if emap.projection == "tsne" else "PCA"
        caption.caption(
            f"{len(emap.points):,} test digits by the model's penultimate layer ({how}), {wrong} "
            f"of them misread (squares). Hover a point for its labels; click one to look at "
            f"it.{where}"
        )
