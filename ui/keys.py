"""Every session-state key of the app, in one place (defaults: `ui.state.init_state`).

Keys of widgets start with the page name (train_, mistakes_, draw_, models_); the rest hold
what a visitor did (their owner id, their current job, messages waiting to be shown).
This module imports nothing from the app, so every other module can use it without a cycle.
"""

from __future__ import annotations

# --- the visitor ---------------------------------------------------------------------------
OWNER = "owner"  # the visitor id (ui.visitor): whose jobs and runs are whose

# --- Train -------------------------------------------------------------------------------------
TRAIN_JOB = "train_job_id"  # the job this visitor started last (None before the first)
TRAIN_QP_LOADED = "train_qp_loaded"  # query parameters already applied in this session?
TRAIN_QP_NOTES = "train_qp_notes"  # messages about refused or clamped link values
TRAIN_FLASH = "train_flash"  # messages from button callbacks, shown once
TRAIN_SEEN_DONE = "train_seen_done"  # was the job done at the last full run?
TRAIN_CHARTS = "train_charts"  # (what they show, the live charts' figures): reused until it changes
TRAIN_COMPARE = "train_compare"  # widget: earlier runs overlaid on the charts
TRAIN_RUN_NAME = "train_run_name"  # widget: optional name of the next run
TRAIN_NEW_LR = "train_new_lr"  # widget: learning rate to switch to while running
TRAIN_MODEL = "train_model"  # widget: architecture
TRAIN_LOSS_SCALE = "train_loss_scale"  # widget: one of LOSS_SCALES
TRAIN_MODE = "train_mode"  # widget: one of TRAIN_MODES
TRAIN_MODES = ("Single run", "Sweep")
TRAIN_SWEEP = "train_sweep_id"  # the sweep this visitor started last (None before the first)
TRAIN_SWEEP_SAMPLES = "train_sweep_samples"  # widget: random samples drawn from the ranges
TRAIN_SWEEP_NAME = "train_sweep_name"  # widget: optional name of the next sweep
TRAIN_SWEEP_SEEN_DONE = "train_sweep_seen_done"  # was the sweep done at the last full run?
# The visitor's best time to each race target this session (ui.race_best): target -> (training
# seconds, run name, job id).
RACE_BEST = "race_best"
# plus one widget per training setting and architecture option: setting_key, option_key


def last_choice(key: str) -> str:
    """Where `ui.widgets.one_of` keeps the last valid choice of the control `key`."""
    return f"{key}__last"


def setting_key(name: str) -> str:
    """The widget of the training setting `name` (a TrainConfig field)."""
    return f"train_cfg_{name}"


def option_key(model: str, option: str) -> str:
    """The widget of the architecture option `option` of `model`."""
    return f"train_opt_{model}_{option}"


def sweep_setting_key(row: int) -> str:
    """The widget of the setting a sweep varies in row `row` (0-based)."""
    return f"train_sweep_setting_{row}"


def sweep_values_key(row: int) -> str:
    """The widget of the values (a list or a range) of row `row`."""
    return f"train_sweep_values_{row}"


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
MISTAKES_SHOWN = "mistakes_shown"  # checkpoint id whose results the page drew last

# --- Draw ---------------------------------------------------------------------------------------
DRAW_MODEL = "draw_model"  # widget: "ckpt:<id>" or "job:<id>" (ui.model_choice)
DRAW_SOURCE = "draw_source"  # widget: "Draw" or "Upload"
DRAW_STROKE = "draw_stroke"  # widget: pen width
DRAW_CANVAS_N = "draw_canvas_n"  # bumped by "Clear": a new canvas key empties the canvas

# --- My handwriting (on Draw) -----------------------------------------------------------------
HW_SET = "hw_set"  # the visitor's labelled digits (mnist_core.digits.handwriting.HandwritingSet)
HW_FLASH = "hw_flash"
HW_LABEL_N = "hw_label_n"  # bumped by each label: a new, empty "it is" picker
HW_LAST = "hw_last"  # (digest, label) of the digit labelled last: no double labelling
HW_PAGE = "hw_page"  # widget: gallery page
HW_UPLOAD_N = "hw_upload_n"  # bumped once an uploaded zip is applied: a new, empty uploader
HW_WRONG_MODEL = "hw_wrong_model"  # widget: checkpoint id whose wrong digits show
HW_BASE = "hw_base"  # widget: checkpoint id to fine-tune
HW_STEPS = "hw_steps"  # widget: fine-tuning steps
HW_JOB = "hw_job"  # the fine-tuning job id, or None
HW_TAB = "hw_tab"  # widget: the My handwriting tab shown


# --- Inside ---------------------------------------------------------------------------------
INSIDE_MODEL = "inside_model"  # widget: "ckpt:<id>" or "job:<id>"
INSIDE_SOURCE = "inside_source"  # widget: one of INSIDE_SOURCES
INSIDE_TEST_INDEX = "inside_test_index"  # widget: test image shown (also set by Mistakes, map)
INSIDE_DRAWING = "inside_drawing"  # the Draw page's last drawing, preprocessed (28, 28) or None
INSIDE_UPLOAD = "inside_upload"  # widget: file uploader
INSIDE_VIEW = "inside_view"  # widget: the tab shown (layers, filters, attributions, map)
INSIDE_METHOD = "inside_method"  # widget: attribution method
INSIDE_TARGET = "inside_target"  # widget: class to explain (-1: the prediction)
INSIDE_LAYER = "inside_layer"  # widget: layer whose unit's top digits show
INSIDE_UNIT = "inside_unit"  # widget: that unit
INSIDE_PROJECTION = "inside_projection"  # widget: "pca" or "tsne"
INSIDE_MAP = "inside_map"  # widget: the embedding map (its selection picks a test image)
INSIDE_BIG = "inside_big"  # widget: feature maps and filters at twice the size
INSIDE_HIST_LAYER = "inside_hist_layer"  # widget: layer whose weight histograms show


# --- Models ---------------------------------------------------------------------------------
MODELS_CHOICE = "models_choice"  # widget: checkpoint id
MODELS_UPLOAD = "models_upload"  # widget: file uploader
MODELS_UPLOAD_NAME = "models_upload_name"  # widget: name for the uploaded model
MODELS_UPLOAD_N = "models_upload_n"  # bumped by each import: a new, empty uploader
MODELS_IMPORTED = "models_imported"  # file id -> why it was refused, while it is in the box
MODELS_FLASH = "models_flash"

# --- Compare --------------------------------------------------------------------------------
COMPARE_TABLE = "compare_table"  # widget: the table's row selection ({"selection": {"rows"}})
COMPARE_TABLE_IDS = "compare_table_ids"  # checkpoint ids of the rows last shown, in order
COMPARE_X = "compare_x_axis"  # widget: the curves' x axis (one of ui.compare.curves.X_AXES)
COMPARE_VIEW = "compare_view"  # widget: the tab shown under the table, Curves or Sweeps
COMPARE_SWEEP = "compare_sweep"  # widget: the sweep on the parallel-coordinates chart
COMPARE_RUN = "compare_run"  # widget: the selected run to train again or download

# --- Start here -----------------------------------------------------------------------------
START_JOBS = "start_jobs"  # lesson key -> {run label: job id} of its latest "Run it"
START_SEEN_DONE = "start_seen_done"  # lesson key -> were its runs done at the last full run?
# lesson key -> (its job ids, what its finished runs came to: `ui.start.lessons.Finished`), kept
# so that the result stays when the job manager has forgotten the jobs
START_DONE = "start_done"
START_FLASH = "start_flash"  # messages from the Run it buttons' callbacks, shown once

# --- sidebar ------------------------------------------------------------------------------------
SIDEBAR_SEEN_ACTIVE = "sidebar_seen_active"  # did the last full run see an active job?

DRAW_SOURCES = ("Draw", "Upload")
INSIDE_SOURCES = ("Test image", "Drawing", "Upload")
LOSS_SCALES = ("Auto", "Linear", "Log")  # Auto: log once the loss spans two decades
# The gallery filter's "no filter" value. Not None: a selectbox whose value is None shows its
# placeholder instead of the option's label.
ALL_MISTAKES = "all"

# --- Draw: the crop box of an uploaded photo (ui.draw.crop) ---------------------------------------
DRAW_CROP_X = "draw_crop_x"  # widget: (left, right) of the box, percent of the width
DRAW_CROP_Y = "draw_crop_y"  # widget: (top, bottom) of the box, percent of the height
DRAW_CROP_FILE = "draw_crop_file"  # file id of the upload the box belongs to (None before one)


# --- the training timeline (ui.timeline), one set per page -------------------------------------
def timeline_keys(page: str) -> tuple[str, str, str]:
    """The keys of `page`'s timeline: its "Training step" slider (widget: a step), whether it
    is playing, and the checkpoint id the slider's step belongs to."""
    return f"{page}_timeline_step", f"{page}_timeline_play", f"{page}_timeline_of"
