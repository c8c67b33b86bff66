"""Drawing the Train form in the sidebar: architecture, its options, presets, every setting.

Ranges come from `ui.train_form.fields` (the config's field metadata); words from
`ui.train_form.labels`; the widgets' state is `form_state`.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from mnist_core.errors import ConfigError, MnistError
from mnist_core.models import (
    count_parameters,
    create_model,
    describe_model,
    get_spec,
    list_models,
)
from mnist_core.train.recipes import PRESETS
from ui import keys
from ui.train import form_state
from ui.train_form import fields
from ui.train_form.labels import (
    CHOICE_LABELS,
    FLOAT_STEPS,
    INT_STEPS,
    OPTION_HELP,
    PRESET_HELP,
    PRESET_ICONS,
    PRESET_LABELS,
    option_label,
)

PERSIST = "session"  # widget values survive a visit to another page


@st.cache_data(show_spinner=False, max_entries=256)
def model_facts(model: str, options_json: str) -> tuple[int, str] | None:
    """Parameter count and layer description of the model these options build (None when
    they build none): read from the built model, so they are true for any options."""
    try:
        net = create_model(model, **json.loads(options_json))
    except MnistError:
        return None
    return count_parameters(net), describe_model(net)


def _setting_widget(s: fields.Setting, disabled: bool = False) -> None:
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
    label = option_label(opt)
    common: dict[str, Any] = {
        "key": keys.option_key(model, opt),
        "help": OPTION_HELP.get(opt),
        "persist_state": PERSIST,
    }
    if isinstance(default, tuple | list):
        st.text_input(
            label, placeholder="e.g. 16, 32, 64" if opt == "widths" else "e.g. 256, 64", **common
        )
    elif isinstance(default, bool):
        st.toggle(label, **common)
    elif opt in fields.OPTION_CHOICES:
        st.selectbox(label, fields.OPTION_CHOICES[opt], **common)
    elif isinstance(default, float):
        lo, hi = fields.OPTION_RANGES.get(opt, (0.0, 1.0))
        st.slider(label, min_value=float(lo), max_value=float(hi), step=0.05, **common)
    elif isinstance(default, int):
        lo, hi = fields.OPTION_RANGES.get(opt, (0, 4096))
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
        st.selectbox(
            "Architecture",
            list_models(),
            format_func=lambda m: get_spec(m).title,
            key=keys.TRAIN_MODEL,
            on_change=form_state.on_model_change,
            persist_state=PERSIST,
            help="Changing it loads that architecture's tuned settings.",
        )
        model = ss[keys.TRAIN_MODEL]
        spec = get_spec(model)
        try:
            facts = model_facts(model, json.dumps(form_state.model_options(), sort_keys=True))
        except ConfigError:
            facts = None
        if facts is None:
            st.caption(f"**? parameters** (invalid options) · {spec.description}")
        else:
            st.caption(f"**{facts[0]:,} parameters** · {spec.description}\n\n{facts[1]}")
        defaults = fields.option_defaults(model)
        if defaults:
            with st.expander(f"{spec.title} options", expanded=False):
                for opt, default in defaults.items():
                    _option_widget(model, opt, default)

        st.subheader("Presets", anchor=False)
        for name in PRESETS:
            st.button(
                PRESET_LABELS.get(name, name.capitalize()),
                key=keys.preset_key(name),
                icon=PRESET_ICONS.get(name),
                help=PRESET_HELP.get(name),
                on_click=form_state.apply_preset,
                args=(name,),
                width="stretch",
            )
        preset = form_state.current_preset()
        shown = PRESET_LABELS.get(preset, preset) if preset else "custom"
        st.caption(f"Current settings: **{shown}**")

        for title, group in fields.grouped().items():
            with st.expander(title, expanded=title == "Optimisation"):
                for s in group:
                    if fields.applies(s.name, ss):
                        _setting_widget(s)
