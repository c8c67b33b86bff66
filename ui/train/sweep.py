"""The Train page's Sweep mode: up to 3 settings to vary, the runs it makes, their progress.

Everything not varied comes from the sidebar (the base config). The runs are ordinary jobs of
the job manager (`JobManager.submit_sweep`); the progress view polls it and renews their
lease while it is shown (the sidebar does too, on every page).
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from mnist_core.errors import ConfigError
from mnist_core.jobs import ACTIVE_STATUSES, SweepSnapshot
from mnist_core.models import get_spec
from mnist_core.train.config import TrainConfig
from mnist_core.train.sweep import MAX_PARAMS, MAX_RUNS, SweepParam, SweepSpec, sweepable_fields
from mnist_core.words import count_of
from ui import charts, fmt, keys, state
from ui.errors import flash, friendly_errors, guarded_callback
from ui.live import live_panel, slots
from ui.resources import get_manager
from ui.train.estimate import sweep_estimate
from ui.train_form import labels

SWEEP_POLL_S = 1.0
NO_SETTING = ""  # the "not used" choice of a row's setting (its default: ui.state)
VALUES_HELP = (
    "A list of values, comma-separated (`0.001, 0.003, 0.01`), or a range `LO:HI` to draw "
    "random samples from (`1e-4:1e-1`; the learning rate is sampled on a log scale, any "
    "other setting too with `LO:HI:log`)."
)


def sweep_spec(
    base: TrainConfig,
    rows: Sequence[tuple[str, str]],
    samples: int,
    name: str = "",
) -> SweepSpec:
    """The sweep of the form's rows ((setting, values text); rows without a setting are
    ignored). A range for the learning rate is log-uniform. ConfigError naming the value
    when something cannot be used."""
    params = []
    for setting, text in rows:
        if not setting:
            continue
        text = text.strip()
        if not text:
            raise ConfigError(f"Give values for {labels.LABELS.get(setting, setting)}.")
        if ":" in text:
            if setting == "lr" and not text.lower().endswith(":log"):
                text += ":log"
            params.append(SweepParam.range(setting, text))
        else:
            params.append(SweepParam.grid(setting, text))
    ranges = any(p.is_range for p in params)
    return SweepSpec(base, tuple(params), samples=samples if ranges else 0, name=name)


def _rows() -> list[tuple[str, str]]:
    ss = st.session_state
    return [
        (ss[keys.sweep_setting_key(i)] or NO_SETTING, ss[keys.sweep_values_key(i)] or "")
        for i in range(MAX_PARAMS)
    ]


@guarded_callback("starting the sweep", keys.TRAIN_FLASH)
def _start(base: TrainConfig) -> None:
    ss = st.session_state
    try:
        spec = sweep_spec(base, _rows(), int(ss[keys.TRAIN_SWEEP_SAMPLES]))
    except ConfigError as e:
        flash(keys.TRAIN_FLASH, "error", f"Cannot start the sweep: {labels.in_form_words(str(e))}")
        return
    name = " ".join(str(ss.get(keys.TRAIN_SWEEP_NAME) or "").split()) or None
    ss[keys.TRAIN_SWEEP] = get_manager().submit_sweep(spec, state.owner(), name)
    ss[keys.TRAIN_SWEEP_NAME] = ""


@guarded_callback("stopping the sweep", keys.TRAIN_FLASH)
def _stop(sweep_id: str) -> None:
    n = get_manager().stop_sweep(sweep_id)
    flash(keys.TRAIN_FLASH, "info", f"Stopped {n} run{'s' if n != 1 else ''} of the sweep.")


def current_sweep() -> SweepSnapshot | None:
    """The sweep this visitor started last (None before one, or once it was forgotten)."""
    sweep_id = st.session_state[keys.TRAIN_SWEEP]
    if not sweep_id:
        return None
    try:
        return get_manager().sweep(sweep_id)
    except KeyError:  # JobNotFound: forgotten, or the server restarted
        return None


def _setting_label(name: str) -> str:
    return "(none)" if not name else labels.LABELS.get(name, name)


def render_form(base: TrainConfig | None, busy: bool) -> None:
    """The rows, the run count, and Start sweep. `busy`: a sweep of this visitor is under way."""
    with st.container(border=True):
        st.markdown("**Vary up to three settings**; the rest come from the sidebar.")
        options = [NO_SETTING, *sweepable_fields()]
        for i in range(MAX_PARAMS):
            c_setting, c_values = st.columns([1, 2])
            c_setting.selectbox(
                f"Setting {i + 1}",
                options,
                key=keys.sweep_setting_key(i),
                format_func=_setting_label,
                disabled=busy,
            )
            c_values.text_input(
                f"Values {i + 1}",
                key=keys.sweep_values_key(i),
                placeholder="0.001, 0.003, 0.01   or   1e-4:1e-1",
                help=VALUES_HELP,
                disabled=busy,
            )
        c_samples, c_name, c_start = st.columns([1, 2, 1.2], vertical_alignment="bottom")
        c_samples.number_input(
            "Random samples",
            min_value=1,
            max_value=MAX_RUNS,
            step=1,
            key=keys.TRAIN_SWEEP_SAMPLES,
            disabled=busy or not any(":" in values for _, values in _rows()),
            help="How many values to draw from the ranges (LO:HI); used only when a row "
            "has a range. Lists are tried in full; each random sample is tried with every "
            "combination of the lists.",
        )
        c_name.text_input(
            "Sweep name (optional)",
            key=keys.TRAIN_SWEEP_NAME,
            placeholder="e.g. learning rate vs batch size",
            max_chars=60,
            disabled=busy,
        )
        spec, problem = None, None
        if base is not None:
            try:
                spec = sweep_spec(base, _rows(), int(st.session_state[keys.TRAIN_SWEEP_SAMPLES]))
            except ConfigError as e:
                problem = labels.in_form_words(str(e))
        c_start.button(
            f"Start sweep ({spec.n_runs} runs)" if spec else "Start sweep",
            key="train_sweep_start",
            type="primary",
            icon=":material/grid_view:",
            on_click=_start,
            args=(base,),
            disabled=busy or spec is None,
            width="stretch",
            help="Your sweep is under way: stop it first." if busy else None,
        )
        if problem:
            st.error(problem, icon=":material/tune:")
        elif spec is not None:
            configs = spec.configs()
            measuring = sweep_estimate(configs) is None
            live_panel(
                _estimate,
                configs,
                measuring,
                every=1.0 if measuring else None,
                key="live_sweep_estimate",
            )
            title = get_spec(spec.base.model).title
            epochs = spec.base.epochs
            st.caption(
                f"{spec.n_runs} runs of {title}, {epochs} epoch{'s' if epochs != 1 else ''} "
                f"each, one after another in the training queue (at most {MAX_RUNS} per "
                "sweep). Each finished run is saved as a model; compare them on the Compare "
                "page."
            )


def _estimate(configs: list[TrainConfig], polling: bool) -> None:
    """The sweep's estimate; while its setups' speeds are measured (one at a time, in the
    background) it polls, and redraws the page once they are known (issue 27, item 2)."""
    (line,) = slots(1)  # one part in every run, drawn or not (`ui.live`)
    estimate = sweep_estimate(configs)
    if estimate is not None and polling:
        st.rerun(scope="app")
    if estimate:
        line.caption(f"Estimated time: **{estimate}**, one run after another.")
    elif estimate is None:
        line.caption("Estimated time: measuring the speed of these setups on this machine…")


def _run_rows(snap: SweepSnapshot) -> list[dict[str, object]]:
    best = snap.best
    return [
        {
            "Run": r.label,
            "Status": r.status.capitalize(),
            # Text: a run that never trained has no figure, and a number column showed "None".
            "Test accuracy": "—" if r.test_accuracy is None else fmt.percent(r.test_accuracy),
            "Wall time": fmt.duration(r.elapsed_s) if r.elapsed_s and r.status != "queued" else "",
            "Best": "★" if best is not None and r.job_id == best.job_id else "",
        }
        for r in snap.runs
    ]


def _live(sweep_id: str) -> None:
    (part,) = slots(1)  # one part in every run, whatever it shows (`ui.live`)
    with part, friendly_errors("showing the sweep's progress"):
        manager = get_manager()
        try:
            snap = manager.sweep(sweep_id)
        except KeyError:
            st.info("This sweep is no longer available (the server may have restarted).")
            return
        if not snap.finished:
            manager.heartbeat_sweeps(state.owner())
        if snap.finished != st.session_state[keys.TRAIN_SWEEP_SEEN_DONE]:
            st.session_state[keys.TRAIN_SWEEP_SEEN_DONE] = snap.finished
            st.rerun(scope="app")  # redraw the form (enabled again) and stop polling
        show_progress(snap)


def show_progress(snap: SweepSnapshot) -> None:
    """A sweep's progress: counts, best so far, time left, its runs, and the running one's
    curves."""
    total = len(snap.runs)
    status = snap.status  # a stopped sweep says so everywhere (issue 27, item 4)
    finished, stopped = snap.count("finished"), snap.count("stopped")
    st.subheader(f"{snap.name} &nbsp; {fmt.status_badge(status)}", anchor=False)
    if status == "running":
        text = f"{snap.done} of {count_of(total, 'run')} done"
    else:
        text = f"{finished} of {count_of(total, 'run')} finished" + (
            f", {stopped} stopped" if stopped else ""
        )
    st.progress(snap.done / total if total else 0.0, text=text)
    c = st.columns(5)
    c[0].metric("Finished", finished)
    if status == "running":
        c[1].metric("Running", snap.running)
        c[2].metric("Queued", snap.queued)
    else:
        c[1].metric("Stopped", stopped)
        c[2].metric("Failed", snap.count("failed", "diverged"))
    best = snap.best
    best_label = "Best so far" if status == "running" else "Best"
    c[3].metric(best_label, fmt.percent(best.test_accuracy) if best else "—")
    if snap.finished:  # the runs' own times added up (they run one after another on a CPU)
        c[4].metric("Total wall time", fmt.duration(sum(r.elapsed_s for r in snap.runs)))
    else:
        c[4].metric("Time left", fmt.duration(snap.seconds_left))
    if best is not None:
        st.caption(
            f"{best_label}: **{best.label}**, test accuracy {fmt.percent(best.test_accuracy)}."
        )
    st.dataframe(
        _run_rows(snap),
        hide_index=True,
        key=f"train_sweep_runs_{snap.sweep_id}",
    )
    if not snap.finished:
        st.button(
            "Stop sweep",
            key="train_sweep_stop",
            icon=":material/stop:",
            on_click=_stop,
            args=(snap.sweep_id,),
        )
        running = next((r for r in snap.runs if r.status in ACTIVE_STATUSES), None)
        if running is not None:
            _running_charts(running.job_id, running.label)
    else:
        st.page_link(
            "pages/compare.py",
            label="Compare the runs",
            icon=":material/compare_arrows:",
        )


def _running_charts(job_id: str, label: str) -> None:
    try:
        job = get_manager().snapshot(job_id)
    except KeyError:
        return
    run = charts.curve_from_snapshot(job)
    if not run.steps:
        return
    st.markdown(f"**Now training:** {label}")
    left, right = st.columns(2)
    left.plotly_chart(
        charts.loss_figure(run), key="train_sweep_loss", config={"displaylogo": False}
    )
    if run.epochs or run.test_points:
        right.plotly_chart(
            charts.accuracy_figure(run), key="train_sweep_accuracy", config={"displaylogo": False}
        )


def render(base: TrainConfig | None) -> None:
    """Sweep mode: the form, then the progress of this visitor's latest sweep."""
    snap = current_sweep()
    busy = snap is not None and not snap.finished
    render_form(base, busy)
    if snap is None:
        return
    st.session_state[keys.TRAIN_SWEEP_SEEN_DONE] = snap.finished
    live_panel(
        _live, snap.sweep_id, every=None if snap.finished else SWEEP_POLL_S, key="live_sweep"
    )
