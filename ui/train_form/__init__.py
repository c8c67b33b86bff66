"""The training settings as the app shows them, shared by the Train page's form (`ui.train`),
the Compare page and the Models page: labels and help, the settings' kinds, ranges and
defaults, and URL query parameters <-> TrainConfig.

Everything is generated from the engine's own definitions: the architectures and their options
(`mnist_core.models`), the fields of `TrainConfig` with their help, ranges and choices
(`field_info`), the tuned recipe of each architecture and the presets (`mnist_core.train.recipes`).
A field the engine adds later gets a widget and a query parameter without a change here.

    labels      how settings are shown to people: labels, help texts, groups, steps
    fields      the settings described once (kind, range, default), recipes, widget defaults
    query       URL query parameters <-> settings (pure: no Streamlit, tested on dicts)

The form's widget state (`ui.train.form_state`) and its drawing (`ui.train.sidebar`) are the
Train page's own.
"""
