"""Imported once by `app.py`'s lifespan while the server starts, before it answers its health
check: torch alone takes ~1 s to import on a 2-core CPU, and the first visitor would otherwise
wait for it (first page 3.0 s -> 1.5 s, bench/first_render.py)."""

import gc

# pandas before any session thread: plotly imports it on a figure's first use, and meanwhile
# hands other threads the half-imported module from sys.modules ("partially initialized module
# 'pandas' has no attribute 'Series"): 5 live-chart errors with four visitors on a fresh server
# (python -m bench cloud); tests/test_preload.py reproduces it without this import.
import pandas  # noqa: F401
import plotly.graph_objects  # noqa: F401

# scikit-learn's t-SNE, which the Inside page starts in the background on its first model
# (0.8 s to import here, once; `mnist_core.explain.embedding.tsne_in_background`).
import sklearn.manifold  # noqa: F401

# torch, and torch._dynamo, which the first optimiser a process builds imports: 4.8 s of
# the first training run's start-up on a busy 2-core CPU (python -m bench startup).
import torch._dynamo  # noqa: F401

import ui.resources
import ui.shell
import ui.train.sidebar
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


def start_background_work() -> None:
    """What the server computes ahead while it waits for its first visitor, in daemon
    threads: the pretrained models' evaluations on the test set (`ui.resources`), which the
    Mistakes page otherwise computed on a visitor's first look (ResNet 4.6 s, LeNet-5 2.6 s on
    a 2-core CPU, `python -m bench feel --only mistakes`; issue 29). Stored on disk, so a
    restarted server reads them back instead.

    And the job manager, whose executor starts its warm training process now (torch
    imported there, `mnist_core.jobs.executors.process`) rather than on the first page: a
    fresh server's first Start waited for it, 4.95-5.26 s to the chart's first point, 0.65 s
    once started here (`python -m bench feel --only train --repeats 1`, 2-core CPU, busy).
    Under the hosted demo's memory caps "auto" trains in the server's own threads
    (`mnist_core.machine.small_container`): nothing is started there."""
    ui.resources.get_manager()
    ui.resources.warm_pretrained_evaluations()


def freeze_imported_objects() -> None:
    """Leave what the imports above made out of every later garbage collection.

    Streamlit collects garbage fully (`gc.collect(2)`) after every script run, a page's, a
    fragment's or a live panel's refresh alike (its `runner.postScriptGC`), and until that has
    finished the server sends nothing else: ~0.16 s a run on this 2-core CPU, most of it
    walking the ~315,000 objects of torch, plotly, pandas and scikit-learn's modules, which live
    as long as the process anyway (issue 29; a py-spy profile of page switches in Chromium put
    77% of the script thread's samples there). Frozen, that collection takes microseconds and
    still frees what the runs leave behind."""
    gc.collect(2)
    gc.freeze()
