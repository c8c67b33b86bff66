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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st


def live_panel(body: Callable[..., None], *args: Any, every: float | None) -> None:
    """Draw `body(*args)`: as a fragment rerun every `every` seconds while that is set, else
    plainly, inside a container either way (a fragment draws into one), so that the page keeps
    the same shape when the panel stops polling."""
    if every is None:
        with st.container():
            body(*args)
    else:
        st.fragment(run_every=every)(body)(*args)
