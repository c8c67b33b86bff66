"""The Train page's settings: sidebar widgets, URL query parameters and the TrainConfig.

Everything is generated from the engine's own definitions: the architectures and their options
(`mnist_core.models`), the fields of `TrainConfig` with their help, ranges and choices
(`field_info`), the tuned recipe of each architecture and the presets (`mnist_core.recipes`).
A field the engine adds later gets a widget and a query parameter without a change here.

Query parameters: `model` and every setting that differs from that architecture's recipe, so
that a link reproduces a setup and stays short. Values in a link that cannot be read are
refused, values out of range are clamped; both with a message on the page.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import streamlit as st

from mnist_core.config import TrainConfig, field_info, parse_value
from mnist_core.errors import ConfigError, MnistError
from mnist_core.models import count_parameters, create_model, get_spec, list_models
from mnist_core.recipes import PRESETS, recipe
from ui import state

DEFAULT_MODEL = "lenet5"
PERSIST = "session"  # widget values survive a visit to another page

# ---- how settings are shown to people -------------------------------------------------------

LABELS: dict[str, str] = {
    "epochs": "Epochs",
    "batch_size": "Batch size",
    "optimizer": "Optimizer",
    "lr": "Learning rate (peak)",
    "momentum": "Momentum",
    "weight_decay": "Weight decay",
    "schedule": "Learning-rate schedule",
    "loss": "Loss function",
    "label_smoothing": "Label smoothing",
    "aug_rotation": "Random rotation (degrees)",
    "aug_translate": "Random shift (fraction of size)",
    "aug_scale": "Random zoom (fraction)",
    "train_subset": "Training images",
    "val_size": "Validation images",
    "seed": "Random seed",
    "device": "Device",
    "threads": "CPU threads",
    "eval_test": "Measure test accuracy every epoch",
    "log_every": "Steps between loss points",
    "compile": "Compile the model (torch.compile, CUDA only)",
}
CHOICE_LABELS: dict[str, dict[str, str]] = {
    "optimizer": {"sgd": "SGD with momentum", "adam": "Adam", "adamw": "AdamW"},
    "schedule": {
        "onecycle": "One-cycle (warm up, then anneal)",
        "plateau": "Reduce on plateau",
        "step": "Step decay",
        "constant": "Constant",
    },
    "loss": {"cross_entropy": "Cross-entropy", "mse": "Mean squared error (one-hot)"},
    "device": {
        "auto": "Automatic (best available)",
        "cpu": "CPU",
        "cuda": "CUDA GPU",
        "mps": "Apple GPU (MPS)",
    },
}
GROUPS: dict[str, tuple[str, ...]] = {
    "Optimisation": (
        "epochs",
        "batch_size",
        "optimizer",
        "lr",
        "momentum",
        "weight_decay",
        "schedule",
        "loss",
        "label_smoothing",
    ),
    "Augmentation": ("aug_rotation", "aug_translate", "aug_scale"),
    "Data": ("train_subset", "val_size", "seed"),
    "Advanced": ("device", "threads", "eval_test", "log_every", "compile"),
}
FLOAT_STEPS: dict[str, float] = {
    "lr": 1e-4,
    "momentum": 0.01,
    "weight_decay": 1e-4,
    "label_smoothing": 0.01,
    "aug_rotation": 1.0,
    "aug_translate": 0.01,
    "aug_scale": 0.01,
}
INT_STEPS: dict[str, int] = {"batch_size": 32, "train_subset": 1000, "val_size": 1000}

# Architecture options: label, UI range or choices (the factories validate again).
OPTION_LABELS: dict[str, str] = {
    "hidden": "Hidden layer sizes",
    "dropout": "Dropout",
    "width": "Width (channels of the first layer)",
    "depth": "Residual blocks per stage",
    "activation": "Activation",
    "pool": "Pooling",
}
OPTION_HELP: dict[str, str] = {
    "hidden": "Neurons per hidden layer, separated by commas, e.g. 256, 64.",
    "dropout": "Fraction of activations dropped at random while training (0: none).",
    "width": "Later stages use 2x and 4x this many channels.",
    "depth": "0 gives a plain CNN without residual blocks.",
    "activation": "relu is modern; tanh is what LeNet-5 used in 1998.",
    "pool": "max is modern; avg is what LeNet-5 used in 1998.",
}
OPTION_RANGES: dict[str, tuple[float, float]] = {
    "dropout": (0.0, 0.9),
    "width": (4, 128),
    "depth": (0, 6),
}
OPTION_CHOICES: dict[str, tuple[str, ...]] = {
    "activation": ("relu", "tanh"),
    "pool": ("max", "avg"),
}
_EXPECTED = {
    "bool": "true or false",
    "int": "a whole number",
    "optional_int": "a whole number or 'all'",
    "float": "a number",
    "choice": "one of the choices",
    "text": "valid",
}
_HIDDEN_RE = re.compile(r"^\s*\d+(\s*[, ]\s*\d+)*\s*$")


# ---- the settings, described once ----------------------------------------------------------


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
        return f"train_cfg_{self.name}"

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name.replace("_", " ").capitalize())


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


def settings() -> list[Setting]:
    """The training settings in display order (model and model_kwargs have their own UI)."""
    out = []
    for f in fields(TrainConfig):
        if f.name in ("model", "model_kwargs"):
            continue
        meta = f.metadata
        help_text = str(meta.get("help", ""))
        out.append(
            Setting(
                name=f.name,
                kind=_kind(f.default, meta),
                help=help_text[:1].upper() + help_text[1:] + ".",
                lo=meta.get("min"),
                hi=meta.get("max"),
                choices=tuple(meta["choices"]) if meta.get("choices") else None,
                default=f.default,
            )
        )
    return out


def _grouped() -> dict[str, list[Setting]]:
    by_name = {s.name: s for s in settings()}
    groups = {
        title: [by_name.pop(n) for n in names if n in by_name] for title, names in GROUPS.items()
    }
    groups["Advanced"] += list(by_name.values())  # fields the engine added since
    return groups


def option_key(model: str, option: str) -> str:
    return f"train_opt_{model}_{option}"


def option_defaults(model: str) -> dict[str, Any]:
    """The architecture's options: its factory's defaults, overridden by its recipe."""
    return {**get_spec(model).default_kwargs(), **recipe(model).get("model_kwargs", {})}


def recipe_values(model: str, preset: str | None = None) -> dict[str, Any]:
    """Every setting (not model, model_kwargs) of `model`'s recipe, with `preset` on top."""
    base = {s.name: s.default for s in settings()}
    values = {k: v for k, v in recipe(model).items() if k != "model_kwargs"}
    extra = dict(PRESETS.get(preset, {})) if preset else {}
    extra.pop("model_kwargs", None)
    return {**base, **values, **extra}


def _option_to_widget(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return value


def default_widget_values() -> dict[str, Any]:
    """Session-state defaults of every Train widget (used by ui.state.init_state)."""
    values: dict[str, Any] = {state.TRAIN_MODEL: DEFAULT_MODEL}
    recipe_now = recipe_values(DEFAULT_MODEL)
    for s in settings():
        values[s.key] = _coerce_widget(s, recipe_now[s.name])
    for model in list_models():
        for opt, v in option_defaults(model).items():
            values[option_key(model, opt)] = _option_to_widget(v)
    return values


def apply_values(model: str, values: Mapping[str, Any], options: Mapping[str, Any] | None) -> None:
    """Set the widgets (call before they are drawn, e.g. in a callback)."""
    ss = st.session_state
    ss[state.TRAIN_MODEL] = model
    kinds = {s.name: s for s in settings()}
    for name, value in values.items():
        if name in kinds:
            ss[kinds[name].key] = _coerce_widget(kinds[name], value)
    for opt, value in (options or {}).items():
        ss[option_key(model, opt)] = _option_to_widget(value)


def _coerce_widget(s: Setting, value: Any) -> Any:
    """number_input wants floats for float fields, ints for int fields."""
    if value is None:
        return None
    if s.kind == "float":
        return float(value)
    if s.kind in ("int", "optional_int"):
        return int(value)
    return value


# ---- callbacks ------------------------------------------------------------------------------


def _on_model_change() -> None:
    """A new architecture starts from its own tuned recipe."""
    model = st.session_state[state.TRAIN_MODEL]
    apply_values(model, recipe_values(model), option_defaults(model))


def apply_preset(preset: str) -> None:
    model = st.session_state[state.TRAIN_MODEL]
    apply_values(model, recipe_values(model, preset), option_defaults(model))


def current_preset() -> str | None:
    """Which preset the current settings equal, if any."""
    model = st.session_state[state.TRAIN_MODEL]
    current = {s.name: st.session_state.get(s.key) for s in settings()}
    opts_now = {o: st.session_state.get(option_key(model, o)) for o in option_defaults(model)}
    opts_default = {o: _option_to_widget(v) for o, v in option_defaults(model).items()}
    if opts_now != opts_default:
        return None
    for name in PRESETS:
        preset_values = recipe_values(model, name)
        want = {s.name: _coerce_widget(s, preset_values[s.name]) for s in settings()}
        if current == want:
            return name
    return None


# ---- reading the widgets into a config ------------------------------------------------------


def parse_hidden(text: str) -> tuple[int, ...]:
    if not isinstance(text, str) or not _HIDDEN_RE.match(text):
        raise ConfigError(
            "Hidden layer sizes: write whole numbers separated by commas, e.g. 256, 64."
        )
    sizes = tuple(int(t) for t in re.split(r"[,\s]+", text.strip()) if t)
    if any(not 1 <= v <= 8192 for v in sizes) or len(sizes) > 8:
        raise ConfigError("Hidden layer sizes: use 1 to 8 layers of 1 to 8192 neurons each.")
    return sizes


def model_options(model: str) -> dict[str, Any]:
    """The architecture options from the widgets. Raises ConfigError for unreadable ones."""
    out: dict[str, Any] = {}
    for opt, default in option_defaults(model).items():
        value = st.session_state.get(option_key(model, opt), _option_to_widget(default))
        if isinstance(default, tuple | list):
            value = parse_hidden(value)
        elif isinstance(default, int) and not isinstance(default, bool):
            value = int(value)
        elif isinstance(default, float):
            value = float(value)
        out[opt] = value
    return out


def read_config() -> TrainConfig:
    """The TrainConfig the widgets describe. Raises ConfigError (message for people)."""
    ss = st.session_state
    model = ss[state.TRAIN_MODEL]
    values: dict[str, Any] = {s.name: ss.get(s.key) for s in settings()}
    for s in settings():
        if values[s.name] is None and s.kind != "optional_int":
            raise ConfigError(f"{s.label} is empty: enter a value.")
    return TrainConfig.from_dict({"model": model, "model_kwargs": model_options(model), **values})


@st.cache_data(show_spinner=False, max_entries=256)
def parameter_count(model: str, options_json: str) -> int | None:
    try:
        return count_parameters(create_model(model, **json.loads(options_json)))
    except MnistError:
        return None


# ---- URL query parameters -------------------------------------------------------------------


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


def desired_query_params() -> dict[str, str]:
    """`model` plus every setting that differs from that architecture's recipe."""
    ss = st.session_state
    model = ss[state.TRAIN_MODEL]
    base = recipe_values(model)
    out = {"model": model}
    for s in settings():
        value = ss.get(s.key)
        if value != _coerce_widget(s, base[s.name]):
            out[s.name] = _format_value(value)
    for opt, default in option_defaults(model).items():
        value = ss.get(option_key(model, opt))
        if value != _option_to_widget(default):
            out[opt] = (
                _format_value(value) if not isinstance(value, str) else value.replace(" ", "")
            )
    return out


def sync_query_params() -> None:
    """Write the current setup into the URL (only when it changed)."""
    desired = desired_query_params()
    if st.query_params.to_dict() != desired:
        st.query_params.from_dict(desired)


def _clamp(label: str, value: float, lo: float | None, hi: float | None, notes: list[str]) -> float:
    if lo is not None and value < lo:
        notes.append(f"{label}: {value:g} in the link is below the minimum {lo:g}; using {lo:g}.")
        return lo
    if hi is not None and value > hi:
        notes.append(f"{label}: {value:g} in the link is above the maximum {hi:g}; using {hi:g}.")
        return hi
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
    values = recipe_values(model, preset or None)
    options = option_defaults(model)
    by_name = {s.name: s for s in settings()}
    for name, text in params.items():
        if name in by_name:
            s = by_name[name]
            try:
                value = parse_value(name, text)
            except ConfigError:  # its wording names the field: say it with the label instead
                notes.append(
                    f"{s.label}: {text!r} in the link is not {_EXPECTED[s.kind]}; ignored."
                )
                continue
            if s.choices is not None and value not in s.choices:
                notes.append(
                    f"{s.label}: {text!r} in the link is not one of "
                    f"{', '.join(s.choices)}; ignored."
                )
                continue
            if s.kind in ("int", "optional_int", "float") and value is not None:
                lo, hi = field_info(name).metadata.get("min"), field_info(name).metadata.get("max")
                value = _clamp(s.label, value, lo, hi, notes)
                value = int(value) if s.kind != "float" else float(value)
            values[name] = value
        elif name in options:
            label = OPTION_LABELS.get(name, name)
            default = options[name]
            try:
                if isinstance(default, tuple | list):
                    value = parse_hidden(text.replace(",", ", "))
                elif isinstance(default, bool):
                    value = parse_value("eval_test", text)  # the same true/false parsing
                elif isinstance(default, int):
                    value = int(text)
                elif isinstance(default, float):
                    value = float(text)
                    if not math.isfinite(value):
                        raise ValueError("not a finite number")
                else:
                    value = text.strip()
                    allowed = OPTION_CHOICES.get(name)
                    if allowed and value not in allowed:
                        raise ValueError(f"choose one of {', '.join(allowed)}")
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


def load_query_params() -> None:
    """Apply the URL's setup to the widgets once per session (on the first visit to Train)."""
    ss = st.session_state
    if ss[state.TRAIN_QP_LOADED]:
        return
    ss[state.TRAIN_QP_LOADED] = True
    params = st.query_params.to_dict()
    if not params:
        return
    model, values, options, notes = parse_query_params(params)
    apply_values(model, values, options)
    ss[state.TRAIN_QP_NOTES] = notes


# ---- the sidebar ----------------------------------------------------------------------------


def _setting_widget(s: Setting, disabled: bool = False) -> None:
    common: dict[str, Any] = {
        "key": s.key,
        "help": s.help,
        "persist_state": PERSIST,
        "disabled": disabled,
    }
    if s.kind == "bool":
        st.toggle(s.label, **common)
    elif s.kind == "choice":
        labels = CHOICE_LABELS.get(s.name, {})
        st.selectbox(s.label, s.choices, format_func=lambda v, m=labels: m.get(v, v), **common)
    elif s.kind in ("int", "optional_int"):  # an empty optional_int means "all available"
        st.number_input(
            s.label,
            min_value=int(s.lo) if s.lo is not None else None,
            max_value=int(s.hi) if s.hi is not None else None,
            step=INT_STEPS.get(s.name, 1),
            placeholder="All available" if s.kind == "optional_int" else None,
            **common,
        )
    elif s.kind == "float":
        st.number_input(
            s.label,
            min_value=float(s.lo) if s.lo is not None else None,
            max_value=float(s.hi) if s.hi is not None else None,
            step=FLOAT_STEPS.get(s.name, 0.01),
            format="%g",
            **common,
        )
    else:
        st.text_input(s.label, **common)


def _option_widget(model: str, opt: str, default: Any) -> None:
    key = option_key(model, opt)
    label = OPTION_LABELS.get(opt, opt.replace("_", " ").capitalize())
    common: dict[str, Any] = {"key": key, "help": OPTION_HELP.get(opt), "persist_state": PERSIST}
    if isinstance(default, tuple | list):
        st.text_input(label, placeholder="e.g. 256, 64", **common)
    elif isinstance(default, bool):
        st.toggle(label, **common)
    elif opt in OPTION_CHOICES:
        st.selectbox(label, OPTION_CHOICES[opt], **common)
    elif isinstance(default, float):
        lo, hi = OPTION_RANGES.get(opt, (0.0, 1.0))
        st.slider(label, min_value=float(lo), max_value=float(hi), step=0.05, **common)
    elif isinstance(default, int):
        lo, hi = OPTION_RANGES.get(opt, (0, 4096))
        st.number_input(label, min_value=int(lo), max_value=int(hi), step=1, **common)
    else:
        st.text_input(label, **common)


def render_sidebar() -> None:
    """Architecture, its options, presets and every training setting, in the sidebar.

    They stay editable while a job runs: they apply to the next run.
    """
    ss = st.session_state
    with st.sidebar:
        st.subheader("Model", anchor=False)
        models = list_models()
        st.selectbox(
            "Architecture",
            models,
            format_func=lambda m: get_spec(m).title,
            key=state.TRAIN_MODEL,
            on_change=_on_model_change,
            persist_state=PERSIST,
            help="Changing it loads that architecture's tuned settings.",
        )
        model = ss[state.TRAIN_MODEL]
        spec = get_spec(model)
        try:
            n = parameter_count(model, json.dumps(model_options(model), sort_keys=True))
        except ConfigError:
            n = None
        count = f"**{n:,} parameters**" if n is not None else "**? parameters** (invalid options)"
        st.caption(f"{count} · {spec.description}")
        defaults = option_defaults(model)
        if defaults:
            with st.expander(f"{spec.title} options", expanded=False):
                for opt, default in defaults.items():
                    _option_widget(model, opt, default)

        st.subheader("Presets", anchor=False)
        icons = {"quick look": ":material/bolt:", "best accuracy": ":material/target:"}
        helps = {
            "quick look": "A 1,000-image subset and a few epochs: results in seconds.",
            "best accuracy": "The architecture's tuned recipe on all training images.",
        }
        for name in PRESETS:
            st.button(
                name.capitalize(),
                key=f"train_preset_{name.replace(' ', '_')}",
                icon=icons.get(name),
                help=helps.get(name),
                on_click=apply_preset,
                args=(name,),
                width="stretch",
            )
        active_preset = current_preset()
        st.caption(f"Current settings: **{active_preset or 'custom'}**")

        for title, group in _grouped().items():
            with st.expander(title, expanded=title == "Optimisation"):
                for s in group:
                    _setting_widget(s)
