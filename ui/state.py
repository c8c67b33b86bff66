"""Every session-state key of the app, and `init_state()`, the one place they get defaults.

Keys of widgets start with the page name (train_, mistakes_, draw_, models_); the rest hold
what a visitor did (their owner id, their current job, messages waiting to be shown).
"""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

# --- the visitor ---------------------------------------------------------------------------
OWNER = "owner"  # random id per browser session: whose jobs and runs are whose

# --- Train -------------------------------------------------------------------------------------
TRAIN_JOB = "train_job_id"  # the job this visitor started last (None before the first)
TRAIN_QP_LOADED = "train_qp_loaded"  # query parameters already applied in this session?
TRAIN_QP_NOTES = "train_qp_notes"  # messages about refused or clamped link values
TRAIN_FLASH = "train_flash"  # messages from button callbacks, shown once
TRAIN_SEEN_STATUS = "train_seen_status"  # job status at the last full run
TRAIN_COMPARE = "train_compare"  # widget: earlier runs overlaid on the charts
TRAIN_RUN_NAME = "train_run_name"  # widget: optional name of the next run
TRAIN_NEW_LR = "train_new_lr"  # widget: learning rate to switch to while running
TRAIN_MODEL = "train_model"  # widget: architecture
# plus one widget per training setting and architecture option: see ui.train_settings

# --- Mistakes ---------------------------------------------------------------------------------
MISTAKES_MODEL = "mistakes_model"  # widget: checkpoint id
MISTAKES_PAIR = "mistakes_pair"  # widget: (true, predicted) filter, or ALL_MISTAKES
MISTAKES_PAGE = "mistakes_page"  # widget: gallery page
MISTAKES_INSPECT = "mistakes_inspect"  # index of the test image whose probabilities show
MISTAKES_LAST_SELECTION = "mistakes_last_selection"  # last chart click applied
MISTAKES_NOTE = "mistakes_note"  # message about the last chart click

# --- Draw ---------------------------------------------------------------------------------------
DRAW_MODEL = "draw_model"  # widget: "ckpt:<id>" or "job:<id>"
DRAW_SOURCE = "draw_source"  # widget: "Draw" or "Upload"
DRAW_STROKE = "draw_stroke"  # widget: pen width
DRAW_CANVAS_N = "draw_canvas_n"  # bumped by "Clear": a new canvas key empties the canvas

# --- Models ---------------------------------------------------------------------------------
MODELS_CHOICE = "models_choice"  # widget: checkpoint id
MODELS_UPLOAD = "models_upload"  # widget: file uploader
MODELS_UPLOAD_NAME = "models_upload_name"  # widget: name for the uploaded model
MODELS_IMPORTED = "models_imported"  # upload file id -> (level, message), imports once
MODELS_FLASH = "models_flash"

# --- sidebar ------------------------------------------------------------------------------------
SIDEBAR_SEEN_ACTIVE = "sidebar_seen_active"  # did the last full run see an active job?

DRAW_SOURCES = ("Draw", "Upload")
# The gallery filter's "no filter" value. Not None: a selectbox whose value is None shows its
# placeholder instead of the option's label.
ALL_MISTAKES = "all"


def _defaults() -> dict[str, Any]:
    from ui.train_settings import default_widget_values  # avoids an import cycle

    return {
        OWNER: uuid.uuid4().hex[:12],
        TRAIN_JOB: None,
        TRAIN_QP_LOADED: False,
        TRAIN_QP_NOTES: [],
        TRAIN_FLASH: [],
        TRAIN_SEEN_STATUS: None,
        TRAIN_COMPARE: [],
        TRAIN_RUN_NAME: "",
        TRAIN_NEW_LR: None,
        **default_widget_values(),
        MISTAKES_MODEL: None,
        MISTAKES_PAIR: ALL_MISTAKES,
        MISTAKES_PAGE: 1,
        MISTAKES_INSPECT: None,
        MISTAKES_LAST_SELECTION: None,
        MISTAKES_NOTE: None,
        DRAW_MODEL: None,
        DRAW_SOURCE: DRAW_SOURCES[0],
        DRAW_STROKE: 18,
        DRAW_CANVAS_N: 0,
        MODELS_CHOICE: None,
        MODELS_UPLOAD_NAME: "",
        MODELS_IMPORTED: {},
        MODELS_FLASH: [],
        SIDEBAR_SEEN_ACTIVE: False,
    }


def init_state() -> None:
    """Give every key its default, once per session (keys already set are left alone)."""
    ss = st.session_state
    for key, value in _defaults().items():
        if key not in ss:
            ss[key] = value


def owner() -> str:
    return st.session_state[OWNER]
