"""Start here: the landing page (`/`): what the playground is, a three-step path, the lessons
that run the tutorials' experiments live, and the glossary the other pages' help links to."""

from __future__ import annotations

import streamlit as st

from ui.errors import friendly_errors
from ui.shell import page_guard
from ui.start import intro, lessons
from ui.widgets import load_chart_code


def main() -> None:
    if st.query_params.to_dict():
        # A link to a training setup made before Train moved off the root (/?model=lenet5…):
        # it still opens Train with those settings.
        st.switch_page("pages/train.py", query_params=st.query_params.to_dict())
    intro.intro()
    lessons.render()
    intro.glossary()
    load_chart_code()


if page_guard():
    with friendly_errors("showing the Start here page"):
        main()
