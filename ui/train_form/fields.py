"""The training settings described once, as the form sees them (no Streamlit here).

Each `TrainConfig` field becomes a `Setting` with its kind, range, choices and default, all
read from the dataclass field metadata; the recipes and presets give the values a form starts
from. Architecture options come from each model factory's defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from mnist_core.errors import ConfigError
from mnist_core.machine import available_devices
from mnist_core.models import get_spec, list_models
from mnist_core.train.config import TrainConfig
from mnist_core.train.recipes import PRESETS, preset_settings, recipe
from ui import keys
from ui.start import glossary
from ui.train_form.labels import (
    GLOSSARY_TERMS,
    GROUPS,
    HELP,
    LABELS,
    in_form_words,
    option_label,
)

DEFAULT_MODEL = "lenet5"

# Architecture options have no field metadata in the engine (the factories only validate):
# these are the UI's ranges and choices for them; the factory checks again when it builds.
OPTION_RANGES: dict[str, tuple[float, float]] = {
    "dropout": (0.0, 0.9),
    "width": (4, 128),
    "depth": (0, 6),
}
OPTION_CHOICES: dict[str, tuple[str, ...]] = {
    "activation": ("relu", "tanh"),
    "pool": ("max", "avg"),
}
HIDDEN_LAYERS_MAX = 8
HIDDEN_SIZE_MAX = 8192
_HIDDEN_RE = re.compile(r"^\s*\d+(\s*[, ]\s*\d+)*\s*$")


@dataclass(frozen=True)
class Setting:
    """One TrainConfig field as the UI sees it."""

    name: str
    kind: str  # "bool", "choice", "int", "optional_int", "float", "text"
    help: str
    lo: float | None
    hi: float | None
    choices: tuple[str, ...] | None
    default: Any

    @property
    def key(self) -> str:
        return keys.setting_key(self.name)

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name.replace("_", " ").capitalize())

    def coerce(self, value: Any) -> Any:
        """The value as its widget holds it: number_input wants floats for float fields,
        ints for int fields."""
        if value is None:
            return None
        if self.kind == "float":
            return float(value)
        if self.kind in ("int", "optional_int"):
            return int(value)
        return value


def _kind(default: Any, meta: Mapping[str, Any]) -> str:
    if isinstance(default, bool):
        return "bool"
    if meta.get("choices"):
        return "choice"
    if default is None:
        return "optional_int"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    return "text"


def _with_glossary(name: str, text: str) -> str:
    """The help `text`, with a link to the glossary's entry for the setting's word if it has
    one."""
    term = GLOSSARY_TERMS.get(name)
    return f"{text}\n\n{glossary.link(term)}" if term else text


def settings() -> list[Setting]:
    """The training settings in field order (model and model_kwargs have their own UI)."""
    out = []
    for f in fields(TrainConfig):
        if f.name in ("model", "model_kwargs"):
            continue
        meta = f.metadata
        terse = str(meta.get("help", ""))
        choices = tuple(meta["choices"]) if meta.get("choices") else None
        if f.name == "device":  # the config knows every device; offer only those present
            choices = tuple(c for c in choices or () if c in available_devices())
        out.append(
            Setting(
                name=f.name,
                kind=_kind(f.default, meta),
                help=_with_glossary(
                    f.name, HELP.get(f.name) or terse[:1].upper() + terse[1:] + "."
                ),
                lo=meta.get("min"),
                hi=meta.get("max"),
                choices=choices,
                default=f.default,
            )
        )
    return out


def applies(name: str, state: Mapping[str, Any]) -> bool:
    """Whether the setting `name` does anything with the other widget values in `state`:
    the sidebar hides those that do not (their values stay, unused)."""
    if name == "momentum":
        return state.get(keys.setting_key("optimizer")) == "sgd"
    if name == "label_smoothing":
        return state.get(keys.setting_key("loss")) == "cross_entropy"
    if name == "compile":  # torch.compile is used on CUDA only
        return "cuda" in available_devices()
    return True


def setting(name: str) -> Setting:
    """The setting `name` (KeyError for model, model_kwargs and unknown names)."""
    for s in settings():
        if s.name == name:
            return s
    raise KeyError(name)


def grouped() -> dict[str, list[Setting]]:
    """The settings in the sidebar's groups; fields the engine added since go to Advanced."""
    by_name = {s.name: s for s in settings()}
    groups = {
        title: [by_name.pop(n) for n in names if n in by_name] for title, names in GROUPS.items()
    }
    groups["Advanced"] += list(by_name.values())
    return groups


def option_defaults(model: str, preset: str | None = None) -> dict[str, Any]:
    """The architecture's options: its factory's defaults, overridden by its recipe, then by
    `preset` (the 99.5% race widens the SpeedNet)."""
    extra = preset_settings(preset).get("model_kwargs", {}) if preset else {}
    return {
        **get_spec(model).default_kwargs(),
        **recipe(model).get("model_kwargs", {}),
        **extra,
    }


def recipe_values(model: str, preset: str | None = None) -> dict[str, Any]:
    """Every setting (not model, model_kwargs) of `model`'s recipe, with `preset` on top."""
    base = {s.name: s.default for s in settings()}
    values = {k: v for k, v in recipe(model).items() if k != "model_kwargs"}
    extra = preset_settings(preset) if preset in PRESETS else {}
    extra.pop("model_kwargs", None)
    return {**base, **values, **extra}


def option_to_widget(value: Any) -> Any:
    """An option value as its widget holds it (hidden sizes as text, e.g. "256, 64")."""
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return value


def widget_values(
    model: str, values: Mapping[str, Any], options: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Session-state entries (key -> widget value) for an architecture, settings and options."""
    out: dict[str, Any] = {keys.TRAIN_MODEL: model}
    by_name = {s.name: s for s in settings()}
    for name, value in values.items():
        if name in by_name:
            out[by_name[name].key] = by_name[name].coerce(value)
    for opt, value in (options or {}).items():
        out[keys.option_key(model, opt)] = option_to_widget(value)
    return out


def default_widget_values() -> dict[str, Any]:
    """Session-state defaults of every Train widget (used by ui.state.init_state): the default
    architecture's recipe, and every architecture's options."""
    values = widget_values(DEFAULT_MODEL, recipe_values(DEFAULT_MODEL), None)
    for model in list_models():
        for opt, v in option_defaults(model).items():
            values[keys.option_key(model, opt)] = option_to_widget(v)
    return values


def parse_hidden(text: str, option: str = "hidden") -> tuple[int, ...]:
    """Sizes from text such as "256, 64" (the MLP's hidden layers, the SpeedNet's widths).
    Raises ConfigError (for people), worded with the option's label."""
    label = option_label(option)
    if not isinstance(text, str) or not _HIDDEN_RE.match(text):
        raise ConfigError(f"{label}: write whole numbers separated by commas, e.g. 256, 64.")
    sizes = tuple(int(t) for t in re.split(r"[,\s]+", text.strip()) if t)
    if any(not 1 <= v <= HIDDEN_SIZE_MAX for v in sizes) or len(sizes) > HIDDEN_LAYERS_MAX:
        raise ConfigError(
            f"{label}: use 1 to {HIDDEN_LAYERS_MAX} numbers of 1 to {HIDDEN_SIZE_MAX} each."
        )
    return sizes


def options_from_widgets(model: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """The architecture options from widget values (`state`: session state or a dict).
    Raises ConfigError for unreadable ones."""
    out: dict[str, Any] = {}
    for opt, default in option_defaults(model).items():
        value = state.get(keys.option_key(model, opt), option_to_widget(default))
        if isinstance(default, tuple | list):
            value = parse_hidden(value, opt)
        elif isinstance(default, int) and not isinstance(default, bool):
            value = int(value)
        elif isinstance(default, float):
            value = float(value)
        out[opt] = value
    return out


def config_from_widgets(state: Mapping[str, Any]) -> TrainConfig:
    """The TrainConfig that widget values describe. Raises ConfigError (message for people)."""
    model = state[keys.TRAIN_MODEL]
    values: dict[str, Any] = {s.name: state.get(s.key) for s in settings()}
    for s in settings():
        if values[s.name] is None and s.kind != "optional_int":
            if not applies(s.name, state):  # hidden, and unused: any valid value will do
                values[s.name] = recipe_values(model)[s.name]
                continue
            raise ConfigError(f"{s.label} is empty: enter a value.")
    try:
        return TrainConfig.from_dict(
            {"model": model, "model_kwargs": options_from_widgets(model, state), **values}
        )
    except ConfigError as e:  # the engine names fields as the command line does
        raise ConfigError(in_form_words(str(e))) from None
