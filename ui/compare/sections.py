"""The Compare page's sections, drawn from the plain data of `runs`, `table`, `curves` and
`sweeps`: the table of runs (its selection kept on the same runs), the chosen runs' curves, a
sweep on parallel coordinates, and the selected run's Train link and history download."""

from __future__ import annotations

import streamlit as st

from mnist_core.storage.store import slugify
from ui import keys
from ui.compare import charts, curves, table
from ui.compare.runs import Run, history_json, param_label, train_again_params
from ui.compare.sweeps import Sweep, best_caption, sweep_values
from ui.widgets import one_of

PLOT_CONFIG = {"displaylogo": False}


def keep_selection(runs: list[Run]) -> None:
    """The table's selected rows, kept on the same runs when the list changed since the
    last run of the page (a new run is listed first and would shift them)."""
    ss = st.session_state
    ids = [r.id for r in runs]
    old = ss.get(keys.COMPARE_TABLE_IDS)
    if old is not None and old != ids:
        current = ss.get(keys.COMPARE_TABLE) or {}
        rows = (current.get("selection") or {}).get("rows") or []
        ss[keys.COMPARE_TABLE] = {"selection": {"rows": table.remap_rows(old, ids, rows)}}
    ss[keys.COMPARE_TABLE_IDS] = ids


def show_table(runs: list[Run]) -> list[Run]:
    """The table; returns the runs of the selected rows, in the table's order."""
    rows, params = table.table_rows(runs)
    keep_selection(runs)
    percent = st.column_config.NumberColumn(format="%.2f%%")
    # Numeric settings as they were given (0.003, 128), sorting as numbers.
    settings = {
        param_label(p): st.column_config.NumberColumn(format="%g")
        for p in table.numeric_params(rows, params)
    }
    event = st.dataframe(
        table.display_rows(rows, params),
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
        data=table.table_csv(rows, params),
        file_name="mnist-compare.csv",
        mime="text/csv",
        key="compare_csv",
        icon=":material/download:",
        on_click="ignore",
    )
    return [runs[i] for i in event.selection.rows if 0 <= i < len(runs)]


def names(runs: list[Run]) -> str:
    return ", ".join(f"**{r.name}**" for r in runs)


def show_curves(chosen: list[Run]) -> None:
    if not chosen:
        st.caption("Select rows in the table to overlay their curves here.")
        return
    with_curves = [r for r in chosen if r.history is not None]
    without = [r for r in chosen if r.history is None]
    if without:
        st.caption(
            f":material/timeline: No saved curves for {names(without)}: pretrained models, "
            "uploads of older files and runs saved before curves were kept have only their "
            "final figures."
        )
    if not with_curves:
        return
    x_axis = one_of(
        "x axis",
        curves.X_AXES,
        keys.COMPARE_X,
        help="Images seen: the epochs times the training images per epoch, so runs on "
        "different numbers of images compare fairly.",
    )
    series = [curves.series(r, x_axis) for r in with_curves]
    shown = [s for s in series if s is not None]
    missing = [r for r, s in zip(with_curves, series, strict=True) if s is None]
    if missing:
        st.caption(f"Images seen are unknown for {names(missing)}: its settings are missing.")
    left, right = st.columns(2)
    with left:
        st.markdown("**Loss** (smoothed)")
        st.plotly_chart(
            charts.compare_loss_figure(shown, x_axis),
            key="compare_loss_chart",
            config=PLOT_CONFIG,
        )
    with right:
        st.markdown("**Accuracy**: test solid, validation dashed")
        st.plotly_chart(
            charts.compare_accuracy_figure(shown, x_axis),
            key="compare_accuracy_chart",
            config=PLOT_CONFIG,
        )


def show_sweeps(found: list[Sweep]) -> None:
    """The sweeps (`find_sweeps`), one at a time, on parallel coordinates."""
    sweeps = {s.key: s for s in found}
    if not sweeps:
        return
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
        st.caption(best_caption(sweep))
        return
    figure = charts.sweep_figure(
        sweep.params, sweep_values(sweep), [r.test_accuracy or 0.0 for r in scored]
    )
    st.plotly_chart(figure, key="compare_sweep_chart", config=PLOT_CONFIG)
    left_out = len(sweep.runs) - len(scored)
    st.caption(
        best_caption(sweep)
        + ". One line per run, coloured by its test accuracy; drag along an axis to pick "
        "out the runs in a range."
        + (f" {left_out} run(s) without a test accuracy are left out." if left_out else "")
    )


def run_actions(chosen: list[Run]) -> None:
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
    params = train_again_params(run)
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
        data=history_json(run) if run.history is not None else "",
        file_name=f"{slugify(run.name)}-history.json",
        mime="application/json",
        key="compare_history_download",
        icon=":material/download:",
        on_click="ignore",
        disabled=run.history is None,
    )
    if run.history is None:
        right.caption(f"No curves saved for {run.name}: there is no history to download.")
