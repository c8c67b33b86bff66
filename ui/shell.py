"""The app's frame: page config, session state, navigation, the shared sidebar.

`app.py` calls `run_app()`. Every page file starts with `if page_guard():`, because Streamlit
runs a file of the `pages/` folder directly, without `app.py`, on the very first request of a
server process when that request's URL is a page's (e.g. a shared link to /draw), and in
`AppTest` after `switch_page`. The guard then runs the app itself, whose navigation runs the
page, so that every page always gets the page config, the initialised state and the sidebar.
"""

from __future__ import annotations

import logging
import threading

import streamlit as st

from mnist_core.storage.owners import HideOwnerFolders
from ui.errors import show_error
from ui.sidebar import render_sidebar
from ui.state import init_state

_local = threading.local()  # script runs of a session happen in that session's own thread


def _pages() -> list[st.Page]:
    # Start here is the root URL (issue 28: a first visit used to open on Train's sidebar of
    # settings, with nothing that said where to begin); Train lives at /train, so that a link to
    # a setup reads /train?model=…
    return [
        st.Page("pages/start.py", title="Start here", icon=":material/school:", default=True),
        st.Page(
            "pages/train.py", title="Train", icon=":material/model_training:", url_path="train"
        ),
        st.Page(
            "pages/mistakes.py", title="Mistakes", icon=":material/grid_on:", url_path="mistakes"
        ),
        st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
        st.Page("pages/inside.py", title="Inside", icon=":material/neurology:", url_path="inside"),
        st.Page(
            "pages/models.py", title="Models", icon=":material/inventory_2:", url_path="models"
        ),
        st.Page(
            "pages/compare.py",
            title="Compare",
            icon=":material/compare_arrows:",
            url_path="compare",
        ),
    ]


def run_app() -> None:
    """Set up the page, route to the page of the URL and run it."""
    st.set_page_config(
        page_title="MNIST Playground",
        page_icon=":material/draw:",
        layout="wide",
        # "auto": open on a wide screen, closed on a phone, where it covered 3/4 of the page on a
        # first visit (issue 27, item 8; the ☰ button opens it).
        initial_sidebar_state="auto",
        menu_items={"About": "MNIST Playground: train, inspect and draw against MNIST models."},
    )
    init_state()
    page = st.navigation(_pages())
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        render_sidebar()
        page.run()
    except Exception as e:  # the pages catch their own errors; this is the last line of defence
        show_error(e, f"showing the {page.title} page")
    finally:
        _local.depth -= 1


def in_app_run() -> bool:
    """True while the whole app runs (app.py, then a page); False in a fragment's rerun of its
    own, which runs the fragment's function alone."""
    return getattr(_local, "depth", 0) > 0


def page_guard() -> bool:
    """True when the calling page runs inside the app's navigation. Otherwise runs the app
    (which runs the page) and returns False: the caller then does nothing more."""
    if in_app_run():
        return True
    run_app()
    return False


def configure_logging() -> None:
    """Info and above to stderr, with visitors' folder names hidden in every record (and its
    traceback) that reaches the root logger's handlers."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, HideOwnerFolders) for f in handler.filters):
            handler.addFilter(HideOwnerFolders())
