"""Models: every checkpoint, to download (.pt or ONNX), upload or delete."""

from __future__ import annotations

import streamlit as st

from ui import keys, state
from ui.errors import friendly_errors, show_flashes
from ui.models import info
from ui.models.details import details, models_table
from ui.models.unsaved import unsaved_runs
from ui.models.uploads import upload_box
from ui.resources import get_manager, get_store
from ui.shell import page_guard
from ui.widgets import choose_stored_model


def main() -> None:
    st.title("Models", anchor=False)
    st.caption(
        "The pretrained models and the ones you trained or uploaded in this browser, newest "
        "first. Download any of them; delete your own."
    )
    manager = get_manager()
    st.caption(
        ":material/schedule: " + info.retention_note(manager.keep_finished, manager.done_ttl_s)
    )
    show_flashes(keys.MODELS_FLASH)
    models = info.newest_first(get_store().list(state.owner()))
    if models:
        models_table(models)
        chosen = choose_stored_model(
            models, keys.MODELS_CHOICE, label="Choose a model to download or delete"
        )
        details(chosen)
    else:
        st.info("No models yet: train one on the Train page, or upload a checkpoint below.")
    with friendly_errors("listing your unsaved runs"):
        unsaved_runs()
    upload_box()


if page_guard():
    with friendly_errors("showing the Models page"):
        main()
