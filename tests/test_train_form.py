"""The Train form's words and choices (ui.train_form), without Streamlit: help that teaches,
errors in the sidebar's words, only the devices present (issue 11, items 11, 14 and 15)."""

from __future__ import annotations

import pytest
import torch

from mnist_core.errors import ConfigError
from mnist_core.machine import available_devices
from ui import keys
from ui.train_form import fields, labels
from ui.train_form.query import parse_query_params

SETTINGS = [s.name for s in fields.settings()]


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_has_help_that_teaches(name: str) -> None:
    s = fields.setting(name)
    text = s.help.lower()
    label = s.label.lower().rstrip(".")
    # More than its label ("Learning-rate schedule" -> "Learning-rate schedule." taught
    # nothing): what it does, a typical value, and what goes wrong either side.
    assert len(s.help) >= 3 * len(s.label) and len(s.help) >= 120, s.help
    assert text.rstrip(".") != label
    assert "typical" in text or "any whole number" in text, s.help
    if s.kind in ("int", "float", "optional_int") and name not in ("seed",):
        assert "too " in text, f"{name}: say what goes wrong when it is too high or too low"


@pytest.mark.parametrize("option", ["hidden", "dropout", "width", "depth", "activation", "pool"])
def test_every_architecture_option_has_help_that_teaches(option: str) -> None:
    text = labels.OPTION_HELP[option]
    assert len(text) >= 100 and len(text) >= 3 * len(labels.option_label(option)), text


def test_settings_that_do_nothing_are_hidden() -> None:
    state = {keys.setting_key("optimizer"): "adamw", keys.setting_key("loss"): "cross_entropy"}
    assert not fields.applies("momentum", state)
    assert fields.applies("label_smoothing", state)
    state[keys.setting_key("optimizer")] = "sgd"
    state[keys.setting_key("loss")] = "mse"
    assert fields.applies("momentum", state)
    assert not fields.applies("label_smoothing", state)
    assert fields.applies("compile", state) == torch.cuda.is_available()


def test_a_hidden_empty_setting_does_not_stop_a_run() -> None:
    state = fields.widget_values("lenet5", fields.recipe_values("lenet5"), None)
    state[keys.setting_key("momentum")] = None  # hidden under AdamW: its widget may be gone
    assert fields.config_from_widgets(state).optimizer == "adamw"


def test_config_errors_use_the_sidebars_words() -> None:
    state = fields.widget_values("lenet5", fields.recipe_values("lenet5"), None)
    state[keys.setting_key("train_subset")] = 100
    state[keys.setting_key("batch_size")] = 200
    with pytest.raises(ConfigError) as info:
        fields.config_from_widgets(state)
    message = str(info.value)
    assert "Batch size 200" in message and "Training images" in message, message
    assert "batch_size" not in message and "train_subset" not in message


def test_field_names_become_labels_once() -> None:
    words = labels.in_form_words(
        "train_subset 60000 is more than the 55000 images left after holding out val_size=5000."
    )
    assert words == (
        "Training images 60000 is more than the 55000 images left after holding out "
        "Validation images 5000."
    )


def test_only_present_devices_are_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CPU-only server, whatever this machine has: its detection is the edge mocked here.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert available_devices() == ("auto", "cpu")
    assert fields.setting("device").choices == ("auto", "cpu")
    _, values, _, notes = parse_query_params({"device": "cuda"})
    assert values["device"] == "auto"
    assert notes == [
        "Device: 'cuda' in the link is not available on this server (it offers auto, cpu); "
        "using auto."
    ]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert "cuda" in fields.setting("device").choices
    assert parse_query_params({"device": "cuda"})[1]["device"] == "cuda"


def test_the_race_check_help_says_how_often_the_race_checks() -> None:
    """Issue 27, item 12: it said "every tenth of an epoch"; the preset checks every 24 of an
    epoch's 469 steps."""
    from ui.train_form.labels import HELP

    assert "the Race to 99% checks every 24 steps, about 20 times an epoch" in HELP["eval_every"]
