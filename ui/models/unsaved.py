"""The Models page's unsaved runs: runs whose automatic save failed, and stopped runs, to
download from memory or save again."""

from __future__ import annotations

import streamlit as st

from mnist_core.storage.checkpoints import checkpoint_bytes
from mnist_core.storage.store import slugify
from ui import keys, state
from ui.errors import flash, friendly_errors, guarded_callback
from ui.resources import get_manager, get_store


@guarded_callback("saving the run", keys.MODELS_FLASH)
def _save_again(job_id: str) -> None:
    saved = get_store().get(get_manager().save(job_id, None))
    flash(keys.MODELS_FLASH, "success", f"Saved **{saved.name}**.")


def unsaved_runs() -> None:
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
