"""MNIST Playground: train, inspect and draw against MNIST models, live in the browser.

Run with:  streamlit run app.py
"""

from __future__ import annotations

import logging

import streamlit as st

from ui.errors import show_error
from ui.sidebar import render_sidebar
from ui.state import init_state

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(
    page_title="MNIST Playground",
    page_icon=":material/draw:",
    layout="wide",
    initial_sidebar_state="expanded",
    menu_items={"About": "MNIST Playground: train, inspect and draw against MNIST models."},
)

PAGES = [
    st.Page(
        "pages/train.py",
        title="Train",
        icon=":material/model_training:",
        url_path="train",
        default=True,
    ),
    st.Page("pages/mistakes.py", title="Mistakes", icon=":material/grid_on:", url_path="mistakes"),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
    st.Page("pages/models.py", title="Models", icon=":material/inventory_2:", url_path="models"),
]

init_state()
page = st.navigation(PAGES)
try:
    render_sidebar()
    page.run()
except Exception as e:  # the pages catch their own errors; this is the last line of defence
    show_error(e, f"showing the {page.title} page")
