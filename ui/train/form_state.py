"""The Train form's widget state in `st.session_state`: presets, the architecture switch,
reading the widgets into a TrainConfig, and moving a setup between the URL and the widgets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from mnist_core.train.config import TrainConfig
from mnist_core.train.recipes import PRESETS, preset_model
from ui import keys
from ui.train_form import fields, query


def apply_values(model: str, values: Mapping[str, Any], options: Mapping[str, Any] | None) -> None:
    """Set the widgets (call before they are drawn, e.g. in a callback)."""
    st.session_state.update(fields.widget_values(model, values, options))


def on_model_change() -> None:
    """A new architecture starts from its own tuned recipe."""
    model = st.session_state[keys.TRAIN_MODEL]
    apply_values(model, fields.recipe_values(model), fields.option_defaults(model))


def apply_preset(preset: str) -> None:
    """The preset's settings on the current architecture, or on its own (the races)."""
    model = preset_model(preset, st.session_state[keys.TRAIN_MODEL])
    apply_values(model, fields.recipe_values(model, preset), fields.option_defaults(model, preset))


def current_preset() -> str | None:
    """Which preset the current settings (and architecture options) equal, if any."""
    ss = st.session_state
    model = ss[keys.TRAIN_MODEL]
    current = {s.name: ss.get(s.key) for s in fields.settings()}
    # A race first: on the SpeedNet its recipe is also the "best accuracy" one.
    for name in sorted(PRESETS, key=lambda p: "model" not in PRESETS[p]):
        if preset_model(name, model) != model:
            continue
        defaults = fields.option_defaults(model, name)
        opts_now = {o: ss.get(keys.option_key(model, o)) for o in defaults}
        if opts_now != {o: fields.option_to_widget(v) for o, v in defaults.items()}:
            continue
        preset_values = fields.recipe_values(model, name)
        if current == {s.name: s.coerce(preset_values[s.name]) for s in fields.settings()}:
            return name
    return None


def model_options() -> dict[str, Any]:
    """The current architecture's options from the widgets. Raises ConfigError."""
    ss = st.session_state
    return fields.options_from_widgets(ss[keys.TRAIN_MODEL], ss)


def read_config() -> TrainConfig:
    """The TrainConfig the widgets describe. Raises ConfigError (message for people)."""
    return fields.config_from_widgets(st.session_state)


def sync_query_params() -> None:
    """Write the current setup into the URL (only when it changed)."""
    desired = query.desired_query_params(st.session_state)
    if st.query_params.to_dict() != desired:
        st.query_params.from_dict(desired)


def load_query_params() -> None:
    """Apply the URL's setup to the widgets once per session (on the first visit to Train)."""
    ss = st.session_state
    if ss[keys.TRAIN_QP_LOADED]:
        return
    ss[keys.TRAIN_QP_LOADED] = True
    params = st.query_params.to_dict()
    if not params:
        return
    model, values, options, notes = query.parse_query_params(params)
    apply_values(model, values, options)
    ss[keys.TRAIN_QP_NOTES] = notes
