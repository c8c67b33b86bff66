"""`init_state()`, the one place session-state keys (`ui.keys`) get their defaults."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import streamlit as st

from mnist_core.digits.handwriting import HandwritingSet
from mnist_core.errors import MnistError
from mnist_core.storage.owners import adopt_legacy_folder, owner_key, owner_of
from mnist_core.storage.personal import VisitorFiles
from mnist_core.train.finetune import DEFAULT_STEPS
from ui import keys
from ui.resources import get_store, runs_dir
from ui.train_form.fields import default_widget_values
from ui.visitor import visitor_id

log = logging.getLogger(__name__)


def _cookie_owner() -> str | None:
    """The owner id of the browser's cookie (`ui.visitor`): a keyed hash of it, never the cookie
    itself (`mnist_core.storage.owners`); None without one (AppTest, a browser that refuses
    cookies, a client that is not a browser) or when the server's key cannot be had."""
    try:
        visitor = visitor_id(st.context.cookies)
    except Exception:  # no request context: there is no cookie to read
        return None
    if visitor is None:
        return None
    runs = runs_dir()
    try:
        owner = owner_of(visitor, owner_key(runs))
    except MnistError:
        log.warning("no owner key: this visitor's models last for this session only", exc_info=True)
        return None
    adopt_legacy_folder(runs, visitor, owner)
    return owner


def _defaults() -> dict[str, Any]:
    # The segmented controls (`ui.widgets.one_of`) start from their last choice: a default set
    # on the widget's own key would come back each time Streamlit drops the key (the control
    # left the page: Train's Sweep mode) and replace the visitor's choice.
    return {
        keys.TRAIN_JOB: None,
        keys.TRAIN_QP_LOADED: False,
        keys.TRAIN_QP_NOTES: [],
        keys.TRAIN_FLASH: [],
        keys.TRAIN_SEEN_DONE: None,
        keys.TRAIN_CHARTS: None,
        keys.TRAIN_COMPARE: [],
        keys.TRAIN_RUN_NAME: "",
        keys.TRAIN_NEW_LR: None,
        keys.last_choice(keys.TRAIN_LOSS_SCALE): keys.LOSS_SCALES[0],
        keys.last_choice(keys.TRAIN_MODE): keys.TRAIN_MODES[0],
        keys.TRAIN_SWEEP: None,
        keys.TRAIN_SWEEP_SAMPLES: 8,
        keys.TRAIN_SWEEP_NAME: "",
        keys.TRAIN_SWEEP_SEEN_DONE: False,
        # A new visitor's sweep: a 3 x 2 grid of the learning rate and the batch size.
        keys.sweep_setting_key(0): "lr",
        keys.sweep_values_key(0): "1e-3, 3e-3, 1e-2",
        keys.sweep_setting_key(1): "batch_size",
        keys.sweep_values_key(1): "64, 128",
        keys.sweep_setting_key(2): "",
        keys.sweep_values_key(2): "",
        **default_widget_values(),  # the architecture, every setting and option
        keys.MISTAKES_MODEL: None,
        keys.MISTAKES_PAIR: keys.ALL_MISTAKES,
        keys.MISTAKES_PAGE: 1,
        keys.MISTAKES_INSPECT: None,
        keys.MISTAKES_LAST_SELECTION: None,
        keys.MISTAKES_NOTE: None,
        keys.MISTAKES_SHOWN: None,
        keys.DRAW_MODEL: None,
        keys.last_choice(keys.DRAW_SOURCE): keys.DRAW_SOURCES[0],
        keys.DRAW_STROKE: 18,
        keys.DRAW_CANVAS_N: 0,
        keys.HW_FLASH: [],
        keys.HW_LABEL_N: 0,
        keys.HW_LAST: None,
        keys.HW_PAGE: 1,
        keys.HW_UPLOAD_N: 0,
        keys.HW_WRONG_MODEL: None,
        keys.HW_BASE: None,
        keys.HW_STEPS: DEFAULT_STEPS,
        keys.HW_JOB: None,
        keys.INSIDE_MODEL: None,
        keys.last_choice(keys.INSIDE_SOURCE): keys.INSIDE_SOURCES[0],
        keys.INSIDE_TEST_INDEX: 0,
        keys.INSIDE_DRAWING: None,
        keys.INSIDE_METHOD: "saliency",
        keys.last_choice(keys.INSIDE_PROJECTION): "pca",
        keys.MODELS_CHOICE: None,
        keys.MODELS_UPLOAD_NAME: "",
        keys.MODELS_UPLOAD_N: 0,
        keys.MODELS_IMPORTED: {},
        keys.MODELS_FLASH: [],
        keys.SIDEBAR_SEEN_ACTIVE: False,
        keys.START_JOBS: {},
        keys.START_SEEN_DONE: {},
        keys.START_DONE: {},
        keys.START_FLASH: [],
        # Draw: the crop box of an uploaded photo (ui.draw.crop), the whole image to begin with.
        keys.DRAW_CROP_X: (0, 100),
        keys.DRAW_CROP_Y: (0, 100),
        keys.DRAW_CROP_FILE: None,
    }


def init_state() -> None:
    """Give every key its default, once per session (keys already set are left alone)."""
    ss = st.session_state
    if keys.OWNER not in ss:
        # The browser's visitor id, so that its models and runs are the same after a reload
        # and in every tab; without a cookie a random id of this session alone.
        # (The Train page then shows the visitor's newest job, and the sidebar keeps its lease.)
        ss[keys.OWNER] = _cookie_owner() or uuid.uuid4().hex[:12]
    if keys.HW_SET not in ss:  # kept on the server, found again after a reload
        files = visitor_files()
        ss[keys.HW_SET] = files.load_handwriting() if files else HandwritingSet()
        ss[keys.RACE_BEST] = files.load_race_best() if files else {}
    for key, value in _defaults().items():
        if key not in ss:
            ss[key] = value


def visitor_files() -> VisitorFiles | None:
    """This visitor's files beside their models (None when their id cannot name a folder)."""
    try:
        return VisitorFiles(get_store().folder_of(st.session_state[keys.OWNER]))
    except MnistError:
        return None


def keep_handwriting(s: HandwritingSet) -> str | None:
    """Make `s` this visitor's handwriting set, here and on the server (issue 27, item 3); a
    sentence for people when the server could not keep it (this session still has it)."""
    st.session_state[keys.HW_SET] = s
    files = visitor_files()
    try:
        if files is not None:
            files.save_handwriting(s)
    except MnistError as e:
        return f"Your handwriting set is kept for this session only. {e}"
    return None


def keep_race_best() -> None:
    """Write this visitor's best race times (`keys.RACE_BEST`) to the server; a failure is
    logged (the sidebar still shows them for this session)."""
    files = visitor_files()
    try:
        if files is not None:
            files.save_race_best(st.session_state[keys.RACE_BEST])
    except MnistError as e:
        log.warning("best race times not kept: %s", e)


def owner() -> str:
    """This visitor's owner id (whose jobs and runs are whose)."""
    return st.session_state[keys.OWNER]
