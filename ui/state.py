"""`init_state()`, the one place session-state keys (`ui.keys`) get their defaults."""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from ui import keys
from ui.train_form.fields import default_widget_values


def _defaults() -> dict[str, Any]:
    return {
        keys.OWNER: uuid.uuid4().hex[:12],
        keys.TRAIN_JOB: None,
        keys.TRAIN_QP_LOADED: False,
        keys.TRAIN_QP_NOTES: [],
        keys.TRAIN_FLASH: [],
        keys.TRAIN_SEEN_STATUS: None,
        keys.TRAIN_COMPARE: [],
        keys.TRAIN_RUN_NAME: "",
        keys.TRAIN_NEW_LR: None,
        keys.TRAIN_LOSS_SCALE: keys.LOSS_SCALES[0],
        **default_widget_values(),  # the architecture, every setting and option
        keys.MISTAKES_MODEL: None,
        keys.MISTAKES_PAIR: keys.ALL_MISTAKES,
        keys.MISTAKES_PAGE: 1,
        keys.MISTAKES_INSPECT: None,
        keys.MISTAKES_LAST_SELECTION: None,
        keys.MISTAKES_NOTE: None,
        keys.DRAW_MODEL: None,
        keys.DRAW_SOURCE: keys.DRAW_SOURCES[0],
        keys.DRAW_STROKE: 18,
        keys.DRAW_CANVAS_N: 0,
        keys.MODELS_CHOICE: None,
        keys.MODELS_UPLOAD_NAME: "",
        keys.MODELS_IMPORTED: {},
        keys.MODELS_FLASH: [],
        keys.SIDEBAR_SEEN_ACTIVE: False,
    }


def init_state() -> None:
    """Give every key its default, once per session (keys already set are left alone)."""
    ss = st.session_state
    for key, value in _defaults().items():
        if key not in ss:
            ss[key] = value


def owner() -> str:
    """This visitor's owner id (whose jobs and runs are whose)."""
    return st.session_state[keys.OWNER]
