"""The Models page's table of every model, and the chosen model's box: its downloads (.pt, and
ONNX built when clicked), Delete for the visitor's own, its outcome, history and settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from mnist_core.errors import MnistError
from mnist_core.models import get_spec
from mnist_core.storage import export  # looked up at each call, as the page's own import was
from mnist_core.storage.checkpoints import Checkpoint
from mnist_core.storage.store import StoredModel, slugify
from ui import fmt, keys, state
from ui.errors import flash, friendly_errors, guarded_callback
from ui.models import info
from ui.resources import get_store


def arch_title(m: StoredModel) -> str:
    try:
        return get_spec(m.model).title
    except KeyError:
        return m.model


def models_table(models: list[StoredModel]) -> None:
    rows = [
        {
            "Name": m.name,
            "Architecture": arch_title(m),
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
    return lambda: export.export_onnx(ckpt)


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


def details(m: StoredModel) -> None:
    with st.container(border=True):
        cols = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
        cols[0].markdown(
            f"**{m.name}** · {arch_title(m)} · {fmt.count(m.n_params)} parameters · "
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
                export.require_onnx()  # its message in place of a button that could only fail
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
        st.markdown(" ".join([info.outcome(metrics), *info.history(metrics)]))
        with st.expander("Training settings"):
            rows = info.settings_rows(ckpt.model, ckpt.model_kwargs, dict(ckpt.config), metrics)
            if not ckpt.config:
                st.caption("The file records no training settings.")
            st.table(
                {"Setting": [r[0] for r in rows], "Value": [r[1] for r in rows]},
                hide_index=True,
            )
