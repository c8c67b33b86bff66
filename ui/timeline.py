"""A model's training timeline on a page: a "Training step" slider and a Play button over the
steps its timeline keeps (`mnist_core.train.timeline`), and the model as it was at that step.

Draw (the prediction) and Mistakes (the confusion matrix and the rest) draw their part with
`timeline_panel(stored, page, body)`, which calls `body(step)` under the controls: `step` is
the chosen step, or None for a model without a timeline (then `body(None)` alone, the page as
it always was). `model_at(stored, step)` and `evaluation_at(stored, step)` give that step's
model and its test-set evaluation. Inside can use the same three.

The slider starts at the last step: the saved model itself (its snapshot is exactly the saved
weights, `mnist_core.storage.timelines.check_belongs`), so a model looks as it did before it
had a timeline until someone moves the slider back.

Play: while playing, the panel is a fragment rerun every `PLAY_EVERY_S`, each tick moving the
slider one step on; at the last step, or when someone moves the slider or presses Pause, the
whole page runs once more with the panel drawn plainly, which stops the timer.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st
from torch import nn

from mnist_core.data.mnist import find_data_dir
from mnist_core.errors import TimelineError
from mnist_core.storage.store import StoredModel
from mnist_core.storage.timelines import TimelineLoad
from mnist_core.train.evaluation import EvalResult, evaluate
from mnist_core.train.timeline import Timeline
from ui import keys
from ui.resources import get_data_source, get_evaluation, get_store, model_version

__all__ = [
    "PLAY_EVERY_S",
    "chosen_step",
    "evaluation_at",
    "final_step",
    "model_at",
    "timeline_of",
    "timeline_panel",
]

# A step a second: the 16 steps of a timeline play in 16 s, slow enough to read each guess.
PLAY_EVERY_S = 1.0


def timeline_of(stored: StoredModel | None) -> TimelineLoad | None:
    """The timeline of a stored model, or why it has none; None for no model (a live one)."""
    return get_store().timeline(stored.id) if stored is not None else None


def final_step(stored: StoredModel) -> int | None:
    """The last step of `stored`'s timeline (its saved weights); None without a timeline."""
    loaded = timeline_of(stored)
    return loaded.timeline.final_step if loaded and loaded.timeline is not None else None


def _timeline(stored: StoredModel) -> Timeline:
    loaded = get_store().timeline(stored.id)
    if loaded.timeline is None:
        raise TimelineError(loaded.reason)
    return loaded.timeline


def model_at(stored: StoredModel, step: int) -> nn.Module:
    """`stored`'s model after `step` training steps (one its timeline keeps), CPU, eval mode:
    a fresh module each call (1-3 ms; the timeline's snapshots are cached by the store)."""
    return _timeline(stored).model_at(step)


@st.cache_resource(show_spinner=False, max_entries=32)
def _evaluation_at(model_id: str, version: float, step: int, data_folder: str) -> EvalResult:
    stored = get_store().get(model_id)
    raw = get_data_source()()
    return evaluate(model_at(stored, step), raw.test_images, raw.test_labels)


def evaluation_at(stored: StoredModel, step: int | None) -> EvalResult:
    """`stored`'s evaluation on the 10,000 test images at `step` (None or the last step: the
    saved model's, shared with every page), cached per step."""
    if step is None or step == _timeline(stored).final_step:
        return get_evaluation(stored)
    folder = find_data_dir()
    return _evaluation_at(
        stored.id, model_version(stored), step, str(folder.resolve()) if folder else ""
    )


def chosen_step(stored: StoredModel | None, page: str) -> int | None:
    """The step `page`'s slider has for `stored` (None: no timeline, or not drawn yet)."""
    step_key, _, of_key = keys.timeline_keys(page)
    ss = st.session_state
    if stored is None or ss.get(of_key) != stored.id:
        return None
    step = ss.get(step_key)
    return step if isinstance(step, int) else None


def timeline_panel(
    stored: StoredModel | None, page: str, body: Callable[[int | None], None]
) -> None:
    """`body(step)` under the "Training step" slider and Play button of `stored`'s timeline;
    `body(None)` (in a container, the same shape) when there is no timeline to show."""
    loaded = timeline_of(stored)
    if stored is None or loaded is None or loaded.timeline is None:
        with st.container():
            body(None)
        return
    timeline = loaded.timeline
    step_key, play_key, of_key = keys.timeline_keys(page)
    ss = st.session_state
    if ss.get(of_key) != stored.id or ss.get(step_key) not in timeline.steps:
        ss[step_key], ss[play_key], ss[of_key] = timeline.final_step, None, stored.id
    playing = ss.get(play_key) is not None

    def panel() -> None:
        if (ss.get(play_key) is not None) != playing:  # Play, Pause or a moved slider
            st.rerun(scope="app")  # the page again: starts or stops the timer
        if playing and _advance(timeline, step_key, play_key):
            st.rerun(scope="app")  # the last step: drawn once more, without the timer
        _controls(timeline, loaded.reason, step_key, play_key, page)
        body(ss[step_key])

    if playing:
        st.fragment(run_every=PLAY_EVERY_S)(panel)()
    else:
        with st.container():
            panel()


def _advance(timeline: Timeline, step_key: str, play_key: str) -> bool:
    """On a tick of the timer, the next step; True when that is the last one (play ends)."""
    ss = st.session_state
    now = time.monotonic()
    if now - float(ss[play_key]) < 0.8 * PLAY_EVERY_S:  # the run that started the timer
        return False
    i = timeline.index_of(ss[step_key]) + 1
    ss[step_key], ss[play_key] = timeline.steps[min(i, len(timeline.steps) - 1)], now
    if i >= len(timeline.steps) - 1:
        ss[play_key] = None
        return True
    return False


def _play(timeline: Timeline, step_key: str, play_key: str) -> None:
    ss = st.session_state
    if ss.get(play_key) is not None:
        ss[play_key] = None
        return
    if ss[step_key] == timeline.final_step:  # from the start again
        ss[step_key] = timeline.steps[0]
    ss[play_key] = time.monotonic()


def _pause(play_key: str) -> None:
    st.session_state[play_key] = None


def _controls(timeline: Timeline, note: str, step_key: str, play_key: str, page: str) -> None:
    ss = st.session_state
    playing = ss.get(play_key) is not None
    button, slider = st.columns([1, 4], vertical_alignment="bottom")
    button.button(
        "Pause" if playing else "Play",
        key=f"{page}_timeline_play_button",
        icon=":material/pause:" if playing else ":material/play_arrow:",
        help="Replay the training: the model at each step the timeline keeps, one a second.",
        on_click=_play,
        args=(timeline, step_key, play_key),
        width="stretch",
    )
    slider.select_slider(
        "Training step",
        options=list(timeline.steps),
        key=step_key,
        format_func=lambda s: f"{s:,}",
        on_change=_pause,
        args=(play_key,),
        help="The model as it was after this many training steps (updates of its weights). "
        "The steps are spaced on a log scale: a network learns most in its first steps.",
    )
    step, final = ss[step_key], timeline.final_step
    if step == 0:
        what = "before its first training step: random weights, so every digit gets about 10%"
    elif step == final:
        what = f"after all {final:,} training steps: the saved model"
    else:
        what = f"after {step:,} of its {final:,} training steps"
    st.caption(f"The model {what}. {note}".strip())
