"""Fine-tune on my handwriting: a background job (the Train page's queue, caps and live chart)
that starts from a chosen model and learns the visitor's set mixed with MNIST; then the
before/after accuracy on the held-back part of the set and on the MNIST test set."""

from __future__ import annotations

import streamlit as st

from mnist_core.digits.handwriting import HELD_OUT_NOTE, HandwritingSet, trainable_problem
from mnist_core.errors import MnistError
from mnist_core.jobs import JobSnapshot
from mnist_core.train import finetune
from ui import charts, fmt, keys, state
from ui.data_gate import data_available
from ui.errors import flash, friendly_errors, guarded_callback
from ui.live import live_panel, slots
from ui.resources import get_manager, get_store
from ui.widgets import choose_stored_model

LIVE_POLL_S = 1.0
STEP_CHOICES = (50, 100, 200, 400, 800)


@guarded_callback("starting the fine-tune", keys.HW_FLASH)
def _start(model_id: str) -> None:
    ss = st.session_state
    s: HandwritingSet = ss[keys.HW_SET]
    current = _snapshot()
    if current is not None and not current.done:
        flash(keys.HW_FLASH, "info", f"{current.name} is already under way.")
        return
    ckpt = get_store().load(model_id)
    try:
        config, data = finetune.prepare(ckpt, s, steps=int(ss[keys.HW_STEPS]))
    except MnistError as e:
        flash(keys.HW_FLASH, "error", f"Cannot fine-tune: {e}")
        return
    base = ckpt.name or ckpt.model
    tags = {
        "finetune_of": base,
        "finetune_base_test_accuracy": ckpt.test_accuracy,
        "personal_held_out": len(data.held_y),
        "personal_train": len(data.train_y),
    }
    ss[keys.HW_JOB] = get_manager().submit(
        config, state.owner(), name=f"{base} (my handwriting)", tags=tags, finetune=data
    )


@guarded_callback("stopping the fine-tune", keys.HW_FLASH)
def _stop(job_id: str) -> None:
    get_manager().stop(job_id)


def _snapshot() -> JobSnapshot | None:
    job_id = st.session_state[keys.HW_JOB]
    if job_id is None:
        return None
    try:
        return get_manager().snapshot(job_id)
    except MnistError:  # trimmed, or the server restarted
        return None


def _result(snap: JobSnapshot) -> None:
    tags = snap.tags
    before, after = tags.get("personal_accuracy_before"), tags.get("personal_accuracy_after")
    test_before = tags.get("finetune_base_test_accuracy")
    test_after = snap.ended.test_accuracy if snap.ended else None
    cols = st.columns(2)
    cols[0].metric(
        f"Held-back digits of yours ({tags.get('personal_held_out', 0)})",
        fmt.percent(after, 1),
        delta=None if before is None or after is None else f"{100 * (after - before):+.1f} points",
        help=f"Before: {fmt.percent(before, 1)}. {HELD_OUT_NOTE}",
    )
    cols[1].metric(
        "MNIST test set (10,000)",
        fmt.percent(test_after),
        delta=None
        if test_before is None or test_after is None
        else f"{100 * (test_after - test_before):+.2f} points",
        help=f"Before: {fmt.percent(test_before)}. Mixing MNIST into the fine-tune keeps it.",
    )
    if snap.checkpoint_id:
        st.success(
            f"Saved as **{snap.name}**: choose it in *Model* above, or on any page.",
            icon=":material/check_circle:",
        )
    elif snap.save_error:
        st.error(snap.save_error)


def _live() -> None:
    (part,) = slots(1)  # one part in every run, whatever it shows (`ui.live`)
    with part, friendly_errors("showing the fine-tune"):
        snap = _snapshot()
        if snap is None:
            return
        if snap.done != st.session_state.get("hw_seen_done"):
            st.session_state["hw_seen_done"] = snap.done
            st.rerun(scope="app")  # started or ended: redraw the buttons and stop polling
        st.markdown(f"**{snap.name}** · {snap.message}")
        if snap.status == "finished":
            _result(snap)
            return
        if snap.done:
            st.warning(snap.error or snap.message)
            return
        frac = snap.step / snap.total_steps if snap.total_steps else 0.0
        st.progress(min(1.0, frac), text=f"Step {snap.step:,} of {snap.total_steps:,}")
        if snap.steps:
            st.plotly_chart(
                charts.loss_figure(charts.curve_from_snapshot(snap)),
                key="hw_loss",
                config={"displayModeBar": False},
            )


def tuning_tab() -> None:
    ss = st.session_state
    s: HandwritingSet = ss[keys.HW_SET]
    models = get_store().list(state.owner())
    if not models:
        st.caption("There is no model to fine-tune yet.")
        return
    if not data_available("the Draw page", "fine-tune (MNIST is mixed in, so it does not forget)"):
        return
    m = choose_stored_model(models, keys.HW_BASE, label="Model to fine-tune")
    st.select_slider(
        "Training steps",
        STEP_CHOICES,
        key=keys.HW_STEPS,
        help="Each step trains on a batch of up to 128 images, a quarter of them yours.",
    )
    problem = trainable_problem(s)
    snap = _snapshot()
    running = snap is not None and not snap.done
    cols = st.columns([1, 1, 2])
    cols[0].button(
        "Fine-tune on my handwriting",
        key="hw_finetune",
        type="primary",
        icon=":material/model_training:",
        disabled=problem is not None or running,
        on_click=_start,
        args=(m.id,),
        help=problem or "A new model: this one's weights, trained further on your digits.",
    )
    if running:
        cols[1].button(
            "Stop", key="hw_stop", icon=":material/stop:", on_click=_stop, args=(snap.job_id,)
        )
    if problem is not None:
        st.caption(problem)
    st.caption(HELD_OUT_NOTE)
    live_panel(_live, every=LIVE_POLL_S if running else None, key="live_finetune")
