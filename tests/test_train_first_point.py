"""The Train page's first draw of a run that has just started waits for its first loss point
(`ui.train.jobs.with_first_point`, issue 29: the point came a second later, at the next refresh)."""

from __future__ import annotations

from collections.abc import Callable

from mnist_core.train.config import TrainConfig


def test_a_run_just_started_is_shown_with_its_first_loss_point(
    server_folders: Callable[[str], None],
) -> None:
    server_folders("thread")
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
