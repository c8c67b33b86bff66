"""The Train page's settings form: sidebar widgets, URL query parameters and the TrainConfig.

Everything is generated from the engine's own definitions: the architectures and their options
(`mnist_core.models`), the fields of `TrainConfig` with their help, ranges and choices
(`field_info`), the tuned recipe of each architecture and the presets (`mnist_core.train.recipes`).
A field the engine adds later gets a widget and a query parameter without a change here.

    labels      how settings are shown to people: labels, help texts, groups, steps
    fields      the settings described once (kind, range, default), recipes, widget defaults
    query       URL query parameters <-> settings (pure: no Streamlit, tested on dicts)
    form_state  the widgets' session state: presets, reading it into a TrainConfig, the URL
    sidebar     drawing the widgets
"""
