"""Compare: which setting is better? Every model in one table, the chosen runs' curves
overlaid, a sweep on parallel coordinates, and a run's settings back on Train."""

from __future__ import annotations

import streamlit as st

from mnist_core.errors import MnistError
from mnist_core.storage.store import slugify
from ui import compare, compare_charts, keys, state
from ui.compare import Run
from ui.errors import friendly_errors
from ui.resources import get_store
from ui.shell import page_guard
from ui.widgets import one_of

PLOT_CONFIG = {"displaylogo": False}
ONLY_PRETRAINED_NOTE = (
    "Only the pretrained models so far: tick two to overlay their curves. Train two runs (or a "
    "sweep on Train) and they appear here beside them."
)
EMPTY_NOTE = (
    "Nothing with curves to compare yet. Train two runs (or a sweep on Train) and they appear "
    "here, with their loss and accuracy curves overlaid. The models below have no saved "
    "curves, only their final figures."
)


def _runs() -> list[Run]:
    """Every model of this visitor and the pretrained ones, as the store lists them."""
    runs, unreadable = [], []
    for stored in get_store().list(state.owner()):
        try:
            runs.append(compare.load_run(stored))
        except MnistError:  # deleted or rewritten since it was listed
            unreadable.append(stored.name)
    if unreadable:
        st.warning(f"Could not read {', '.join(unreadable)}: left out of the table.")
    return runs


def _keep_selection(runs: list[Run]) -> None:
    """The table's selected rows, kept on the same runs when the list changed since the
    last run of the page (a new run is listed first and would shift them)."""
    ss = st.session_state
    ids = [r.id for r in runs]
    old = ss.get(keys.COMPARE_TABLE_IDS)
    if old is not None and old != ids:
        current = ss.get(keys.COMPARE_TABLE) or {}
        rows = (current.get("selection") or {}).get("rows") or []
        ss[keys.COMPARE_TABLE] = {"selection": {"rows": compare.remap_rows(old, ids, rows)}}
    ss[keys.COMPARE_TABLE_IDS] = ids


def _table(runs: list[Run]) -> list[Run]:
    """The table; returns the runs of the selected rows, in the table's order."""
    rows, params = compare.table_rows(runs)
    _keep_selection(runs)
    percent = st.column_config.NumberColumn(format="%.2f%%")
    # Numeric settings as they were given (0.003, 128), sorting as numbers.
    settings = {
        compare.param_label(p): st.column_config.NumberColumn(format="%g")
        for p in compare.numeric_params(rows, params)
    }
    event = st.dataframe(
        compare.display_rows(rows, params),
        key=keys.COMPARE_TABLE,
        on_select="rerun",
        selection_mode="multi-row",
        hide_index=True,
        placeholder="–",  # a figure the file does not record
        column_config={
            "Test accuracy": st.column_config.NumberColumn(
                format="%.2f%%", help="On the 10,000 MNIST test images, at the end."
            ),
            "Best validation": percent,
            "Best test": percent,
            "Best epoch": st.column_config.NumberColumn(
                format="%d",
                help="The epoch of the best validation accuracy (else of the best test "
                "accuracy). –: no curves saved.",
            ),
            "Training time (s)": st.column_config.NumberColumn(
                format="%.1f", help="Time in training steps, without the evaluations."
            ),
            "Images / s": st.column_config.NumberColumn(format="localized"),
            "Parameters": st.column_config.NumberColumn(format="localized"),
            **settings,
        },
    )
    same = "" if params else " (all of them were trained with the same settings)"
    st.caption(
        f"Only the settings that differ between the models listed have a column{same}. "
        "Tick rows to overlay their curves below."
    )
    st.download_button(
        "Download the table (CSV)",
        data=compare.table_csv(rows, params),
        file_name="mnist-compare.csv",
        mime="text/csv",
        key="compare_csv",
        icon=":material/download:",
        on_click="ignore",
    )
    return [runs[i] for i in event.selection.rows if 0 <= i < len(runs)]


def _names(runs: list[Run]) -> str:
    return ", ".join(f"**{r.name}**" for r in runs)


def _curves(chosen: list[Run]) -> None:
    st.subheader("Curves", anchor=False)
    if not chosen:
        st.caption("Select rows in the table to overlay their curves here.")
        return
    with_curves = [r for r in chosen if r.history is not None]
    without = [r for r in chosen if r.history is None]
    if without:
        st.caption(
            f":material/timeline: No saved curves for {_names(without)}: pretrained models, "
            "uploads of older files and runs saved before curves were kept have only their "
            "final figures."
        )
    if not with_curves:
        return
    x_axis = one_of(
        "x axis",
        compare.X_AXES,
        keys.COMPARE_X,
        help="Images seen: the epochs times the training images per epoch, so runs on "
        "different numbers of images compare fairly.",
    )
    series = [compare.series(r, x_axis) for r in with_curves]
    shown = [s for s in series if s is not None]
    missing = [r for r, s in zip(with_curves, series, strict=True) if s is None]
    if missing:
        st.caption(f"Images seen are unknown for {_names(missing)}: its settings are missing.")
    left, right = st.columns(2)
    with left:
        st.markdown("**Loss** (smoothed)")
        st.plotly_chart(
            compare_charts.compare_loss_figure(shown, x_axis),
            key="compare_loss_chart",
            config=PLOT_CONFIG,
        )
    with right:
        st.markdown("**Accuracy**: test solid, validation dashed")
        st.plotly_chart(
            compare_charts.compare_accuracy_figure(shown, x_axis),
            key="compare_accuracy_chart",
            config=PLOT_CONFIG,
        )


def _sweeps(runs: list[Run]) -> None:
    sweeps = {s.key: s for s in compare.find_sweeps(runs)}
    if not sweeps:
        return
    st.subheader("Sweeps", anchor=False)
    ss = st.session_state
    if ss.get(keys.COMPARE_SWEEP) not in sweeps:
        ss[keys.COMPARE_SWEEP] = next(iter(sweeps))
    chosen = st.selectbox(
        "Sweep",
        list(sweeps),
        format_func=lambda k: f"{sweeps[k].name} ({len(sweeps[k].runs)} runs)",
        key=keys.COMPARE_SWEEP,
    )
    sweep = sweeps[chosen]
    if not sweep.params:
        st.caption("This sweep's runs do not say which settings it varied.")
        return
    scored = sweep.scored
    if not scored:
        st.caption(compare.best_caption(sweep))
        return
    figure = compare_charts.sweep_figure(
        sweep.params, compare.sweep_values(sweep), [r.test_accuracy or 0.0 for r in scored]
    )
    st.plotly_chart(figure, key="compare_sweep_chart", config=PLOT_CONFIG)
    left_out = len(sweep.runs) - len(scored)
    st.caption(
        compare.best_caption(sweep)
        + ". One line per run, coloured by its test accuracy; drag along an axis to pick "
        "out the runs in a range."
        + (f" {left_out} run(s) without a test accuracy are left out." if left_out else "")
    )


def _run_actions(chosen: list[Run]) -> None:
    """Train again with a selected run's settings; download its history."""
    if not chosen:
        return
    st.subheader("A selected run", anchor=False)
    by_id = {r.id: r for r in chosen}
    ss = st.session_state
    if ss.get(keys.COMPARE_RUN) not in by_id:
        ss[keys.COMPARE_RUN] = chosen[0].id
    run = by_id[
        st.selectbox(
            "Run",
            list(by_id),
            format_func=lambda i: by_id[i].name,
            key=keys.COMPARE_RUN,
            disabled=len(chosen) == 1,
        )
    ]
    left, right = st.columns(2)
    params = compare.train_again_params(run)
    if params is None:
        left.caption("Its file records no training settings to train again with.")
    elif left.button(
        "Train again with these settings", key="compare_train_again", icon=":material/replay:"
    ):
        # Train applies a link's settings once per session: once more for this one.
        ss[keys.TRAIN_QP_LOADED] = False
        st.switch_page("pages/train.py", query_params=params)
    right.download_button(
        "Download its history (JSON)",
        data=compare.history_json(run) if run.history is not None else "",
        file_name=f"{slugify(run.name)}-history.json",
        mime="application/json",
        key="compare_history_download",
        icon=":material/download:",
        on_click="ignore",
        disabled=run.history is None,
    )
    if run.history is None:
        right.caption(f"No curves saved for {run.name}: there is no history to download.")


def main() -> None:
    st.title("Compare", anchor=False)
    st.caption(
        "Which setting is better? Your models and the pretrained ones side by side: tick rows "
        "to overlay their curves, look at a sweep as a whole, and train a run again."
    )
    runs = _runs()
    note = None
    if runs and all(r.read_only for r in runs):
        note = ONLY_PRETRAINED_NOTE
    elif not any(r.history is not None for r in runs):
        note = EMPTY_NOTE
    if note:
        st.info(note, icon=":material/compare_arrows:")
        st.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
    if not runs:
        return
    chosen: list[Run] = []
    with friendly_errors("showing the table"):
        chosen = _table(runs)
    with friendly_errors("drawing the curves"):
        _curves(chosen)
    with friendly_errors("showing the sweeps"):
        _sweeps(runs)
    with friendly_errors("preparing the selected run"):
        _run_actions(chosen)


if page_guard():
    with friendly_errors("showing the Compare page"):
        main()
