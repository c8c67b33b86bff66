"""URL query parameters <-> Train settings (ui.train_form.query): dicts in, configs and notes
out, without Streamlit."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from mnist_core.train.config import TrainConfig, field_info
from mnist_core.train.recipes import PRESETS
from ui import keys
from ui.train_form.fields import (
    DEFAULT_MODEL,
    config_from_widgets,
    default_widget_values,
    option_defaults,
    recipe_values,
    widget_values,
)
from ui.train_form.query import desired_query_params, parse_query_params


def _config(params: dict[str, str]) -> tuple[TrainConfig, list[str]]:
    """What a link gives: the TrainConfig the form then describes, and the notes."""
    model, values, options, notes = parse_query_params(params)
    return config_from_widgets(widget_values(model, values, options)), notes


def test_no_parameters_give_the_default_recipe_without_notes() -> None:
    config, notes = _config({})
    assert notes == []
    # the form spells out the factory's option defaults that the recipe leaves implicit
    recipe_config = TrainConfig.for_model(DEFAULT_MODEL)
    want = replace(recipe_config, model_kwargs=option_defaults(DEFAULT_MODEL))
    assert config == want


def test_a_model_and_settings_are_read_with_their_types() -> None:
    config, notes = _config(
        {"model": "mlp", "epochs": "3", "lr": "0.01", "eval_test": "false", "hidden": "64,32"}
    )
    assert notes == []
    assert config.model == "mlp"
    assert config.epochs == 3 and isinstance(config.epochs, int)
    assert config.lr == pytest.approx(0.01)
    assert config.eval_test is False
    assert tuple(config.model_kwargs["hidden"]) == (64, 32)
    assert config.model_kwargs["dropout"] == pytest.approx(option_defaults("mlp")["dropout"])
    # untouched settings are the MLP recipe's, not the default architecture's
    assert config.label_smoothing == pytest.approx(recipe_values("mlp")["label_smoothing"])


@pytest.mark.parametrize("preset", ["quick look", "quick-look", "quick_look"])
def test_a_preset_applies_on_top_of_the_recipe(preset: str) -> None:
    _, values, _, notes = parse_query_params({"preset": preset})
    assert notes == []
    assert values == recipe_values(DEFAULT_MODEL, "quick look")
    assert values["train_subset"] == PRESETS["quick look"]["train_subset"]


def test_a_race_link_opens_its_own_architecture_and_widths() -> None:
    model, values, options, notes = parse_query_params({"model": "mlp", "preset": "speedrun-99.5"})
    assert notes == [] and model == "speednet"
    assert values == recipe_values("speednet", "speedrun 99.5")
    assert values["epochs"] == 4 and values["eval_every"] == 47
    assert tuple(options["widths"]) == (32, 64, 128)


@pytest.mark.parametrize(("text", "bound"), [("1e9", "max"), ("1e-12", "min"), ("-3", "min")])
def test_the_learning_rate_is_clamped_to_the_field_metadata(text: str, bound: str) -> None:
    limit = field_info("lr").metadata[bound]
    config, notes = _config({"lr": text})
    assert config.lr == pytest.approx(limit)
    word = "maximum" if bound == "max" else "minimum"
    assert notes == [
        f"Learning rate (peak): {float(text):g} in the link is "
        f"{'above' if bound == 'max' else 'below'} the {word} {limit:g}; using {limit:g}."
    ]


def test_every_numeric_range_is_the_config_metadata() -> None:
    for name in ("epochs", "batch_size", "momentum", "aug_rotation", "val_size"):
        hi = field_info(name).metadata["max"]
        _, values, _, notes = parse_query_params({name: str(hi * 10 + 1)})
        assert values[name] == hi, name
        assert len(notes) == 1 and "above the maximum" in notes[0], notes


def test_unreadable_values_are_refused_with_a_note_each() -> None:
    model, values, options, notes = parse_query_params(
        {
            "model": "nope",
            "epochs": "many",
            "optimizer": "rmsprop",
            "activation": "gelu",
            "colour": "blue",
            "preset": "fastest",
        }
    )
    assert model == DEFAULT_MODEL
    assert values == recipe_values(DEFAULT_MODEL)  # nothing refused got through
    assert options == option_defaults(DEFAULT_MODEL)
    assert len(notes) == 6, notes
    text = "\n".join(notes)
    assert "Unknown architecture 'nope'" in text
    assert "Unknown preset 'fastest'" in text
    assert "Epochs: 'many' in the link is not a whole number; ignored." in notes
    assert "Optimizer: 'rmsprop' in the link is not one of sgd, adam, adamw; ignored." in notes
    assert "Activation: ignored 'gelu' in the link (choose one of relu, tanh)." in notes
    assert "Ignored 'colour' in the link: there is no such setting." in notes


def test_architecture_options_are_clamped_or_refused() -> None:
    _, _, options, notes = parse_query_params({"model": "mlp", "dropout": "5", "hidden": "0"})
    assert options["dropout"] == pytest.approx(0.9)
    assert options["hidden"] == option_defaults("mlp")["hidden"]
    assert len(notes) == 2, notes
    assert notes[0].startswith("Dropout: 5 in the link is above the maximum 0.9")
    assert notes[1].startswith("Hidden layer sizes: ignored '0' in the link")


def test_the_default_form_gives_a_link_with_only_the_model() -> None:
    assert desired_query_params(default_widget_values()) == {"model": DEFAULT_MODEL}


def test_a_link_holds_what_differs_from_the_recipe_and_reads_back_the_same() -> None:
    state = default_widget_values()
    state.update(widget_values("mlp", recipe_values("mlp"), option_defaults("mlp")))
    state[keys.setting_key("lr")] = 0.02
    state[keys.setting_key("train_subset")] = 2000
    state[keys.option_key("mlp", "hidden")] = "512, 128"
    link = desired_query_params(state)
    assert link == {"model": "mlp", "lr": "0.02", "train_subset": "2000", "hidden": "512,128"}

    config, notes = _config(link)
    assert notes == []
    assert config == config_from_widgets(state)


def test_the_query_module_does_not_import_streamlit() -> None:
    code = "import sys, ui.train_form.query; print('streamlit' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False", out.stderr
