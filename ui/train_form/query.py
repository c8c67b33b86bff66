"""URL query parameters <-> training settings. Pure: no Streamlit, so it is tested on dicts.

A link holds `model` and every setting that differs from that architecture's recipe, so that it
reproduces a setup and stays short. Values in a link that cannot be read are refused, values out
of range are clamped to the field's metadata range; both with a note for the page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mnist_core.errors import ConfigError
from mnist_core.models import list_models
from mnist_core.train.config import field_info, parse_value
from mnist_core.train.recipes import PRESETS, preset_model
from ui import keys
from ui.train_form.fields import (
    DEFAULT_MODEL,
    OPTION_CHOICES,
    OPTION_RANGES,
    option_defaults,
    option_to_widget,
    parse_hidden,
    recipe_values,
    settings,
    widget_values,
)
from ui.train_form.labels import EXPECTED, option_label


def _format_value(value: Any) -> str:
    if value is None:
        return "all"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


def desired_query_params(state: Mapping[str, Any]) -> dict[str, str]:
    """`model` plus every setting that differs from that architecture's recipe.

    `state` holds the widget values by session-state key (`st.session_state` or a dict)."""
    model = state[keys.TRAIN_MODEL]
    base = recipe_values(model)
    out = {"model": model}
    for s in settings():
        value = state.get(s.key)
        if value != s.coerce(base[s.name]):
            out[s.name] = _format_value(value)
    for opt, default in option_defaults(model).items():
        value = state.get(keys.option_key(model, opt))
        if value != option_to_widget(default):
            out[opt] = (
                _format_value(value) if not isinstance(value, str) else value.replace(" ", "")
            )
    return out


def _clamp(label: str, value: float, lo: float | None, hi: float | None, notes: list[str]) -> float:
    if lo is not None and value < lo:
        notes.append(f"{label}: {value:g} in the link is below the minimum {lo:g}; using {lo:g}.")
        return lo
    if hi is not None and value > hi:
        notes.append(f"{label}: {value:g} in the link is above the maximum {hi:g}; using {hi:g}.")
        return hi
    return value


def _parse_option(name: str, text: str, default: Any) -> Any:
    """An architecture option from a link. Raises ValueError or ConfigError."""
    if isinstance(default, tuple | list):
        return parse_hidden(text.replace(",", ", "))
    if isinstance(default, bool):
        return parse_value("eval_test", text)  # the same true/false parsing
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    value = text.strip()
    allowed = OPTION_CHOICES.get(name)
    if allowed and value not in allowed:
        raise ValueError(f"choose one of {', '.join(allowed)}")
    return value


def parse_query_params(
    params: Mapping[str, str],
) -> tuple[str, dict[str, Any], dict[str, Any], list[str]]:
    """Read a setup from query parameters.

    Returns (model, settings, architecture options, notes): settings and options start from the
    architecture's recipe (and a `preset` if given); notes say what was refused or clamped.
    """
    notes: list[str] = []
    params = dict(params)
    model = params.pop("model", DEFAULT_MODEL).strip()
    if model not in list_models():
        titles = ", ".join(list_models())
        notes.append(
            f"Unknown architecture {model!r} in the link (choose {titles}); using {DEFAULT_MODEL}."
        )
        model = DEFAULT_MODEL
    preset = params.pop("preset", "").strip().replace("_", " ").replace("-", " ")
    if preset and preset not in PRESETS:
        notes.append(f"Unknown preset {preset!r} in the link; known: {', '.join(PRESETS)}.")
        preset = ""
    if preset:
        model = preset_model(preset, model)  # a race trains its own architecture
    values = recipe_values(model, preset or None)
    options = option_defaults(model, preset or None)
    by_name = {s.name: s for s in settings()}
    for name, text in params.items():
        if name in by_name:
            s = by_name[name]
            try:
                value = parse_value(name, text)
            except ConfigError:  # its wording names the field: say it with the label instead
                notes.append(f"{s.label}: {text!r} in the link is not {EXPECTED[s.kind]}; ignored.")
                continue
            known = field_info(name).metadata.get("choices") or ()
            if s.choices is not None and value not in s.choices and value in known:
                # A real choice this server lacks (a link from a GPU machine): the form's value.
                notes.append(
                    f"{s.label}: {text!r} in the link is not available on this server (it "
                    f"offers {', '.join(s.choices)}); using {values[name]}."
                )
                continue
            if s.choices is not None and value not in s.choices:
                notes.append(
                    f"{s.label}: {text!r} in the link is not one of "
                    f"{', '.join(s.choices)}; ignored."
                )
                continue
            if s.kind in ("int", "optional_int", "float") and value is not None:
                value = _clamp(s.label, value, s.lo, s.hi, notes)
                value = int(value) if s.kind != "float" else float(value)
            values[name] = value
        elif name in options:
            label = option_label(name)
            default = options[name]
            try:
                value = _parse_option(name, text, default)
            except (ValueError, ConfigError) as e:
                notes.append(f"{label}: ignored {text!r} in the link ({e}).")
                continue
            if name in OPTION_RANGES and isinstance(value, int | float):
                lo, hi = OPTION_RANGES[name]
                value = type(default)(_clamp(label, value, lo, hi, notes))
            options[name] = value
        else:
            notes.append(f"Ignored {name!r} in the link: there is no such setting.")
    return model, values, options, notes


def config_query_params(config: Mapping[str, Any]) -> dict[str, str]:
    """The link (as `desired_query_params` writes it) that opens Train with the settings of a
    stored run: `config` is its checkpoint's `TrainConfig.to_dict()`. Settings the config lacks
    (an older checkpoint) are the architecture's recipe; unknown keys are left out."""
    model = str(config.get("model") or DEFAULT_MODEL)
    if model not in list_models():  # parse_query_params says so, and uses the default
        return {"model": model}
    base = recipe_values(model)
    values = {**base, **{k: v for k, v in config.items() if k in base}}
    options = {**option_defaults(model), **dict(config.get("model_kwargs") or {})}
    return desired_query_params(widget_values(model, values, options))
