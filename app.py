"""MNIST Playground: train, inspect and draw against MNIST models, live in the browser.

Run with:  streamlit run app.py

This file plays two parts. `streamlit run app.py` finds the `st.App` below and imports this
file as a module (`__name__ == "app"`) to serve it; its lifespan imports torch and the app's
modules once, while the server starts, so the first visitor does not wait for them (~1.3 s on
a 2-core CPU), and when the server stops it stops the training jobs between two steps and
closes their workers (`ui.resources.shutdown`). Each browser session then runs this file as
its script (`__name__ == "__main__"`), which draws the pages.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st

if __name__ == "__main__":  # a session's script run
    from ui.shell import configure_logging, run_app

    configure_logging()
    run_app()
else:  # imported by `streamlit run` (or an ASGI server) to serve the app
    from starlette.middleware import Middleware

    from ui.visitor import VisitorCookie

    @asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        """Import what the first page needs before the server answers; on the way out, stop
        the jobs and their workers (in a thread: it waits up to seconds for the jobs to end)."""
        started = time.perf_counter()
        import ui.preload
        from ui.resources import shutdown
        from ui.shell import configure_logging

        configure_logging()
        logging.getLogger("mnist_playground").info(
            ui.preload.startup_line(time.perf_counter() - started)
        )
        ui.preload.freeze_imported_objects()
        ui.preload.start_background_work()

        yield
        await asyncio.to_thread(shutdown)

    # VisitorCookie: a random visitor id in a cookie, so runs survive reloads and new tabs.
    app = st.App(__file__, lifespan=lifespan, middleware=[Middleware(VisitorCookie)])
