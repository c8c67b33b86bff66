"""`live_panel`: a part of a page that refreshes itself while something trains, and sits still
(as plain elements) once it is done.

Why not a fragment all along (issue 30, measured in Chromium on the Train page): a fragment
that polls is rerun by a timer in the browser, and a timer tick that reaches the server while a
full run of the page is under way is queued behind it. When that queued fragment run starts,
Streamlit drops the full run's elements of that fragment that it had not yet sent to the
browser, but still tells the browser that the full run finished; the browser then clears those
elements as stale, and the fragment run sends them again a moment later. At a run's end (the
panel asks for a full run to redraw the buttons) the charts left the page for 0.1-0.4 s, and
Train's loss-scale control came back with nothing chosen; with Train's former 0.3-s refresh,
slower than the panel's own run (~0.4 s here), a tick was always queued, so this happened at
most runs' ends. A done panel drawn as plain elements has no fragment id: nothing of it can be
dropped, and the tick that may still be queued finds no fragment and is skipped.

Why every body starts with `slots` (issue 27, item 1): a tab went white mid-run with
"Bad delta path index 3 (should be between [0, 1])" in the console, which Streamlit's frontend
throws when a delta names a child past the end of a container it holds. A panel whose runs
drew a varying number of elements at its top (one line when the job was gone, three parts
otherwise; a warning only sometimes) gave the frontend's copy and the server's next run
different trees to disagree on. So a panel's top level is now the same few empty containers in
every run, whatever the state, and what varies is drawn inside them; `tests/test_live_shape.py`
checks this for every live panel in the states a visitor meets.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


def live_panel(body: Callable[..., None], *args: Any, every: float | None, key: str) -> None:
    """Draw `body(*args)`: as a fragment rerun every `every` seconds while that is set, else
    plainly, inside a container either way (a fragment draws into one), so that the page keeps
    the same shape when the panel stops polling. `key` names the panel's own container (CSS
    class `st-key-<key>`; tests find the panel by it)."""

    @functools.wraps(body)  # the fragment's id comes from the body's name, as before
    def keyed() -> None:
        with st.container(key=key):
            body(*args)

    if every is None:
        with st.container():
            keyed()
    else:
        st.fragment(run_every=every)(keyed)()


def slots(n: int) -> tuple[DeltaGenerator, ...]:
    """`n` empty containers, drawn first by a live panel's body in every run, so that its top
    level has the same shape whatever it then shows (see the module's note)."""
    return tuple(st.container() for _ in range(n))
