"""The job state fold without threads: synthetic events in, exact JobSnapshots out."""

from __future__ import annotations

import pytest

from mnist_core.jobs.snapshot import EVAL_SPEEDUP, JobState, LrChange, seconds_left
from mnist_core.train.config import TrainConfig
from mnist_core.train.events import EpochMetrics, RunEnded, RunStarted, StepMetrics

# 2 epochs of 10 steps, 1000 training images of batch 100, 500 validation, 10,000 test.
CONFIG = TrainConfig.for_model("mlp", train_subset=1000, val_size=500, batch_size=100, epochs=2)
SPEEDUP = EVAL_SPEEDUP["mlp"]  # evaluation throughput / training throughput, until measured
STARTED = RunStarted("cpu", "CPU", 1000, 1000, 500, 10_000, steps_per_epoch=10, total_steps=20)


def step(n: int, seconds: float, rate: float = 1000.0) -> StepMetrics:
    return StepMetrics(n, n / 10, 1.0, 1e-3, rate, seconds)


def epoch(n: int, train_s: float, eval_s: float) -> EpochMetrics:
    return EpochMetrics(n, 10 * n, 0.5, 0.9, 0.4, 0.91, 0.92, train_s, eval_s)


def running() -> JobState:
    state = JobState(CONFIG, job_id="j", owner="ann", name="mlp #1", created=5.0)
    assert state.start(now=100.0)
    state.apply(STARTED, now=100.0)
    return state


def test_a_new_job_is_queued_with_the_configs_step_count() -> None:
    snap = JobState(CONFIG, job_id="j", owner="ann", name="mlp #1", created=5.0).snapshot(50.0)
    assert (snap.status, snap.message, snap.step, snap.total_steps) == ("queued", "Queued", 0, 20)
    assert snap.elapsed_s == 0.0 and snap.eta_s is None and snap.lr == CONFIG.lr
    assert snap.created == 5.0 and snap.queue_position is None and snap.progress == 0.0


def test_steps_and_epochs_fold_into_progress_messages_and_time_left() -> None:
    state = running()
    assert state.snapshot(100.0).message == "Running"
    for n in range(1, 6):
        state.apply(step(n, n * 0.1), now=100.0 + n)
    snap = state.snapshot(now=106.0)
    assert snap.step == 5 and snap.epoch == 0.5 and snap.elapsed_s == 6.0
    assert len(snap.steps) == 5 and snap.images_per_s == 1000.0
    # 10 steps/s: 15 steps left = 1.5 s; no epoch measured yet, so each of the 2 evaluations
    # (500 + 10,000 images at SPEEDUP x the training throughput of 1,000 images/s, eval_test
    # on) is guessed. The latest step came 1 s ago: that second is counted off.
    assert snap.eta_s == pytest.approx(1.5 - 1.0 + 2 * 10_500 / (1000 * SPEEDUP))
    state.apply(step(10, 1.0), now=107.0)
    assert state.snapshot(107.0).message == "Evaluating epoch 1"
    state.apply(epoch(1, 1.0, eval_s=3.0), now=110.0)
    snap = state.snapshot(110.0)
    assert snap.message == "Running" and snap.epochs[-1].val_accuracy == 0.91
    # Measured now: 3 s per evaluation, one epoch to go; the rate since the first point.
    assert snap.eta_s == pytest.approx(10 / ((10 - 1) / (1.0 - 0.1)) + 3.0)
    assert snap.test_accuracy == 0.92


def test_the_last_epoch_announces_the_final_test_when_epochs_skip_it() -> None:
    config = CONFIG.replace(eval_test=False)
    state = JobState(config, job_id="j", owner="ann", name="mlp #1", created=0.0)
    state.start(0.0)
    state.apply(STARTED, 0.0)
    state.apply(step(20, 2.0), 1.0)
    # No test evaluation per epoch: only the final one, guessed from the training throughput.
    assert state.snapshot(1.0).eta_s == pytest.approx((2 * 500 + 10_000) / (1000 * SPEEDUP))
    state.apply(epoch(2, 2.0, 0.5), 2.0)
    assert state.snapshot(2.0).message == "Measuring the test accuracy"


def test_pause_resume_and_stop_transitions() -> None:
    state = running()
    state.apply(step(3, 0.3), 101.0)
    assert state.pause() and not state.pause()
    assert state.snapshot(102.0).message == "Paused at step 3"
    assert state.snapshot(102.0).eta_s is not None  # paused is still active
    state.note("Running")  # the worker's notes do not overwrite a paused message
    assert state.snapshot(102.0).status == "paused"
    assert state.resume() and not state.resume()
    assert state.request_stop("Stopped: no heartbeat.", now=103.0) == "stopping"
    assert state.request_stop(None, now=103.0) is None  # already stopping
    assert state.snapshot(103.0).message == "Stopping…"
    state.apply(RunEnded("stopped", "Stopped at step 3 of 20.", 3, 0, 0.3, 0.0, None, None), 104.0)
    snap = state.snapshot(now=200.0)
    assert snap.status == "stopped" and snap.done and not snap.active
    assert snap.message == "Stopped: no heartbeat." and snap.elapsed_s == 4.0
    assert snap.eta_s is None and snap.progress == 3 / 20
    assert not state.start(300.0) and not state.pause()


def test_a_queued_job_stops_at_once_and_never_starts() -> None:
    state = JobState(CONFIG, job_id="j", owner="ann", name="mlp #1", created=0.0)
    assert state.request_stop(None, now=7.0) == "stopped"
    snap = state.snapshot(9.0)
    assert (snap.status, snap.message, snap.elapsed_s) == (
        "stopped",
        "Stopped before it started.",
        0.0,
    )
    assert not state.start(10.0)


def test_a_finished_event_waits_for_the_save_and_diverged_ends_at_once() -> None:
    state = running()
    state.apply(step(20, 2.0), 102.0)
    state.apply(epoch(2, 2.0, 1.0), 103.0)
    ended = RunEnded("finished", "Finished 2 epochs.", 20, 2, 2.0, 1.0, 0.93, 0.91)
    state.apply(ended, 104.0)
    assert state.snapshot(104.0).status == "running"  # not finished before it is saved
    assert state.snapshot(104.0).epoch == 2.0 and state.snapshot(104.0).test_accuracy == 0.93
    state.checkpoint_id = "runs/ann/mlp-1"
    state.finish("finished", ended.message, now=105.0)
    snap = state.snapshot(500.0)
    assert snap.status == "finished" and snap.progress == 1.0 and snap.elapsed_s == 5.0
    assert snap.checkpoint_id == "runs/ann/mlp-1"

    diverging = running()
    message = "Training diverged: the loss became nan at step 4. Lower the learning rate."
    diverging.apply(RunEnded("diverged", message, 4, 0, 0.4, 0.0, None, None), 101.0)
    assert diverging.snapshot(101.0).status == "diverged"
    assert diverging.snapshot(101.0).message == message


def test_failure_keeps_the_error_and_traceback() -> None:
    state = running()
    state.fail("boom", "Training failed with an unexpected error: RuntimeError: boom", "tb", 101.0)
    snap = state.snapshot(200.0)
    assert snap.status == "failed" and snap.error == "boom" and snap.traceback == "tb"
    assert snap.elapsed_s == 1.0


def test_checkpoint_metrics_of_a_run_stopped_mid_epoch() -> None:
    state = running()
    for n in (5, 10):
        state.apply(step(n, n * 0.1), 101.0)
    state.apply(epoch(1, 1.0, 2.0), 102.0)
    state.apply(step(13, 1.3), 103.0)
    metrics = state.metrics(test_accuracy=0.9)
    # 1 whole epoch (1000 images) + 3 batches of 100, in 1.3 s of training.
    assert metrics["images_per_s"] == pytest.approx(1300 / 1.3)
    assert metrics["steps"] == 13 and metrics["epochs"] == 1 and metrics["status"] == "running"
    assert metrics["val_accuracy"] == 0.91 and metrics["eval_seconds"] == 2.0
    assert metrics["train_seconds"] == 1.3 and metrics["job_name"] == "mlp #1"


def test_seconds_left_is_unknown_without_a_rate() -> None:
    assert seconds_left(CONFIG, STARTED, [], [], 0) is None
    assert seconds_left(CONFIG, STARTED, [step(0, 0.0)], [], 0) is None


def test_lr_changes_and_pauses_are_kept_for_the_checkpoint() -> None:
    """Issue 11 item 10: the checkpoint of a run records what changed while it ran."""
    state = running()
    state.apply(step(5, 0.5), 101.0)
    state.set_lr(CONFIG.lr)  # the same rate again is no change
    state.set_lr(CONFIG.lr / 10)
    assert state.pause()
    assert state.resume()
    state.apply(step(13, 1.3), 103.0)
    assert state.snapshot(103.0).lr == CONFIG.lr / 10
    metrics = state.metrics(test_accuracy=0.9)
    assert metrics["lr_changes"] == [{"step": 5, "from": CONFIG.lr, "to": CONFIG.lr / 10}]
    assert metrics["pauses"] == [5]
    assert metrics["epochs_planned"] == 2 and metrics["epochs_trained"] == pytest.approx(1.3)
    assert metrics["total_steps"] == 20


# ---- the time-left estimate (issue 11, item 22) -------------------------------------------

# 5 epochs of 100 steps; the evaluations measure 500 validation + 10,000 test images.
LONG = CONFIG.replace(epochs=5, log_every=10)
LONG_STARTED = RunStarted("cpu", "CPU", 1000, 1000, 500, 10_000, 100, 500)


def _steps(until: int, per_step_s: float = 0.01, start: int = 10) -> list[StepMetrics]:
    return [
        StepMetrics(n, n / 100, 1.0, 1e-3, 1000 / (10 * per_step_s), n * per_step_s)
        for n in range(start, until + 1, 10)
    ]


def test_time_left_counts_down_between_events_and_not_while_paused() -> None:
    """It stood still between events and then jumped; now it counts the time gone by off."""
    state = JobState(LONG, job_id="j", owner="ann", name="mlp #1", created=0.0)
    state.start(0.0)
    state.apply(LONG_STARTED, 0.0)
    for s in _steps(50):
        state.apply(s, now=s.train_seconds)
    at_event = state.snapshot(0.5).eta_s
    assert at_event is not None
    assert state.snapshot(0.8).eta_s == pytest.approx(at_event - 0.3)
    assert state.pause(now=0.8)
    assert state.snapshot(5.0).eta_s == pytest.approx(at_event - 0.3)  # paused: no countdown
    assert state.resume(now=5.0)
    assert state.snapshot(5.1).eta_s == pytest.approx(at_event - 0.4)


def test_time_left_counts_down_an_evaluation_instead_of_jumping_at_its_end() -> None:
    state = JobState(LONG, job_id="j", owner="ann", name="mlp #1", created=0.0)
    state.start(0.0)
    state.apply(LONG_STARTED, 0.0)
    for s in _steps(100):
        state.apply(s, now=s.train_seconds)
    # The end-of-epoch evaluation is under way; at the training throughput of 10,000 images/s
    # and SPEEDUP x that when evaluating, 10,500 images take `guess` s.
    guess = 10_500 / (10_000 * SPEEDUP)
    during = [state.snapshot(1.0 + dt).eta_s for dt in (0.0, 0.03, 0.06)]
    assert during[0] - during[1] == pytest.approx(0.03)
    assert during[1] - during[2] == pytest.approx(0.03)
    # It took 0.08 s: once measured, the estimate is where the countdown left it, give or take
    # the difference on the 4 evaluations still to come (and the 0.02 s after the last sample).
    state.apply(EpochMetrics(1, 100, 0.5, 0.9, 0.4, 0.91, 0.92, 1.0, 0.08), now=1.08)
    after = state.snapshot(1.08).eta_s
    assert abs(after - during[2]) <= 0.02 + 4 * abs(0.08 - guess) + 1e-9


def test_one_slow_window_barely_moves_the_time_left() -> None:
    """The rate of the last 5 windows made one slow window (a busy CPU) swing the estimate
    (26 s, then 2.5 s a second later); the rate over 30 s of training does not."""
    steady = _steps(2000, per_step_s=0.1)[:20]  # 200 steps at 10 steps/s: 20 s
    slow = StepMetrics(210, 2.1, 1.0, 1e-3, 100.0, steady[-1].train_seconds + 10 * 1.0)
    config = CONFIG.replace(epochs=50, log_every=10)
    # no evaluations, to see the training part alone
    started = RunStarted("cpu", "CPU", 1000, 1000, 0, 0, 100, 5000)
    before = seconds_left(config, started, steady, [], 200)
    after = seconds_left(config, started, [*steady, slow], [], 210)
    assert before is not None and after is not None
    assert after / before < 1.5  # one window at a tenth of the speed: under 50% longer


def test_learning_rate_changes_are_recorded_with_their_step() -> None:
    """Issue 11, item 20: the charts mark a mid-run change of the learning rate."""
    state = running()
    state.apply(step(3, 0.3), 101.0)
    state.set_lr(CONFIG.lr)  # the same rate: no change
    state.set_lr(0.005)
    state.apply(step(6, 0.6), 102.0)
    state.set_lr(0.001)
    snap = state.snapshot(103.0)
    assert snap.lr == 0.001
    assert snap.lr_changes == (LrChange(3, CONFIG.lr, 0.005), LrChange(6, 0.005, 0.001))
