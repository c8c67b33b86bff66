"""Imported once by `app.py`'s lifespan while the server starts, before it answers its health
check: torch alone takes ~1 s to import on a 2-core CPU, and the first visitor would otherwise
wait for it (first page 3.0 s -> 1.5 s, bench/first_render.py)."""

# pandas before any session thread: plotly imports it on a figure's first use, and meanwhile
# hands other threads the half-imported module from sys.modules ("partially initialized module
# 'pandas' has no attribute 'Series"): 5 live-chart errors with four visitors on a fresh server
# (python -m bench cloud); tests/test_preload.py reproduces it without this import.
import pandas  # noqa: F401
import plotly.graph_objects  # noqa: F401

# torch, and torch._dynamo, which the first optimiser a process builds imports: 4.8 s of
# the first training run's start-up on a busy 2-core CPU (python -m bench startup).
import torch._dynamo  # noqa: F401

import ui.resources
import ui.shell
import ui.train.sidebar  # noqa: F401
from mnist_core.jobs.executors.choose import resolve_kind
from mnist_core.machine import device_name, fit_threads_to_cpus, memory_summary
from mnist_core.settings import settings

# torch sizes its thread pool from the host's cores, not the container's CPU quota: capped here,
# once, before any session or job thread starts (they inherit the count).
fit_threads_to_cpus()


def startup_line(seconds: float) -> str:
    """The server's first log line once this module is imported: what it found and chose
    (docs/deploy.md's first-deploy checklist looks for it)."""
    kind, reason = resolve_kind(settings().executor)
    where = f"{kind}" + (f", for {reason}" if reason else "")
    return (
        f"ready: torch and the app's modules imported in {seconds:.1f} s; device "
        f"{device_name()}; jobs train in: {where}; {memory_summary()}"
    )
