"""Scenario 1: every page loads and shows no exception text."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

# sidebar title -> (url path, the page's st.title)
PAGES = {
    "Start here": ("", "Start here"),
    "Train": ("train", "Train a model"),
    "Mistakes": ("mistakes", "Mistakes"),
    "Draw": ("draw", "Draw a digit"),
    "Inside": ("inside", "Inside the network"),
    "Models": ("models", "Models"),
    "Compare": ("compare", "Compare"),
}


def _check_page(st, title: str) -> None:
    heading = PAGES[title][1]
    expect(st.main.locator("h1")).to_have_text(heading)
    st.assert_no_errors()


def test_every_page_loads_through_the_sidebar(st) -> None:
    st.open("/")
    expect(st.main.locator("h1")).to_have_text("Start here")  # the landing page (issue 28)
    for title, (path, _) in PAGES.items():
        st.nav(title, path)
        _check_page(st, title)
        st.shot(title)


@pytest.mark.parametrize("title", list(PAGES))
def test_every_page_loads_from_its_url(st, title: str) -> None:
    st.open(PAGES[title][0])
    _check_page(st, title)


def test_a_link_to_a_page_works_on_a_freshly_started_server(new_st, start_server) -> None:
    """The first visitor after a restart may come from a bookmark (e.g. /draw).

    Streamlit runs pages/<name>.py on its own (old multipage mode, without app.py) until some
    session has run app.py's st.navigation, when the folder is called pages/.
    """
    server = start_server("fresh")
    st = new_st("fresh", server=server)
    st.open("draw")
    _check_page(st, "Draw")
    expect(st.page.get_by_test_id("stSidebarNav").get_by_role("link")).to_have_count(len(PAGES))
