"""The lessons on the Start here page: each one's words, its Run it, its runs live, and once they
end the check sentence with their numbers and a link to the page that shows more.

A lesson's runs go through the job manager like Train's (so they are on Models and Compare
afterwards, named "<lesson> · <run>"). Once they have all ended, what they came to is kept in
the session (`Finished`): the manager keeps only a visitor's five newest done jobs, and a
lesson of three runs would otherwise push an earlier lesson's result off the page.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import streamlit as st

from mnist_core.errors import MnistError
from mnist_core.explain import Activations, LayerInfo, activations, describe_layers
from mnist_core.explain.weights import first_layer_templates
from mnist_core.jobs import JobSnapshot
from mnist_core.train.lessons import LESSONS, Lesson, Outcome, RunResult, find_lesson, first_digits
from mnist_core.words import count_of
from ui import fmt, keys, state
from ui.charts import curve_from_snapshot
from ui.errors import flash, friendly_errors, guarded_callback, show_flashes
from ui.inside import images
from ui.inside import layers as inside_layers
from ui.live import live_panel, slots
from ui.model_choice import checkpoint_key
from ui.resources import get_data_source, get_manager, get_store
from ui.start import figures

LIVE_POLL_S = 1.0  # as Train's live panel: one refresh a second while a lesson's runs train
TEMPLATES_SHOWN = 32  # first-layer units drawn by "Inside the module"

# Where a lesson's result sends the visitor: page, button label, icon, and the session-state key
# of that page's model choice with the value that chooses a checkpoint there (None: the page
# shows every model, Compare).
_MORE = {
    "compare": ("pages/compare.py", "Compare the runs", ":material/compare_arrows:", None),
    "mistakes": (
        "pages/mistakes.py",
        "See its mistakes",
        ":material/grid_on:",
        keys.MISTAKES_MODEL,
    ),
    "inside": ("pages/inside.py", "Look inside it", ":material/neurology:", keys.INSIDE_MODEL),
    "draw": ("pages/draw.py", "Draw for it", ":material/draw:", keys.DRAW_MODEL),
}


@dataclass(frozen=True)
class Finished:
    """What a lesson's ended runs came to: their snapshots by run label, the check's
    `sentence` (or the `problem` that kept it from one), the first run's `checkpoint`, and for
    the lessons that look inside the model its `layers`, first-layer `templates` and the
    digit's `acts`."""

    snaps: dict[str, JobSnapshot]
    sentence: str | None
    problem: str | None
    checkpoint: str | None
    layers: tuple[LayerInfo, ...] = ()
    templates: np.ndarray | None = None
    acts: Activations | None = None


def _snapshot(job_id: str) -> JobSnapshot | None:
    try:
        return get_manager().snapshot(job_id)
    except (KeyError, MnistError):
        return None


@guarded_callback("starting the lesson", keys.START_FLASH)
def _on_run(key: str) -> None:
    lesson = find_lesson(key)
    manager, owner = get_manager(), state.owner()
    ids: dict[str, str] = {}
    try:
        for run in lesson.runs:
            ids[run.label] = manager.submit(
                run.config, owner, name=lesson.run_name(run), tags={"lesson": lesson.key}
            )
    except MnistError:
        for job_id in ids.values():  # all of a lesson's runs, or none
            manager.stop(job_id)
        raise
    st.session_state[keys.START_JOBS][key] = ids
    st.session_state[keys.START_DONE].pop(key, None)
    st.session_state[keys.START_SEEN_DONE][key] = False
    flash(keys.START_FLASH, "info", f"{lesson.title}: {count_of(len(ids), 'run')} queued.")


def _digits(lesson: Lesson) -> tuple[np.ndarray, str]:
    """The digits a lesson's check looks at: the Draw page's last drawing first for "What the
    network sees", else MNIST's first 100 test digits."""
    drawing = st.session_state.get(keys.INSIDE_DRAWING)
    if lesson.key == "sees" and drawing is not None:
        return np.asarray(drawing, np.float32)[None], "your last drawing"
    raw = get_data_source()()
    return first_digits(raw.test_images), f"test digit #0, a {int(raw.test_labels[0])}"


def _pretrained() -> dict[str, float]:
    """The shipped models' test accuracy by architecture (what the ResNet lesson quotes)."""
    out = {}
    for stored in get_store().list(state.owner()):
        if stored.owner is None and stored.test_accuracy is not None:  # a shipped model
            out.setdefault(stored.model, stored.test_accuracy)
    return out


def _finish(lesson: Lesson, snaps: dict[str, JobSnapshot]) -> Finished:
    """Check the ended runs against the lesson, with the first run's model where it needs it."""
    results = {
        label: RunResult(
            label,
            s.status,
            s.epochs,
            s.steps,
            s.test_accuracy,
            s.started.n_params if s.started else 0,
        )
        for label, s in snaps.items()
    }
    checkpoint = snaps[lesson.runs[0].label].checkpoint_id
    model, digits, caption = None, None, ""
    if lesson.more == "inside" and checkpoint:
        model = get_store().load(checkpoint).build_model()
        digits, caption = _digits(lesson)
    outcome = Outcome(
        results, model=model, digits=digits, digit_caption=caption, pretrained=_pretrained()
    )
    try:
        sentence, problem = lesson.check(outcome), None
    except MnistError as e:
        sentence, problem = None, str(e)
    extra: dict[str, object] = {}
    if model is not None and digits is not None and problem is None:
        if lesson.key == "module":
            extra = dict(
                layers=tuple(describe_layers(model)), templates=first_layer_templates(model)
            )
        else:
            extra = dict(acts=activations(model, digits[:1]))
    return Finished(snaps, sentence, problem, checkpoint, **extra)  # type: ignore[arg-type]


def _progress(snaps: dict[str, JobSnapshot]) -> None:
    for label, snap in snaps.items():
        text = f"{label} · {snap.message}"
        if snap.status == "queued":
            text = f"{label} · waiting for its turn ({snap.message.lower()})"
        st.progress(snap.progress, text=text)


def _figure(lesson: Lesson, snaps: dict[str, JobSnapshot]) -> None:
    """The lesson's chart: the runs overlaid as the lesson reads them."""
    curves = [dataclasses.replace(curve_from_snapshot(s), name=label) for label, s in snaps.items()]
    key = f"start_chart_{lesson.key}"
    config = {"displayModeBar": False}
    if lesson.key == "overfitting":
        fig = figures.accuracies_figure(curves, ("train", "test"))
    elif lesson.key == "resnet":
        fig = figures.accuracies_figure(curves, ("validation",))
    elif lesson.key == "learning-rate":
        fig = figures.losses_figure(curves, log_y=True)
    elif lesson.key == "loss":
        left, right = st.columns(2)
        left.plotly_chart(figures.losses_figure(curves), key=f"{key}_loss", config=config)
        right.plotly_chart(
            figures.accuracies_figure(curves, ("train", "test")), key=key, config=config
        )
        return
    else:
        fig = figures.losses_figure(curves)
    st.plotly_chart(fig, key=key, config=config)


def _more_button(lesson: Lesson, checkpoint: str | None) -> None:
    page, label, icon, choice = _MORE[lesson.more]
    if choice is None:
        st.page_link(page, label=label, icon=icon)
        return
    if st.button(label, key=f"start_more_{lesson.key}", icon=icon, disabled=not checkpoint):
        st.session_state[choice] = (
            checkpoint if choice == keys.MISTAKES_MODEL else checkpoint_key(str(checkpoint))
        )
        if lesson.key == "sees" and st.session_state.get(keys.INSIDE_DRAWING) is not None:
            st.session_state[keys.INSIDE_SOURCE] = "Drawing"
        st.switch_page(page)


def _result(lesson: Lesson, done: Finished) -> None:
    if done.sentence:
        st.success(done.sentence, icon=":material/check_circle:")
    else:
        st.warning(done.problem or "This lesson's runs did not finish.", icon=":material/warning:")
    if lesson.key == "module" and done.layers:
        weighted = [i for i in done.layers if i.params]
        st.dataframe(
            [
                {
                    "layer": i.name,
                    "kind": i.kind,
                    "output": " × ".join(map(str, i.shape)),
                    "parameters": i.params,
                }
                for i in done.layers
            ],
            hide_index=True,
            key=f"start_table_{lesson.key}",
        )
        st.caption(
            f"{len(weighted)} layers with parameters, {sum(i.params for i in weighted):,} in all."
        )
        if done.templates is not None:
            st.image(
                images.grid(done.templates[:TEMPLATES_SHOWN], 56, columns=16, signed=True),
                caption=f"The first {TEMPLATES_SHOWN} of the first layer's units' weights, as "
                "28×28 images: red where ink raises the unit's output, blue where it lowers it.",
            )
    if lesson.key == "sees" and done.acts is not None:
        inside_layers.render(done.acts)
    _more_button(lesson, done.checkpoint)


def _panel(key: str) -> None:
    """One lesson's runs: progress and chart while they train, then the result."""
    lesson = find_lesson(key)
    head, body, tail = slots(3)
    with friendly_errors(f"showing the lesson {lesson.title}"):
        ids: dict[str, str] = st.session_state[keys.START_JOBS].get(key) or {}
        kept: tuple[dict[str, str], Finished] | None = st.session_state[keys.START_DONE].get(key)
        if kept is not None and kept[0] == ids:
            with body:
                _figure(lesson, kept[1].snaps)
            with tail:
                _result(lesson, kept[1])
            return
        snaps = {label: _snapshot(job_id) for label, job_id in ids.items()}
        if any(s is None for s in snaps.values()):
            head.info(
                "This lesson's runs are no longer here (the server may have restarted): "
                "press Run it again.",
                icon=":material/history:",
            )
            return
        ready = {label: s for label, s in snaps.items() if s is not None}
        pending = [s for s in ready.values() if not s.done]
        for snap in pending:
            get_manager().heartbeat(snap.job_id)
        seen = st.session_state[keys.START_SEEN_DONE]
        if seen.get(key) != (not pending):
            # They all ended in the background: the whole page again, so that Run it is enabled
            # and this panel stops polling (as Train's live panel does).
            seen[key] = not pending
            st.rerun(scope="app")
        with head:
            _progress(ready)
        with body:
            _figure(lesson, ready)
        if not pending:
            done = _finish(lesson, ready)
            st.session_state[keys.START_DONE][key] = (dict(ids), done)
            with tail:
                _result(lesson, done)


def _pending(key: str) -> bool:
    """Whether the lesson has runs that have not ended (and are still known)."""
    ids = st.session_state[keys.START_JOBS].get(key) or {}
    kept = st.session_state[keys.START_DONE].get(key)
    if not ids or (kept is not None and kept[0] == ids):
        return False
    snaps = [_snapshot(job_id) for job_id in ids.values()]
    return any(s is not None and not s.done for s in snaps)


def _lesson(lesson: Lesson) -> None:
    started = bool(st.session_state[keys.START_JOBS].get(lesson.key))
    pending = _pending(lesson.key)
    with st.expander(f"**{lesson.title}**", expanded=started, icon=":material/school:"):
        st.markdown(lesson.watch)
        runs = ", ".join(r.label for r in lesson.runs)
        st.caption(
            f"From {lesson.source}. {count_of(len(lesson.runs), 'run')} ({runs}), "
            f"one after another: about {fmt.duration(lesson.local_s)} on a 2-core "
            f"server, about {fmt.duration(lesson.hosted_s)} on the hosted demo's single CPU "
            "(longer while other visitors train)."
        )
        st.button(
            "Run it",
            key=f"start_run_{lesson.key}",
            icon=":material/play_arrow:",
            type="primary",
            on_click=_on_run,
            args=(lesson.key,),
            disabled=pending,
            # A help text in both states: a button that gained or lost one between two runs
            # was drawn anew, and for a moment the page held both (the e2e test saw two).
            help="Its runs are under way."
            if pending
            else "Trains this lesson's runs in the job queue; they become models of yours.",
        )
        if started:
            live_panel(
                _panel,
                lesson.key,
                every=LIVE_POLL_S if pending else None,
                key=f"live_lesson_{lesson.key}",
            )


def render() -> None:
    """Every lesson, each in an expander that opens once it has been run."""
    st.header("Lessons", anchor="lessons")
    st.caption(
        "Each lesson is one experiment, run live on this server: read what to watch for, press "
        "**Run it**, and when its runs end it checks what happened against what it teaches."
    )
    show_flashes(keys.START_FLASH)
    for lesson in LESSONS:
        _lesson(lesson)
