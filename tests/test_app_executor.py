"""The app with its default executor (AppTest): a job started on Train trains in a warm child
process, the sidebar says so, Train shows its progress, and Stop reaches the child."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_app import (  # noqa: F401  (fixtures)
    app_env,
    assert_clean,
    manager_snapshot,
    new_app,
    pretrained_dir,
    start_a_run_that_lasts,
    texts,
    wait_done,
    wait_for,
)


@pytest.fixture
def process_app(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:  # noqa: F811
    monkeypatch.setenv("MNIST_EXECUTOR", "process")
    yield app_env
    from ui.resources import get_executor, get_manager

    manager, executor = get_manager(), get_executor()
    manager.shutdown(timeout=30)
    executor.shutdown()  # shared by the app's managers: ended here, with its children


def test_a_job_trains_in_a_child_process_and_stops_from_the_page(process_app: Path) -> None:
    at = new_app()
    at.switch_page("pages/train.py").run()
    assert_clean(at)
    job_id = start_a_run_that_lasts(at)
    from ui.resources import get_executor, get_manager

    executor = get_executor()
    assert executor.kind == "process"
    wait_for(lambda: manager_snapshot(at).step >= 2, at, 120, "two steps in the child")
    worker = executor.worker_of(job_id)
    assert worker is not None and worker.alive() and worker.pid != os.getpid()
    assert "**Jobs train in** this machine's processes (1 training" in texts(at.sidebar.caption)
    model = get_manager().model_copy(job_id)  # the weights of the child, mid-run
    assert model is not None and not model.training
    at.button(key="train_stop").click().run()
    wait_done(at, 60, "the stop to reach the child")
    assert manager_snapshot(at).status == "stopped"
    assert_clean(at)
    # One child stays warm for the next job (the job's own, or the standby started meanwhile);
    # more would only hold memory.
    deadline = time.monotonic() + 30
    while executor.idle_workers() != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert executor.idle_workers() == 1 and executor.worker_of(job_id) is None


@pytest.fixture
def unreachable_cluster_app(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:  # noqa: F811
    monkeypatch.setenv("MNIST_EXECUTOR", "ray")
    monkeypatch.setenv("MNIST_RAY_ADDRESS", "ray://127.0.0.1:9")  # nothing listens on port 9
    yield app_env
    from ui.resources import get_executor

    get_executor().shutdown()


@pytest.mark.ray
def test_an_unreachable_cluster_is_said_in_the_sidebar_and_jobs_train_here(
    unreachable_cluster_app: Path,
) -> None:
    at = new_app()
    at.run()
    assert_clean(at)
    [warning] = [w.value for w in at.sidebar.warning]
    assert "Could not reach the Ray cluster at 'ray://127.0.0.1:9'" in warning
    assert "Jobs train in this machine's processes instead." in warning
    assert "**Jobs train in** this machine's processes" in texts(at.sidebar.caption)


@pytest.fixture
def ray_app(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:  # noqa: F811
    import ray

    assert not ray.is_initialized()  # the app starts its own, as MNIST_EXECUTOR=ray says
    monkeypatch.setenv("MNIST_EXECUTOR", "ray")
    yield app_env
    from ui.resources import get_executor, get_manager

    get_manager().shutdown(timeout=30)
    get_executor().shutdown()
    ray.shutdown()


@pytest.mark.ray
@pytest.mark.slow
def test_with_ray_a_job_trains_on_an_actor_started_from_a_page_run(ray_app: Path) -> None:
    """The local cluster is started inside a page run, in a thread that ends with the run:
    its services must outlive that thread (they are started from one of their own)."""
    at = new_app()
    at.switch_page("pages/train.py").run()
    assert_clean(at)
    assert "**Jobs train in** the Ray cluster: 1 node" in texts(at.sidebar.caption)
    at.button(key="train_preset_quick_look").click().run()
    at.button(key="train_start").click().run()
    wait_done(at, 180, "the quick look to finish on Ray")
    snap = manager_snapshot(at)
    assert snap.status == "finished" and snap.checkpoint_id, snap.message
    assert_clean(at)
