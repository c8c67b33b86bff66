"""Every session-state key of the app, in one place (defaults: `ui.state.init_state`).

Keys of widgets start with the page name (train_, mistakes_, draw_, models_); the rest hold
what a visitor did (their owner id, their current job, messages waiting to be shown).
This module imports nothing from the app, so every other module can use it without a cycle.
"""

from __future__ import annotations

# --- the visitor ---------------------------------------------------------------------------
OWNER = "owner"  # random id per browser session: whose jobs and runs are whose

# --- Train -------------------------------------------------------------------------------------
TRAIN_JOB = "train_job_id"  # the job this visitor started last (None before the first)
TRAIN_QP_LOADED = "train_qp_loaded"  # query parameters already applied in this session?
TRAIN_QP_NOTES = "train_qp_notes"  # messages about refused or clamped link values
TRAIN_FLASH = "train_flash"  # messages from button callbacks, shown once
TRAIN_SEEN_STATUS = "train_seen_status"  # (job status, poll interval) at the last full run
TRAIN_COMPARE = "train_compare"  # widget: earlier runs overlaid on the charts
TRAIN_RUN_NAME = "train_run_name"  # widget: optional name of the next run
TRAIN_NEW_LR = "train_new_lr"  # widget: learning rate to switch to while running
TRAIN_MODEL = "train_model"  # widget: architecture
TRAIN_LOSS_SCALE = "train_loss_scale"  # widget: one of LOSS_SCALES
# plus one widget per training setting and architecture option: setting_key, option_key


def setting_key(name: str) -> str:
    """The widget of the training setting `name` (a TrainConfig field)."""
    return f"train_cfg_{name}"


def option_key(model: str, option: str) -> str:
    """The widget of the architecture option `option` of `model`."""
    return f"train_opt_{model}_{option}"


def preset_key(preset: str) -> str:
    """The button that applies `preset`."""
    return f"train_preset_{preset.replace(' ', '_')}"


# --- Mistakes ---------------------------------------------------------------------------------
MISTAKES_MODEL = "mistakes_model"  # widget: checkpoint id
MISTAKES_PAIR = "mistakes_pair"  # widget: (true, predicted) filter, or ALL_MISTAKES
MISTAKES_PAGE = "mistakes_page"  # widget: gallery page
MISTAKES_INSPECT = "mistakes_inspect"  # index of the test image whose probabilities show
MISTAKES_LAST_SELECTION = "mistakes_last_selection"  # last chart click applied
MISTAKES_NOTE = "mistakes_note"  # message about the last chart click

# --- Draw ---------------------------------------------------------------------------------------
DRAW_MODEL = "draw_model"  # widget: "ckpt:<id>" or "job:<id>" (draw_checkpoint)
DRAW_SOURCE = "draw_source"  # widget: "Draw" or "Upload"
DRAW_STROKE = "draw_stroke"  # widget: pen width
DRAW_CANVAS_N = "draw_canvas_n"  # bumped by "Clear": a new canvas key empties the canvas


def draw_checkpoint(checkpoint_id: str) -> str:
    """The DRAW_MODEL value that chooses the saved checkpoint `checkpoint_id`."""
    return f"ckpt:{checkpoint_id}"


# --- Models ---------------------------------------------------------------------------------
MODELS_CHOICE = "models_choice"  # widget: checkpoint id
MODELS_UPLOAD = "models_upload"  # widget: file uploader
MODELS_UPLOAD_NAME = "models_upload_name"  # widget: name for the uploaded model
MODELS_IMPORTED = "models_imported"  # upload file id -> (level, message), imports once
MODELS_FLASH = "models_flash"

# --- sidebar ------------------------------------------------------------------------------------
SIDEBAR_SEEN_ACTIVE = "sidebar_seen_active"  # did the last full run see an active job?

DRAW_SOURCES = ("Draw", "Upload")
LOSS_SCALES = ("Auto", "Linear", "Log")  # Auto: log once the loss spans two decades
# The gallery filter's "no filter" value. Not None: a selectbox whose value is None shows its
# placeholder instead of the option's label.
ALL_MISTAKES = "all"
