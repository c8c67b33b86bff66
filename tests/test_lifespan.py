"""The server's lifespan (`app.py`): when the server stops, it stops the training jobs between
two steps and closes their workers (`ui.resources.shutdown`), rather than leave the process's
end to kill them mid-step (issue 25, item 8). Driven as the server drives it, without a server."""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from mnist_core.jobs import JobError, JobManager
from mnist_core.train.config import TrainConfig


def test_the_lifespan_stops_the_jobs_when_the_server_stops(
    server_folders: Callable[[str], None],
) -> None:
    server_folders("thread")
    app = importlib.import_module("app")  # as `streamlit run app.py` imports it to serve it
    from ui.resources import get_manager

    config = TrainConfig.for_model("mlp", epochs=50)  # minutes: still training at the stop

    async def serve() -> tuple[JobManager, str]:
        async with app.lifespan(app.app):
            manager = get_manager()  # made by a visitor's first page, in the server's process
            job_id = manager.submit(config, "visitor")
            deadline = time.monotonic() + 60
            while manager.snapshot(job_id).step == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert manager.snapshot(job_id).status == "running"
        return manager, job_id

    # A thread of its own: the e2e tests' Playwright (sync API) keeps an event loop running in
    # the main thread for the whole session, and asyncio.run refuses to start inside one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        manager, job_id = pool.submit(asyncio.run, serve()).result()
    snap = manager.snapshot(job_id)
    assert snap.status == "stopped", snap
    assert "shutting down" in snap.message
    # Saved as a stopped run (issue 26, item 7): its visitor finds it after the restart.
    assert snap.checkpoint_id is not None
    assert [m.name for m in get_manager().store.list("visitor") if m.owner] == [snap.name]
    assert 0 < snap.step < snap.total_steps  # ended between two steps, not at the end
    with pytest.raises(JobError):
        manager.submit(config, "visitor")
    assert get_manager() is not manager  # forgotten: a new server would start afresh


def test_the_warm_training_process_starts_with_the_server(
    server_folders: Callable[[str], None],
) -> None:
    # A fresh server's first Start waited for the training process to import torch (issue 29):
    # it starts while the server waits for its first visitor, before any page asks for jobs,
    # and stops with the server.
    import multiprocessing

    server_folders("process")
    app = importlib.import_module("app")

    def workers() -> list[str]:
        return [p.name for p in multiprocessing.active_children() if p.is_alive()]

    async def serve() -> list[str]:
        async with app.lifespan(app.app):
            deadline = time.monotonic() + 60  # the child is started by a thread of its own
            while "mnist-training-worker" not in workers() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return workers()

    with ThreadPoolExecutor(max_workers=1) as pool:
        during = pool.submit(asyncio.run, serve()).result()
    assert "mnist-training-worker" in during
    # Closed with the server (one still importing torch closes itself once it answers).
    deadline = time.monotonic() + 60
    while "mnist-training-worker" in workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "mnist-training-worker" not in workers()
