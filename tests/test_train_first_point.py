"""The Train page's first draw of a run that has just started waits for its first loss point
(`ui.train.jobs.with_first_point`, issue 29: the point came a second later, at the next refresh)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist_core.train.config import TrainConfig


def test_a_run_just_started_is_shown_with_its_first_loss_point(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mnist_dir: Path
) -> None:
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MNIST_CHECKPOINTS_DIR", str(tmp_path / "pretrained"))
    monkeypatch.setenv("MNIST_DATA_DIR", str(mnist_dir))
    monkeypatch.setenv("MNIST_EXECUTOR", "thread")
    from ui.resources import get_manager, shutdown
    from ui.train.jobs import FIRST_POINT_WAIT_S, with_first_point

    try:
        manager = get_manager()
        job_id = manager.submit(TrainConfig.for_model("mlp", epochs=20), "visitor")
        snap = with_first_point(manager.snapshot(job_id))
        # Its first point, unless it took longer than the wait allows (a busy machine).
        assert snap.steps or snap.elapsed_s >= FIRST_POINT_WAIT_S
        if snap.steps:
            assert snap.steps[0].step == 1
        later = with_first_point(snap)  # an older run, or one with points: no wait
        assert later is snap
    finally:
        shutdown()
