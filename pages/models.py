"""Models: every checkpoint, to download (.pt or ONNX), upload or delete."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from mnist_core.errors import MnistError
from mnist_core.models import get_spec
from mnist_core.storage.checkpoints import Checkpoint, checkpoint_bytes
from mnist_core.storage.export import export_onnx, require_onnx
from mnist_core.storage.store import StoredModel, slugify
from ui import fmt, keys, model_info, state
from ui.errors import flash, friendly_errors, guarded_callback, show_flashes
from ui.resources import get_manager, get_store
from ui.shell import page_guard
from ui.uploads import import_upload
from ui.widgets import choose_stored_model


def _arch(m: StoredModel) -> str:
    try:
        return get_spec(m.model).title
    except KeyError:
        return m.model


def _table(models: list[StoredModel]) -> None:
    rows = [
        {
            "Name": m.name,
            "Architecture": _arch(m),
            "Test accuracy": None if m.test_accuracy is None else 100 * m.test_accuracy,
            "Parameters": m.n_params,
            "Training time": fmt.duration(m.train_seconds),
            "Created": fmt.when(m.created),
            "Kind": "Pretrained" if m.read_only else "Yours",
        }
        for m in models
    ]
    st.dataframe(
        rows,
        hide_index=True,
        key="models_table",
        column_config={
            # 0-100 %: a bar that started at 90 % showed an 84 % model as empty.
            "Test accuracy": st.column_config.ProgressColumn(
                "Test accuracy", format="%.2f%%", min_value=0, max_value=100
            ),
            "Parameters": st.column_config.NumberColumn("Parameters", format="localized"),
            "Training time": st.column_config.TextColumn(
                "Training time",
                help="Time spent in training steps. The evaluations after each epoch are not "
                "counted, so the Train page's elapsed time is longer.",
            ),
            "Created": st.column_config.TextColumn(
                "Created",
                help="When the model was trained (for an upload: as its file says). The table "
                "is sorted by it, newest first.",
            ),
        },
    )


@guarded_callback("deleting the model", keys.MODELS_FLASH)
def _delete(model_id: str, name: str) -> None:
    get_store().delete(model_id, state.owner())
    st.session_state[keys.MODELS_CHOICE] = None
    flash(keys.MODELS_FLASH, "success", f"Deleted **{name}**.")


def _file_name(m: StoredModel) -> str:
    return f"{slugify(m.name)}.pt"


ONNX_HELP = (
    "The model as ONNX, to open in Netron or serve with onnxruntime elsewhere. Input "
    "'image': float32 [N, 1, 28, 28] in [0, 1], ink 1 on black (the normalisation is inside); "
    "output 'logits': [N, 10], softmax for the probabilities. `python -m mnist_core export` "
    "writes the same file and checks it against torch on 100 test digits."
)


ONNX_CAPTION = (
    "**ONNX**: for Netron, onnxruntime or serving elsewhere. Input `image`: float32 "
    "[N, 1, 28, 28] in [0, 1], white digit on black (normalisation is inside the model); "
    "output `logits` for the digits 0-9."
)


def _onnx_bytes(ckpt: Checkpoint) -> Callable[[], bytes]:
    """The ONNX file, made when the download is clicked (Streamlit calls it then, outside the
    script run: no st.* calls in it). An exception there reaches the browser only as
    Streamlit's "Failed to generate file for download" (the traceback goes to the server
    log), so the page checks the packages first (`require_onnx`): every architecture we
    ship exports (tests/test_export.py), so a missing package is the failure to expect."""
    return lambda: export_onnx(ckpt)


def _onnx_button(m: StoredModel, ckpt: Checkpoint) -> None:
    st.download_button(
        "Download ONNX",
        data=_onnx_bytes(ckpt),  # built when clicked, not on every rerun
        file_name=f"{slugify(m.name)}.onnx",
        mime="application/octet-stream",
        key="models_download_onnx",
        icon=":material/download:",
        on_click="ignore",
        width="stretch",
        help=ONNX_HELP,
    )


def _details(m: StoredModel) -> None:
    with st.container(border=True):
        cols = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
        cols[0].markdown(
            f"**{m.name}** · {_arch(m)} · {fmt.count(m.n_params)} parameters · "
            f"{fmt.percent(m.test_accuracy)} test accuracy"
        )
        try:
            ckpt = get_store().load(m.id)
        except MnistError as e:
            ckpt = None
            cols[0].error(str(e))
        try:
            data = Path(m.path).read_bytes()
        except OSError:
            data = None
        if data is None:
            cols[1].caption("The file cannot be read any more.")
        else:
            cols[1].download_button(
                "Download .pt",
                data=data,
                file_name=_file_name(m),
                mime="application/octet-stream",
                key="models_download",
                icon=":material/download:",
                on_click="ignore",
                width="stretch",
            )
        if ckpt is not None:
            with cols[2], friendly_errors("preparing the ONNX download"):
                require_onnx()  # its message in place of a button that could only fail
                _onnx_button(m, ckpt)
        if m.read_only:
            cols[3].caption(":material/lock: Pretrained: read-only")
        elif m.owner == state.owner():
            with cols[3].popover("Delete", icon=":material/delete:", width="stretch"):
                st.markdown(f"Delete **{m.name}** for good?")
                st.button(
                    "Yes, delete it",
                    key="models_delete",
                    type="primary",
                    on_click=_delete,
                    args=(m.id, m.name),
                )
        if ckpt is None:
            return
        st.caption(ONNX_CAPTION)
        metrics = dict(ckpt.metrics)
        st.markdown(" ".join([model_info.outcome(metrics), *model_info.history(metrics)]))
        with st.expander("Training settings"):
            rows = model_info.settings_rows(
                ckpt.model, ckpt.model_kwargs, dict(ckpt.config), metrics
            )
            if not ckpt.config:
                st.caption("The file records no training settings.")
            st.table(
                {"Setting": [r[0] for r in rows], "Value": [r[1] for r in rows]},
                hide_index=True,
            )


@guarded_callback("saving the run", keys.MODELS_FLASH)
def _save_again(job_id: str) -> None:
    saved = get_store().get(get_manager().save(job_id, None))
    flash(keys.MODELS_FLASH, "success", f"Saved **{saved.name}**.")


def _unsaved_runs() -> None:
    """Runs whose automatic save failed (or stopped runs): downloadable from memory."""
    manager = get_manager()
    for job in manager.jobs(state.owner()):
        if not job.done or job.checkpoint_id:
            continue
        if job.status not in ("finished", "stopped") or job.started is None:
            continue  # a job stopped while queued never had a model
        with st.container(border=True):
            why = job.save_error or "This run was stopped before the end and has not been saved."
            st.markdown(f":material/save: **{job.name}** ({job.status}) is not saved. {why}")
            cols = st.columns(2)
            with friendly_errors("preparing the download"):
                ckpt = manager.checkpoint(job.job_id)
                if ckpt is None:
                    cols[0].caption("Its weights are no longer in memory.")
                    continue
                cols[0].download_button(
                    "Download .pt",
                    data=checkpoint_bytes(ckpt),
                    file_name=f"{slugify(job.name)}.pt",
                    mime="application/octet-stream",
                    key=f"models_download_job_{job.job_id}",
                    icon=":material/download:",
                    on_click="ignore",
                )
                cols[1].button(
                    "Save it",
                    key=f"models_save_job_{job.job_id}",
                    icon=":material/save:",
                    on_click=_save_again,
                    args=(job.job_id,),
                )


def _uploader_key() -> str:
    """The uploader's key: a new one after each import, which empties the box, so that the
    file and a message about it do not outlive the import they belong to."""
    n = st.session_state[keys.MODELS_UPLOAD_N]
    return keys.MODELS_UPLOAD if n == 0 else f"{keys.MODELS_UPLOAD}_{n}"


@guarded_callback("importing the checkpoint", keys.MODELS_FLASH)
def _import_upload() -> None:
    """The uploader's on_change: import the file once, when it arrives. Success: a message
    for the next run only, and an empty box; a refusal stays beside the file it is about."""
    ss = st.session_state
    upload = ss.get(_uploader_key())
    if upload is None:
        return
    level, message = import_upload(
        get_store(), upload.getvalue(), state.owner(), ss[keys.MODELS_UPLOAD_NAME]
    )
    if level == "success":
        flash(keys.MODELS_FLASH, "success", message)
        ss[keys.MODELS_UPLOAD_N] += 1
        ss[keys.MODELS_UPLOAD_NAME] = ""  # the next upload gets the name in its own file
        ss[keys.MODELS_IMPORTED] = {}
    else:
        ss[keys.MODELS_IMPORTED] = {upload.file_id: message}


def _upload() -> None:
    ss = st.session_state
    with st.container(border=True):
        st.markdown("**Upload a checkpoint** (`.pt` saved by MNIST Playground)")
        cols = st.columns([2, 1])
        upload = cols[0].file_uploader(
            "Checkpoint file",
            type=["pt", "pth"],
            key=_uploader_key(),
            on_change=_import_upload,
            help="Only weights and plain settings are read (weights_only=True): a file that "
            "would run code is refused.",
        )
        cols[1].text_input(
            "Name (optional)",
            key=keys.MODELS_UPLOAD_NAME,
            placeholder="the name stored in the file",
            max_chars=80,
        )
        refused = ss[keys.MODELS_IMPORTED].get(upload.file_id) if upload is not None else None
        if refused:
            st.error(refused)


def main() -> None:
    st.title("Models", anchor=False)
    st.caption(
        "The pretrained models and the ones you trained or uploaded in this browser, newest "
        "first. Download any of them; delete your own."
    )
    manager = get_manager()
    st.caption(
        ":material/schedule: "
        + model_info.retention_note(manager.keep_finished, manager.done_ttl_s)
    )
    show_flashes(keys.MODELS_FLASH)
    models = model_info.newest_first(get_store().list(state.owner()))
    if models:
        _table(models)
        chosen = choose_stored_model(
            models, keys.MODELS_CHOICE, label="Choose a model to download or delete"
        )
        _details(chosen)
    else:
        st.info("No models yet: train one on the Train page, or upload a checkpoint below.")
    with friendly_errors("listing your unsaved runs"):
        _unsaved_runs()
    _upload()


if page_guard():
    with friendly_errors("showing the Models page"):
        main()
